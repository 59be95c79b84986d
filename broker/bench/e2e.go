package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/validate"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// E2EOptions configures RunE2E: Options, plus where the bus keeps its
// state and which broker it uses.
type E2EOptions struct {
	Options
	// Store is "sqlite" (default) or "postgres".
	Store string
	// PostgresURL is the server for Store "postgres": the run creates a
	// schema of its own there (dropped afterwards unless DataDir is set).
	PostgresURL string
	// Brokers is an external Kafka (or `lgsp kafka`); empty runs the
	// embedded broker in this process, whose CPU then counts in CPUPerRecord.
	Brokers []string
	// DataDir, when set, is kept after the run (with lgsp.yaml for a
	// PostgreSQL store), so `lgsp audit verify` can check the log it wrote.
	DataDir string
	// LoadRate, when set, also measures lookup and verify answered from
	// the dataset state, with the durable audit, at this many requests/s
	// for LoadDuration (default 10s), after the runs.
	LoadRate     int
	LoadDuration time.Duration
	// Load runs the load generator; `lgsp bench` runs it in a process of
	// its own (`lgsp bench -load`). Nil: RunLoad in this process.
	Load func(ctx context.Context, o LoadOptions) (LoadResult, error)
	// LoadProfile, when set, receives a CPU profile of this process (the
	// bus) while the load runs, for `go tool pprof`.
	LoadProfile io.Writer
	// LoadGenProfile, when set, is a file that receives a CPU profile of
	// the load generator's process while it sends.
	LoadGenProfile string
	// Logger receives the bus's log (nil: discarded).
	Logger *slog.Logger
}

// E2EResult holds what RunE2E measured; rates are medians over the runs.
type E2EResult struct {
	Dataset, Store, Broker string
	Records, RecordBytes   int
	// Per-consumer records expected on each delivery topic per run.
	Expected map[string]int
	// Ingest: parse + pipeline until every record is durable in Kafka.
	IngestRate float64
	IngestRuns []float64
	// Delivered: until every record is on every delivery topic its
	// agreements name and its audit entries are durable.
	DeliveredRate float64
	DeliveredRuns []float64
	// Minimal: parse + validate + produce with the same libraries and
	// writer settings, nothing else.
	MinimalRate         float64
	MinimalRuns         []float64
	DeliveredPerIngest  float64 // goal ≥ 0.9
	IngestPerMinimal    float64 // goal ≥ 0.8
	CPUPerRecord        time.Duration
	CPURuns             []float64 // µs per record, process CPU (user+sys) from first submit to last delivered
	RSSBytes, PeakRSS   int64
	AuditEntries        int64
	StoreBytes          map[string]int64 // per table, indexes included
	StoreBytesPerRecord float64          // audit + state bytes / records delivered (all runs)
	AuditBytesPerEntry  float64
	KafkaBytesPerRecord float64 // embedded broker only: its data dir / records ingested
	KeptDataDir, Verify string
	VerifyConfig        string // the config file for `lgsp audit verify` (PostgreSQL store)
	PostgresSchema      string // the run's schema (kept with DataDir)
	Load                *LoadResult
	LoadRSS             int64 // the bus's RSS after the load
	// LoadCPU is the bus's CPU (user+sys) per request under the load (the
	// generator's too when it runs in this process): the figure the
	// machine's other work changes least;
	// LoadAuditCommits and LoadAuditEntries are the audit log's group
	// commits during the load and the entries they stored.
	LoadCPU                            time.Duration
	LoadAuditCommits, LoadAuditEntries int64
	// LoadAvg is the machine's load average (1, 5, 15 min, as uptime
	// shows it) before and after the load: the bus and the generator
	// share the cores with whatever else runs.
	LoadAvg [2]string
}

