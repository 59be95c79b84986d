package quality_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/internal/cputime"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// discard acknowledges messages at once and keeps nothing.
type discard struct{}

func (discard) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	pipeline.Completion(msgs, nil)
	return nil
}

// BenchmarkPipelineQuality measures what scorecard maintenance adds to the
// pipeline per record: the same 1000-record batches (4 % invalid, 3 %
// mismatched) through the pipeline without and with quality as observer.
// Compare the ns/record of the two (goal: under 5 % more). cpu-ns/record
// is the process's CPU time per record (all cores: the pipeline spreads a
// batch over them), what the goal is about; on a shared machine it moves
// far less with the load than the wall-clock ns/record.
func BenchmarkPipelineQuality(b *testing.B) {
	batch := make([]connectors.Record, 1000)
	for i := range batch {
		row := birth(i, fmt.Sprintf("0012240%05d", i), "Lan")
		switch {
		case i%25 == 0:
			row["child_dob"] = "2024-13-01"
		case i%33 == 0:
			row["child_name"] = "Lam"
		}
		batch[i] = rec(i, row)
	}
	for _, withQuality := range []bool{false, true} {
		b.Run(fmt.Sprintf("quality=%v", withQuality), func(b *testing.B) {
			f := newFixture(b)
			for i := range batch {
				f.reg.names[fmt.Sprintf("0012240%05d", i)] = "Lan"
			}
			cat, _ := schemas.Load()
			d, _ := cat.Dataset(birthDS)
			var obs pipeline.Observer
			if withQuality {
				obs = f.q.Observer(nil)
			}
			p, err := pipeline.New(pipeline.Config{Datasets: []pipeline.DatasetSchema{{Dataset: d, SchemaID: 1}}, Reconcile: f.reg.reconcile, Observer: obs}, discard{})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ResetTimer()
			cpu := cputime.Process()
			for range b.N {
				if _, err := p.Ingest(ctx, "civil_status", batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu = cputime.Process() - cpu
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
			if cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(batch)), "cpu-ns/record")
			}
			if withQuality {
				if err := f.q.Flush(ctx); err != nil { // in Run, every 2 s: not per record
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQualityBatch is the scorecard maintenance alone, per record:
// Quality.Batch on the results of the batch above (what the pipeline's
// completion calls), without the pipeline's noise around it. Divide its
// ns/record by BenchmarkPipelineQuality/quality=false's for the overhead,
// and its cpu-ns/record by that one's cpu-ns/record for the share of the
// pipeline's CPU:
//
//	go test ./broker/quality -run '^$' -bench 'QualityBatch|PipelineQuality/quality=false' -benchmem
func BenchmarkQualityBatch(b *testing.B) {
	f := newFixture(b)
	batch := make([]connectors.Record, 1000)
	for i := range batch {
		row := birth(i, fmt.Sprintf("0012240%05d", i), "Lan")
		switch {
		case i%25 == 0:
			row["child_dob"] = "2024-13-01"
		case i%33 == 0:
			row["child_name"] = "Lam"
		default:
			f.reg.names[fmt.Sprintf("0012240%05d", i)] = "Lan"
		}
		batch[i] = rec(i, row)
	}
	p, err := pipeline.New(pipeline.Config{Datasets: datasetsOf(b, birthDS), Reconcile: f.reg.reconcile}, discard{})
	if err != nil {
		b.Fatal(err)
	}
	results, err := p.Ingest(context.Background(), "civil_status", batch)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var cpu time.Duration // of Batch alone, as the timer
	start := cputime.Process()
	for i := range b.N {
		f.q.Batch("civil_status", batch, results)
		if i%100 == 99 {
			b.StopTimer()
			cpu += cputime.Process() - start
			_ = f.q.Flush(context.Background()) // as Run does every 2 s, off the pipeline's path
			start = cputime.Process()
			b.StartTimer()
		}
	}
	cpu += cputime.Process() - start
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/record")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*len(batch)), "cpu-ns/record")
	}
}

func datasetsOf(b *testing.B, names ...string) []pipeline.DatasetSchema {
	cat, _ := schemas.Load()
	var out []pipeline.DatasetSchema
	for _, n := range names {
		d, _ := cat.Dataset(n)
		out = append(out, pipeline.DatasetSchema{Dataset: d, SchemaID: 1})
	}
	return out
}

// BenchmarkScorecard90Days10Datasets is a scorecard query over 90 days of
// 10 datasets (each day with 12 field counts and 5 rejection reasons), on
// both stores (PostgreSQL when LGSP_TEST_POSTGRES_URL is set). Goal: under
// 50 ms.
func BenchmarkScorecard90Days10Datasets(b *testing.B) {
	stores := map[string]func(b *testing.B) quality.Store{
		"sqlite": func(b *testing.B) quality.Store {
			st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "store.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			return st
		},
	}
	if os.Getenv("LGSP_TEST_POSTGRES_URL") != "" {
		stores["postgres"] = func(b *testing.B) quality.Store {
			st, err := pgstore.Open(context.Background(), pgtest.SchemaURL(b, "lgsp_test"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			return st
		}
	}
	for name, open := range stores {
		b.Run(name, func(b *testing.B) {
			st := open(b)
			cat, _ := schemas.Load()
			q, err := quality.New(quality.Config{Store: st, Catalog: cat, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			today := q.Day(now)
			var deltas []store.QualityDelta
			dss := cat.Datasets()
			for day := today - 89; day <= today; day++ {
				for i := range 10 {
					d := dss[i%len(dss)]
					delta := store.QualityDelta{Source: d.Owner, Dataset: fmt.Sprintf("%s-%d", d.Name, i), Day: day,
						QualityCounts: store.QualityCounts{Received: 1000, Valid: 960, Verified: 900, Mismatch: 30, NotFound: 20, Duplicates: 5, LastSeen: now}}
					for f := range 12 {
						delta.Fields = append(delta.Fields, store.QualityFieldCount{Kind: quality.FieldPresent, Field: fmt.Sprintf("f%d", f), N: int64(900 + f)})
					}
					for r := range 5 {
						delta.Reasons = append(delta.Reasons, store.QualityReason{Kind: "schema", Path: fmt.Sprintf("$.f%d", r), Example: "bad", N: int64(r + 1)})
					}
					deltas = append(deltas, delta)
				}
			}
			if err := st.AddQuality(ctx, deltas); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				sc, err := q.Scorecard(ctx, quality.Viewer{Operator: true}, quality.Query{FromDay: today - 89, ToDay: today})
				if err != nil || len(sc.Datasets) != 10 || len(sc.Trend) != 90 {
					b.Fatalf("%d datasets, %d days: %v", len(sc.Datasets), len(sc.Trend), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
		})
	}
}
