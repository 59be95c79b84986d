// Package bench measures the bus: the ingest path (ingest → validate →
// reconcile → publish) on the embedded broker against a minimal program
// doing only parse + validate + produce with the same libraries and writer
// settings, so the ratio shows what the bus's own work costs (Run); the
// end-to-end path through delivery and the audit log (RunE2E); lookups
// under load (RunLoad); PostgreSQL → Kafka (RunCDC). `lgsp bench` and the
// Go benchmarks use them.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
)

// Options for Run.
type Options struct {
	Records  int       // per path per run (default 200000)
	Runs     int       // repetitions; medians are reported (default 3)
	Batch    int       // records per batch (default 500)
	InFlight int       // batches in flight, as the connector runtime does (default 8)
	Progress io.Writer // nil: quiet
	Seed     int64
	// Population is the size of the population index reconciled against (default 100000).
	Population int
	// Dataset is the shared dataset pushed: "land.land_use_right" (JSON
	// Schema, the default) or "tax.taxpayer" (Avro).
	Dataset string
	// Citizen is citizen i of the population of a seed (required): the
	// register is seeded with citizens 0…Population-1 and every record
	// names one of them, so reconciliation does real look-ups. lgsp bench
	// plugs in connectors/synthetic.
	Citizen func(seed int64, i int) store.Citizen
	// PipelineProfile, when set, receives a CPU profile of the pipeline
	// runs only (not the bus's start nor the minimal program), for
	// `go tool pprof`. It cannot be combined with go test -cpuprofile.
	PipelineProfile io.Writer
}

// Result holds the medians.
type Result struct {
	Records                   int
	RecordBytes               int // mean encoded row size
	PipelineRate, MinimalRate float64
	PipelineRuns, MinimalRuns []float64
	Ratio                     float64 // pipeline / minimal program
	Dataset                   string
	// CPU per record (user + system of the whole process, so the embedded
	// broker's share is in both), medians over the runs.
	PipelineCPU, MinimalCPU time.Duration
	// CPURatio is MinimalCPU / PipelineCPU: the ratio of records per
	// CPU-second, which a busy machine disturbs less than the wall rates.
	CPURatio float64
}

func (r Result) String() string {
	f := func(xs []float64) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = fmt.Sprintf("%.0f", x)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf(`dataset %s, %d records of ~%d bytes per run
  pipeline (validate + reconcile + publish): %.0f records/s (median of %s)
  minimal program (parse + validate + produce, same libraries and writer settings): %.0f records/s (median of %s)
  ratio pipeline / minimal: %.2f (goal ≥ 0.80)
  CPU per record: pipeline %.1f µs, minimal %.1f µs; per CPU-second ratio %.2f`, r.Dataset, r.Records, r.RecordBytes, r.PipelineRate, f(r.PipelineRuns), r.MinimalRate, f(r.MinimalRuns), r.Ratio,
		us(r.PipelineCPU), us(r.MinimalCPU), r.CPURatio)
}

// Run starts a bus on embedded parts in a temporary dir and measures.
func Run(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	if o.Citizen == nil {
		return Result{}, errors.New("bench: Options.Citizen is required (the population the records name)")
	}
	dir, err := os.MkdirTemp("", "lgsp-bench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	cfg := config.Defaults()
	cfg.DataDir, cfg.API.Addr, cfg.Registry.Addr, cfg.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	cfg.Synthetic.Enabled, cfg.Synthetic.Population, cfg.Synthetic.Seed = false, o.Population, o.Seed
	fmt.Fprintf(o.Progress, "starting an embedded bus with %d citizens…\n", o.Population)
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: cfg, NoDelivery: true, Population: o.Citizen})
	if err != nil {
		return Result{}, err
	}
	defer bus.Close(context.Background())

	dataset := o.Dataset
	var recs []connectors.Record
	var payloads [][]byte
	var mean int
	switch dataset {
	case "land.land_use_right":
		recs, payloads, mean = landRecords(o.Citizen, o.Seed, o.Records, o.Population)
	case "tax.taxpayer":
		recs, payloads, mean = taxRecords(o.Citizen, o.Seed, o.Records, o.Population)
	default:
		return Result{}, fmt.Errorf("bench: dataset must be land.land_use_right or tax.taxpayer, got %q", dataset)
	}
	if err := kafkaio.EnsureTopics(ctx, bus.Cluster(), []kafkaio.Topic{{Name: "bench.minimal", Partitions: cfg.Kafka.Partitions}}, 1); err != nil {
		return Result{}, err
	}
	minimal, err := newMinimal(bus, dataset)
	if err != nil {
		return Result{}, err
	}
	res := Result{Records: o.Records, RecordBytes: mean, Dataset: dataset}
	var pcpu, mcpu []float64
	perRecord := func(d time.Duration) float64 { return float64(d) / float64(len(recs)) }
	for run := 1; run <= o.Runs; run++ {
		setPositions(recs, run)
		if o.PipelineProfile != nil {
			if err := pprof.StartCPUProfile(o.PipelineProfile); err != nil {
				return res, fmt.Errorf("bench: pipeline profile: %w", err)
			}
		}
		c0 := cpuTime()
		p, err := pipelineRun(ctx, bus, recs, strings.SplitN(dataset, ".", 2)[0], o.Batch, o.InFlight)
		c1 := cpuTime()
		if o.PipelineProfile != nil {
			pprof.StopCPUProfile()
		}
		if err != nil {
			return res, err
		}
		m, err := minimal.run(ctx, bus.Cluster(), payloads, o.Batch)
		if err != nil {
			return res, err
		}
		c2 := cpuTime()
		res.PipelineRuns, res.MinimalRuns = append(res.PipelineRuns, p), append(res.MinimalRuns, m)
		pcpu, mcpu = append(pcpu, perRecord(c1-c0)), append(mcpu, perRecord(c2-c1))
		fmt.Fprintf(o.Progress, "run %d/%d: pipeline %.0f/s, minimal %.0f/s; CPU %.1f / %.1f µs per record\n", run, o.Runs, p, m, pcpu[run-1]/1e3, mcpu[run-1]/1e3)
	}
	res.PipelineRate, res.MinimalRate = median(res.PipelineRuns), median(res.MinimalRuns)
	res.Ratio = res.PipelineRate / res.MinimalRate
	res.PipelineCPU, res.MinimalCPU = time.Duration(median(pcpu)), time.Duration(median(mcpu))
	if res.PipelineCPU > 0 {
		res.CPURatio = float64(res.MinimalCPU) / float64(res.PipelineCPU)
	}
	return res, nil
}