func (r E2EResult) String() string {
	f := func(xs []float64) string {
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = fmt.Sprintf("%.0f", x)
		}
		return strings.Join(s, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "end to end: dataset %s, %d records of ~%d bytes per run, store %s, broker %s\n", r.Dataset, r.Records, r.RecordBytes, r.Store, r.Broker)
	fmt.Fprintf(&b, "  delivered per run: %v\n", r.Expected)
	fmt.Fprintf(&b, "  ingest (parse + validate + reconcile + publish):     %.0f records/s (median of %s)\n", r.IngestRate, f(r.IngestRuns))
	fmt.Fprintf(&b, "  delivered and audited (on every agreed topic):       %.0f records/s (median of %s)\n", r.DeliveredRate, f(r.DeliveredRuns))
	fmt.Fprintf(&b, "  minimal program (parse + validate + produce):        %.0f records/s (median of %s)\n", r.MinimalRate, f(r.MinimalRuns))
	fmt.Fprintf(&b, "  delivered / ingest: %.2f (goal ≥ 0.90); ingest / minimal: %.2f (goal ≥ 0.80)\n", r.DeliveredPerIngest, r.IngestPerMinimal)
	where := "bus process, embedded broker included"
	if r.Broker != "embedded" {
		where = "bus process, broker excluded"
	}
	if r.Store == "postgres" {
		where += ", PostgreSQL server excluded"
	}
	fmt.Fprintf(&b, "  CPU per record: %.1f µs (median of %s; %s; goal ≤ 25 µs)\n", float64(r.CPUPerRecord.Nanoseconds())/1000, f(r.CPURuns), where)
	fmt.Fprintf(&b, "  RSS after the runs %d MiB, peak %d MiB\n", r.RSSBytes>>20, r.PeakRSS>>20)
	fmt.Fprintf(&b, "  store: %d audit entries, %.0f bytes per entry; %.0f bytes of audit + state per delivered record; tables %v\n",
		r.AuditEntries, r.AuditBytesPerEntry, r.StoreBytesPerRecord, r.StoreBytes)
	if r.KafkaBytesPerRecord > 0 {
		fmt.Fprintf(&b, "  embedded broker: %.0f bytes per record ingested (its data dir)\n", r.KafkaBytesPerRecord)
	}
	if r.Load != nil {
		fmt.Fprintf(&b, "  lookup + verify (alternating, durable audit, http.uploads_per_credential 1024, load generator in another process unless in a Go benchmark), RSS after %d MiB:\n%s\n", r.LoadRSS>>20, r.Load)
		fmt.Fprintf(&b, "  bus CPU %.0f µs per request; audit: %d entries in %d group commits (%.1f per commit)\n",
			float64(r.LoadCPU.Nanoseconds())/1000, r.LoadAuditEntries, r.LoadAuditCommits, float64(r.LoadAuditEntries)/max(1, float64(r.LoadAuditCommits)))
		fmt.Fprintf(&b, "  load average before the load %s, after %s\n", r.LoadAvg[0], r.LoadAvg[1])
	}
	if r.KeptDataDir != "" {
		fmt.Fprintf(&b, "  data dir kept: %s; check the log with: %s\n", r.KeptDataDir, r.Verify)
	}
	return strings.TrimRight(b.String(), "\n")
}

