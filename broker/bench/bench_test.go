package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit/auditcheck"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// The benchmarks plug in the synthetic population, as lgsp bench does. The
// PostgreSQL → Kafka benchmark, which needs the land registry's sample
// database, is in examples/ministries (the bus's tests import no example).
var citizen = synthetic.RegisteredCitizen

// BenchmarkPipeline pushes b.N records through validate → reconcile → publish
// on the embedded broker and the same payloads through the minimal program
// (parse + validate + produce), and reports both rates and their ratio. Run: go test -run '^$' -bench Pipeline -benchtime 100000x ./broker/bench
// With LGSP_BENCH_PIPELINE_PROFILE=FILE, FILE gets a CPU profile of the
// pipeline runs alone (of the last dataset benchmarked).
func BenchmarkPipeline(b *testing.B) {
	for _, ds := range []string{"land.land_use_right", "tax.taxpayer"} {
		b.Run(ds, func(b *testing.B) {
			n := max(b.N, 1000)
			o := Options{Records: n, Runs: 1, Population: 20_000, Dataset: ds, Citizen: citizen}
			if path := os.Getenv("LGSP_BENCH_PIPELINE_PROFILE"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				o.PipelineProfile = f
			}
			res, err := Run(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.PipelineRate, "pipeline_rec/s")
			b.ReportMetric(res.MinimalRate, "minimal_rec/s")
			b.ReportMetric(res.Ratio, "ratio")
			b.ReportMetric(us(res.PipelineCPU), "pipeline_cpu_µs/rec")
			b.ReportMetric(us(res.MinimalCPU), "minimal_cpu_µs/rec")
			b.ReportMetric(res.CPURatio, "cpu_ratio")
		})
	}
}

// BenchmarkEndToEnd pushes b.N land records through ingest, delivery (to
// the tax authority and, filtered to its province, the HCMC land office)
// and the audit log, on SQLite and on PostgreSQL (when
// LGSP_TEST_POSTGRES_URL is set), and reports the rates, their ratios and
// the CPU per record. Run: go test -run '^$' -bench EndToEnd -benchtime 20000x ./broker/bench
func BenchmarkEndToEnd(b *testing.B) {
	stores := []string{"sqlite"}
	if os.Getenv(pgtest.EnvURL) != "" {
		stores = append(stores, "postgres")
	}
	for _, st := range stores {
		b.Run(st, func(b *testing.B) {
			n := max(b.N, 1000)
			res, err := RunE2E(context.Background(), E2EOptions{Options: Options{Records: n, Runs: 1, Population: 20_000, Citizen: citizen},
				Store: st, PostgresURL: os.Getenv(pgtest.EnvURL)})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.IngestRate, "ingest_rec/s")
			b.ReportMetric(res.DeliveredRate, "delivered_rec/s")
			b.ReportMetric(res.MinimalRate, "minimal_rec/s")
			b.ReportMetric(res.DeliveredPerIngest, "delivered/ingest")
			b.ReportMetric(res.IngestPerMinimal, "ingest/minimal")
			b.ReportMetric(float64(res.CPUPerRecord.Nanoseconds())/1000, "cpu_µs/rec")
			b.ReportMetric(res.StoreBytesPerRecord, "store_B/rec")
		})
	}
}

// TestRunE2E runs the end-to-end benchmark small on both stores, so the
// measuring code is checked by CI: every record reaches the tax
// authority's topic, the HCMC office gets only its province's, each
// delivery is audited, the log verifies, and the sizes are read.
func TestRunE2E(t *testing.T) {
	for _, st := range []string{"sqlite", "postgres"} {
		t.Run(st, func(t *testing.T) {
			url := ""
			if st == "postgres" {
				url = pgtest.URL(t)
			}
			dir := t.TempDir()
			res, err := RunE2E(t.Context(), E2EOptions{Options: Options{Records: 1500, Runs: 2, Population: 2000, Citizen: citizen},
				Store: st, PostgresURL: url, DataDir: dir, LoadRate: 200, LoadDuration: time.Second})
			if res.PostgresSchema != "" {
				t.Cleanup(func() { pgtest.Exec(t, pgtest.Conn(t), "DROP SCHEMA "+res.PostgresSchema+" CASCADE") })
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Expected["gdt"] != 1500 || res.Expected["hcm-land"] == 0 || res.Expected["hcm-land"] >= 1500 {
				t.Fatalf("expected deliveries %v: gdt all 1500, hcm-land some", res.Expected)
			}
			if want := int64(2 * (res.Expected["gdt"] + res.Expected["hcm-land"])); res.AuditEntries < want {
				t.Fatalf("%d audit entries, want at least %d", res.AuditEntries, want)
			}
			if len(res.DeliveredRuns) != 2 || res.DeliveredRate <= 0 || res.MinimalRate <= 0 || res.CPUPerRecord <= 0 {
				t.Fatalf("figures not measured: %s", res)
			}
			if res.StoreBytes["audit_log"] == 0 || res.AuditBytesPerEntry <= 0 {
				t.Fatalf("store sizes not measured: %v", res.StoreBytes)
			}
			if res.Load == nil || res.Load.Sent != 200 || res.Load.Failed != 0 || res.Load.P99 <= 0 {
				t.Fatalf("lookups and verifications: %+v", res.Load)
			}
			// 200 concurrent lookups and verifications: 200 audit entries,
			// written in group commits, in the chain verifyKept checks.
			if res.LoadAuditEntries != 200 || res.LoadAuditCommits <= 0 || res.LoadCPU <= 0 {
				t.Fatalf("under the load: %d audit entries in %d commits (want 200), CPU %v per request", res.LoadAuditEntries, res.LoadAuditCommits, res.LoadCPU)
			}
			verifyKept(t, res)
		})
	}
}

// verifyKept runs what `lgsp audit verify` runs on the kept data dir.
func verifyKept(t *testing.T, res E2EResult) {
	t.Helper()
	var out, errb strings.Builder
	o := auditcheck.Options{DataDir: res.KeptDataDir}
	if res.VerifyConfig != "" {
		o = auditcheck.Options{ConfigPath: res.VerifyConfig}
	}
	if err := auditcheck.Run(t.Context(), o, &out, &errb); err != nil {
		t.Fatalf("audit verify after the run: %v\n%s%s", err, out.String(), errb.String())
	}
}

// TestRun runs the plain bench small, so its measuring code is checked by
// CI: both paths moved every record and the rates and CPU figures are
// measured.
func TestRun(t *testing.T) {
	res, err := Run(t.Context(), Options{Records: 2000, Runs: 1, Population: 2000, Citizen: citizen})
	if err != nil {
		t.Fatal(err)
	}
	if res.PipelineRate <= 0 || res.MinimalRate <= 0 || res.PipelineCPU <= 0 || res.MinimalCPU <= 0 || res.CPURatio <= 0 {
		t.Fatalf("figures not measured: %+v", res)
	}
	if !strings.Contains(res.String(), "CPU per record") {
		t.Fatalf("the report does not state the CPU per record:\n%s", res)
	}
}