// landRecords builds land-use-right records for real citizens of the
// synthetic population (so reconciliation does real look-ups).
func landRecords(citizen func(int64, int) store.Citizen, seed int64, n, population int) ([]connectors.Record, [][]byte, int) {
	recs := make([]connectors.Record, n)
	payloads := make([][]byte, n)
	total := 0
	purposes := []string{"ONT", "ODT", "LUC", "CLN"}
	for i := 0; i < n; i++ {
		c := citizen(seed, i%population)
		row := map[string]any{
			"certificate_no":   fmt.Sprintf("C%c%06d", 'A'+i%26, i%1_000_000),
			"parcel_id":        fmt.Sprintf("TĐ%03d/TH%05d", i%400, i%99_999),
			"province_code":    c.BirthProvince,
			"address":          fmt.Sprintf("Số %d, đường Nguyễn Trãi, phường Thượng Đình, quận Thanh Xuân, thành phố Hà Nội", i%300),
			"area_m2":          float64(50 + i%950),
			"land_use_purpose": purposes[i%len(purposes)],
			"holder_cccd":      c.ID,
			"holder_name":      c.FullName,
			"holder_dob":       c.DOB,
			"issued_on":        "2021-06-15",
		}
		recs[i] = connectors.Record{Dataset: "land.land_use_right", Op: connectors.OpCreate, After: row, Time: time.Unix(1_700_000_000, 0)}
		payloads[i], _ = json.Marshal(row)
		total += len(payloads[i])
	}
	return recs, payloads, total / n
}

// taxRecords builds taxpayer registrations (an Avro dataset) for real citizens.
func taxRecords(citizen func(int64, int) store.Citizen, seed int64, n, population int) ([]connectors.Record, [][]byte, int) {
	recs := make([]connectors.Record, n)
	payloads := make([][]byte, n)
	total := 0
	for i := 0; i < n; i++ {
		c := citizen(seed, i%population)
		row := map[string]any{
			"tax_code": fmt.Sprintf("80%08d", i), "cccd": c.ID, "full_name": c.FullName, "dob": c.DOB, "sex": c.Sex,
			"address":    fmt.Sprintf("Số %d, đường Lê Lợi, phường Bến Nghé, quận 1, thành phố Hồ Chí Minh", i%300),
			"tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04",
		}
		recs[i] = connectors.Record{Dataset: "tax.taxpayer", Op: connectors.OpCreate, After: row, Time: time.Unix(1_700_000_000, 0)}
		payloads[i], _ = json.Marshal(row)
		total += len(payloads[i])
	}
	return recs, payloads, total / n
}

// setPositions gives the records of a run new positions (new event ids).
func setPositions(recs []connectors.Record, run int) {
	for i := range recs {
		recs[i].Position = connectors.Position(fmt.Sprintf("%d:%d", run, i))
	}
}

func pipelineRun(ctx context.Context, bus *runtime.Bus, recs []connectors.Record, source string, batch, inflight int) (float64, error) {
	queue := make(chan func() error, inflight)
	errc := make(chan error, 1)
	go func() {
		var first error
		for w := range queue {
			if err := w(); err != nil && first == nil {
				first = err
			}
		}
		errc <- first
	}()
	start := time.Now()
	for i := 0; i < len(recs); i += batch {
		j := min(i+batch, len(recs))
		t, err := bus.Pipe.Submit(ctx, source, recs[i:j])
		if err != nil {
			close(queue)
			<-errc
			return 0, err
		}
		queue <- func() error { _, err := t.Wait(ctx); return err }
	}
	close(queue)
	if err := <-errc; err != nil {
		return 0, err
	}
	return float64(len(recs)) / time.Since(start).Seconds(), nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