// RunE2E starts a bus with delivery on (the catalog's agreements, dataset
// state kept), pushes the records through it Runs times and measures
// ingest, delivery and the minimal program in the same run.
func RunE2E(ctx context.Context, o E2EOptions) (res E2EResult, err error) {
	o.Options = o.Options.withDefaults()
	if o.Citizen == nil {
		return res, errors.New("bench: Options.Citizen is required (the population the records name)")
	}
	if o.Store == "" {
		o.Store = "sqlite"
	}
	res = E2EResult{Records: o.Records, Dataset: o.Dataset, Store: o.Store, Broker: "embedded", Expected: map[string]int{}, StoreBytes: map[string]int64{}}
	if len(o.Brokers) > 0 {
		res.Broker = strings.Join(o.Brokers, ",")
	}
	dir := o.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "lgsp-bench-e2e-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, err
	}
	cfg := config.Defaults()
	cfg.DataDir, cfg.API.Addr, cfg.Registry.Addr, cfg.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	cfg.Synthetic.Enabled, cfg.Synthetic.Population, cfg.Synthetic.Seed = false, o.Population, o.Seed
	if o.LoadRate > 0 {
		// One token per agency sends every request of the load: the
		// default of 4 bodies at once per credential (meant for uploads)
		// would refuse most of them, so the bench allows as many as its
		// generator keeps open (stated with the figures).
		cfg.HTTP.UploadsPerCredential, cfg.HTTP.Uploads = 1024, 2048
	}
	mode := runtime.Dev
	if len(o.Brokers) > 0 {
		mode, cfg.Kafka.Brokers = runtime.Serve, o.Brokers
		cfg.Synthetic.Enabled = true // see DevConnectors below
	}
	switch o.Store {
	case "sqlite":
	case "postgres":
		url, schema, cleanup, err := benchSchema(ctx, o.PostgresURL, o.DataDir == "")
		if err != nil {
			return res, err
		}
		res.PostgresSchema = schema
		defer cleanup()
		cfg.Store.Driver, cfg.Store.URL = "postgres", url
	default:
		return res, fmt.Errorf("bench: -store must be sqlite or postgres, got %q", o.Store)
	}
	if o.DataDir != "" {
		res.KeptDataDir = dir
		res.Verify = "lgsp audit verify --data-dir " + dir
		if o.Store == "postgres" {
			p := filepath.Join(dir, "lgsp.yaml")
			y := fmt.Sprintf("data_dir: %s\nstore:\n  driver: postgres\n  url: %q\n", dir, cfg.Store.URL)
			if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
				return res, err
			}
			res.Verify, res.VerifyConfig = "lgsp audit verify --config "+p, p
		}
	}

	var recs []connectors.Record
	var payloads [][]byte
	switch o.Dataset {
	case "land.land_use_right":
		recs, payloads, res.RecordBytes = landRecords(o.Citizen, o.Seed, o.Records, o.Population)
	case "tax.taxpayer":
		recs, payloads, res.RecordBytes = taxRecords(o.Citizen, o.Seed, o.Records, o.Population)
	default:
		return res, fmt.Errorf("bench: dataset must be land.land_use_right or tax.taxpayer, got %q", o.Dataset)
	}
	fmt.Fprintf(o.Progress, "starting a bus (store %s, broker %s) with %d citizens and delivery on…\n", o.Store, res.Broker, o.Population)
	bus, err := runtime.Start(ctx, runtime.Options{Mode: mode, Config: cfg, Population: o.Citizen, Logger: o.Logger,
		// serve seeds the population only with synthetic.enabled, which
		// also runs the synthetic sources this returns: none here.
		DevConnectors: func([]string) []config.Connector { return nil }})
	if err != nil {
		return res, err
	}
	defer bus.Close(context.Background())

	// What each agreement releases, by the engine's own rules.
	grants := bus.Engine.StreamTargets(o.Dataset, time.Now())
	if len(grants) == 0 {
		return res, fmt.Errorf("bench: no stream agreement delivers %s; the end-to-end figures need one", o.Dataset)
	}
	topics := map[string]int{}
	expectedEntries := 0
	for _, g := range grants {
		n := 0
		for i := range recs {
			if _, _, ok := g.Project(recs[i].After); ok {
				n++
			}
		}
		topics[contract.DeliveryTopic(g.Consumer, o.Dataset)] += n
		res.Expected[g.Consumer] += n
		expectedEntries += n
	}
	minimal, err := newMinimal(bus, o.Dataset)
	if err != nil {
		return res, err
	}
	if err := kafkaio.EnsureTopics(ctx, bus.Cluster(), []kafkaio.Topic{{Name: "bench.minimal", Partitions: cfg.Kafka.Partitions}}, 1); err != nil {
		return res, err
	}
	source := strings.SplitN(o.Dataset, ".", 2)[0]
	for run := 1; run <= o.Runs; run++ {
		base, err := topicEnds(ctx, bus.Cluster(), topics)
		if err != nil {
			return res, err
		}
		auditBase := bus.Audit.Size()
		cpu0 := cpuTime()
		start := time.Now()
		if err := pushParsed(ctx, bus, payloads, recs, source, o.Batch, o.InFlight, run); err != nil {
			return res, err
		}
		ingest := time.Since(start)
		if err := waitDelivered(ctx, bus, topics, base, auditBase+int64(expectedEntries), o.Progress); err != nil {
			return res, err
		}
		delivered := time.Since(start)
		cpu := cpuTime() - cpu0
		mrate, err := minimal.run(ctx, bus.Cluster(), payloads, o.Batch)
		if err != nil {
			return res, err
		}
		ir, dr := float64(len(recs))/ingest.Seconds(), float64(len(recs))/delivered.Seconds()
		cpuUS := float64(cpu.Nanoseconds()) / 1000 / float64(len(recs))
		res.IngestRuns, res.DeliveredRuns, res.MinimalRuns = append(res.IngestRuns, ir), append(res.DeliveredRuns, dr), append(res.MinimalRuns, mrate)
		res.CPURuns = append(res.CPURuns, cpuUS)
		fmt.Fprintf(o.Progress, "run %d/%d: ingest %.0f/s, delivered+audited %.0f/s, minimal %.0f/s, %.1f µs CPU/record\n", run, o.Runs, ir, dr, mrate, cpuUS)
	}
	res.IngestRate, res.DeliveredRate, res.MinimalRate = median(res.IngestRuns), median(res.DeliveredRuns), median(res.MinimalRuns)
	res.DeliveredPerIngest, res.IngestPerMinimal = res.DeliveredRate/res.IngestRate, res.IngestRate/res.MinimalRate
	res.CPUPerRecord = time.Duration(median(res.CPURuns) * 1000)
	res.RSSBytes, res.PeakRSS = procStatus("VmRSS"), procStatus("VmHWM")
	res.AuditEntries = bus.Audit.Size()
	if err := storeSizes(ctx, cfg, &res); err != nil {
		fmt.Fprintf(o.Progress, "store sizes not measured: %v\n", err)
	}
	var auditBytes, stateBytes int64
	for t, n := range res.StoreBytes {
		switch {
		case strings.HasPrefix(t, "audit_log"), strings.HasPrefix(t, "audit_texts"):
			auditBytes += n
		case strings.HasPrefix(t, "dataset_state"):
			stateBytes += n
		}
	}
	if res.AuditEntries > 0 {
		res.AuditBytesPerEntry = float64(auditBytes) / float64(res.AuditEntries)
	}
	res.StoreBytesPerRecord = float64(auditBytes+stateBytes) / float64(o.Records*o.Runs)
	if mode == runtime.Dev {
		res.KafkaBytesPerRecord = float64(dirSize(filepath.Join(dir, "kafka"))) / float64(o.Records*o.Runs)
	}
	if o.LoadRate > 0 {
		fmt.Fprintf(o.Progress, "preparing lookups and verifications…\n")
		reqs, err := prepareLoad(ctx, bus, o.Citizen, o.Seed, min(o.Population, 20_000), dir)
		if err != nil {
			return res, err
		}
		load := o.Load
		if load == nil {
			load = RunLoad
		}
		res.LoadAvg[0] = loadAverage()
		audit0, cpu0 := bus.Audit.Stats(), cpuTime()
		if o.LoadProfile != nil {
			if err := pprof.StartCPUProfile(o.LoadProfile); err != nil {
				return res, fmt.Errorf("bench: the CPU profile: %w", err)
			}
		}
		lr, err := load(ctx, LoadOptions{API: "http://" + bus.Addrs().API, Requests: reqs, Rate: o.LoadRate, Duration: o.LoadDuration, CPUProfile: o.LoadGenProfile})
		if o.LoadProfile != nil {
			pprof.StopCPUProfile()
		}
		res.LoadAvg[1] = loadAverage()
		if err != nil {
			return res, err
		}
		res.Load, res.LoadRSS = &lr, procStatus("VmRSS")
		audit1 := bus.Audit.Stats()
		res.LoadAuditCommits, res.LoadAuditEntries = audit1.Commits-audit0.Commits, audit1.Entries-audit0.Entries
		if lr.Sent > 0 {
			res.LoadCPU = (cpuTime() - cpu0) / time.Duration(lr.Sent)
		}
	}
	return res, nil
}

func (o Options) withDefaults() Options {
	if o.Records == 0 {
		o.Records = 200_000
	}
	if o.Runs == 0 {
		o.Runs = 3
	}
	if o.Batch == 0 {
		o.Batch = 500
	}
	if o.InFlight == 0 {
		o.InFlight = 8
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Population == 0 {
		o.Population = 100_000
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Dataset == "" {
		o.Dataset = "land.land_use_right"
	}
	return o
}

// pushParsed is what a source does: each record arrives as JSON text and
// is parsed before the pipeline gets it, so the ingest figure compares
// with the minimal program, which parses too.
func pushParsed(ctx context.Context, bus *runtime.Bus, payloads [][]byte, proto []connectors.Record, source string, batch, inflight, run int) error {
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
	fail := func(err error) error { close(queue); <-errc; return err }
	for i := 0; i < len(payloads); i += batch {
		j := min(i+batch, len(payloads))
		recs := make([]connectors.Record, j-i)
		for k := range recs {
			var row map[string]any
			if err := json.Unmarshal(payloads[i+k], &row); err != nil {
				return fail(err)
			}
			p := proto[i+k]
			recs[k] = connectors.Record{Dataset: p.Dataset, Op: p.Op, After: row, Time: p.Time,
				Position: connectors.Position(strconv.Itoa(run) + ":" + strconv.Itoa(i+k))}
		}
		t, err := bus.Pipe.Submit(ctx, source, recs)
		if err != nil {
			return fail(err)
		}
		queue <- func() error { _, err := t.Wait(ctx); return err }
	}
	close(queue)
	return <-errc
}

// topicEnds sums the end offsets of each topic's partitions (0 for a
// topic not created yet).
func topicEnds(ctx context.Context, cl kafkaio.Cluster, topics map[string]int) (map[string]int64, error) {
	client := cl.Client(5 * time.Second)
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, fmt.Errorf("bench: metadata: %w", err)
	}
	req := map[string][]kafka.OffsetRequest{}
	for _, t := range md.Topics {
		if _, ok := topics[t.Name]; ok {
			for _, p := range t.Partitions {
				req[t.Name] = append(req[t.Name], kafka.LastOffsetOf(p.ID))
			}
		}
	}
	out := map[string]int64{}
	if len(req) == 0 {
		return out, nil
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return nil, fmt.Errorf("bench: end offsets: %w", err)
	}
	for t, ps := range ends.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("bench: end offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			out[t] += p.LastOffset
		}
	}
	return out, nil
}

// waitDelivered waits until every topic has its expected records past
// base and the audit log holds auditSize entries.
func waitDelivered(ctx context.Context, bus *runtime.Bus, topics map[string]int, base map[string]int64, auditSize int64, progress io.Writer) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		// A slow answer of a loaded broker is asked again, not fatal.
		ends, err := topicEnds(ctx, bus.Cluster(), topics)
		done := err == nil && bus.Audit.Size() >= auditSize
		for t, n := range topics {
			if ends[t]-base[t] < int64(n) {
				done = false
			}
		}
		if done {
			return nil
		}
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(progress, "  delivered so far: %v of %v past %v; audit %d of %d\n", ends, topics, base, bus.Audit.Size(), auditSize)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: delivery not complete when stopped: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// minimal is the least a bus must do per record: parse the source's JSON,
// validate it with the dataset's validator, produce it with the bus's
// writer settings.
type minimal struct {
	json *validate.JSON
	avro *validate.Avro
	sch  avro.Schema
}

func newMinimal(bus *runtime.Bus, dataset string) (*minimal, error) {
	ds, ok := bus.Catalog.Dataset(dataset)
	if !ok {
		return nil, fmt.Errorf("bench: dataset %s is not in the catalog", dataset)
	}
	m := &minimal{}
	var err error
	if ds.Format == schemas.FormatJSON {
		m.json, err = validate.NewJSON(ds.Schema)
	} else {
		m.avro, err = validate.NewAvro(ds.Schema)
		if err == nil {
			m.sch = m.avro.Schema()
		}
	}
	return m, err
}

func (m *minimal) run(ctx context.Context, cl kafkaio.Cluster, payloads [][]byte, batch int) (float64, error) {
	var done atomic.Int64
	var failed atomic.Value
	finished := make(chan struct{})
	total := int64(len(payloads))
	w := kafkaio.NewWriter(cl, kafkaio.WriterOptions{Async: true, Completion: func(ms []kafka.Message, err error) {
		if err != nil {
			failed.Store(err)
		}
		if done.Add(int64(len(ms))) == total {
			close(finished)
		}
	}})
	defer w.Close()
	start := time.Now()
	msgs := make([]kafka.Message, 0, batch)
	for i, p := range payloads {
		var row map[string]any
		if err := json.Unmarshal(p, &row); err != nil {
			return 0, err
		}
		value := p
		if m.json != nil {
			if vs := m.json.ValidateValue(row); vs != nil {
				return 0, fmt.Errorf("bench: minimal program: record %d invalid: %s", i, validate.Summary(vs))
			}
		} else {
			conv, vs := m.avro.Convert(row)
			if vs != nil {
				return 0, fmt.Errorf("bench: minimal program: record %d invalid: %s", i, validate.Summary(vs))
			}
			b, err := avro.Marshal(m.sch, conv)
			if err != nil {
				return 0, err
			}
			value = b
		}
		msgs = append(msgs, kafka.Message{Topic: "bench.minimal", Key: []byte(strconv.Itoa(i)), Value: value})
		if len(msgs) == batch || i == len(payloads)-1 {
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				return 0, err
			}
			msgs = make([]kafka.Message, 0, batch)
		}
	}
	select {
	case <-finished:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// benchSchema creates a schema of its own on the server and returns the
// URL with search_path set to it.
func benchSchema(ctx context.Context, base string, drop bool) (string, string, func(), error) {
	if base == "" {
		return "", "", nil, errors.New("bench: -store postgres needs -postgres-url (or LGSP_TEST_POSTGRES_URL)")
	}
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", "", nil, fmt.Errorf("bench: connect to PostgreSQL: %w", err)
	}
	schema := fmt.Sprintf("bench_e2e_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		return "", "", nil, fmt.Errorf("bench: create schema: %w", err)
	}
	cleanup := func() {
		if drop {
			_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		}
		conn.Close(context.Background())
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, schema, cleanup, nil
}

// storeSizes reads the bytes of each table with its indexes.
func storeSizes(ctx context.Context, cfg config.Config, res *E2EResult) error {
	if cfg.Store.Driver == "postgres" {
		conn, err := pgx.Connect(ctx, cfg.Store.URL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) audit_log, dataset_state`); err != nil {
			return err
		}
		rows, err := conn.Query(ctx, `SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var n int64
			if err := rows.Scan(&name, &n); err != nil {
				return err
			}
			res.StoreBytes[name] = n
		}
		return rows.Err()
	}
	path := cfg.Store.URL
	if path == "" {
		path = filepath.Join(cfg.DataDir, "lgsp.db")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		res.StoreBytes[name] = n
	}
	return rows.Err()
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procStatus reads a kB field of /proc/self/status, in bytes (0 elsewhere).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == field {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// loadAverage is the first three fields of /proc/loadavg ("" elsewhere).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
