package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// CDCOptions configures RunCDC.
type CDCOptions struct {
	// PostgresURL is a server with wal_level=logical where the land
	// registry's sample table is created (in a schema of its own, dropped
	// afterwards).
	PostgresURL string
	Rows        int // rows in the table, read by the initial snapshot (default 1,000,000)
	Updates     int // rows updated afterwards, read from the change stream (default Rows/10)
	// Population is the size of the population index (default 100,000);
	// every row names a real citizen, so reconciliation does real look-ups.
	Population int
	Seed       int64
	Progress   io.Writer // nil: quiet
	// Delivery also runs the agreements' delivery stage (off by default,
	// as in the pipeline benchmark: the figure is ingest to Kafka).
	Delivery bool
	// Citizen is citizen i of the population of a seed, as Options.Citizen
	// (required).
	Citizen func(seed int64, i int) store.Citizen
	// Land is the land registry's sample database (required; lgsp bench
	// plugs in examples/ministries/land).
	Land LandRegistry
	// CPUProfile, when set, is a file name prefix: the bus process's CPU
	// profile of the snapshot is written to PREFIX.snapshot and that of
	// the stream to PREFIX.stream (go tool pprof).
	CPUProfile string
}

// LandRegistry is the sample source database the CDC benchmark loads: the
// DDL of schema dat_dai with its table giay_chung_nhan, and the connector
// that reads it (adapter and config map; url, slot, publication and the
// table's name are set per run).
type LandRegistry struct {
	SchemaSQL string
	Adapter   string
	Config    map[string]any
}

// CDCResult holds what RunCDC measured.
type CDCResult struct {
	Rows, Updates           int
	SnapshotRate            float64 // rows/s from connector start to the last snapshot row acknowledged
	SnapshotTime            time.Duration
	StreamRate              float64 // updates/s from the UPDATE's commit to the last one acknowledged
	StreamTime, LoadTime    time.Duration
	DeadLetters, Published  uint64
	ConnectorRead, Acked    uint64
	PopulationBuildDuration time.Duration
	// CPU time per row of each phase: the bus process (connector,
	// pipeline and embedded broker together) and the connector's
	// PostgreSQL backends (snapshot query and walsender, read from /proc
	// when the server runs on this machine; 0 otherwise).
	SnapshotBusCPU, SnapshotPGCPU time.Duration
	StreamBusCPU, StreamPGCPU     time.Duration
}

func (r CDCResult) String() string {
	return fmt.Sprintf(`PostgreSQL → Kafka through the bus (postgres-cdc → validate → reconcile → publish, embedded broker)
  snapshot: %d rows in %s = %.0f rows/s (goal ≥ 50,000)
  stream:   %d updates in %s = %.0f rows/s
  CPU per row: snapshot bus %.1f µs + postgres %.1f µs; stream bus %.1f µs + postgres %.1f µs
  acknowledged %d of %d read; %d published, %d dead-lettered`, r.Rows, r.SnapshotTime.Round(time.Millisecond), r.SnapshotRate,
		r.Updates, r.StreamTime.Round(time.Millisecond), r.StreamRate,
		perRow(r.SnapshotBusCPU, r.Rows), perRow(r.SnapshotPGCPU, r.Rows), perRow(r.StreamBusCPU, r.Updates), perRow(r.StreamPGCPU, r.Updates),
		r.Acked, r.ConnectorRead, r.Published, r.DeadLetters)
}

// RunCDC loads the land registry's sample table (examples/ministries/land)
// with Rows certificates, starts a bus on embedded parts whose postgres-cdc
// connector snapshots it, waits until every row is durable in Kafka and
// acknowledged, then updates Updates rows and waits for the change stream.
func RunCDC(ctx context.Context, o CDCOptions) (CDCResult, error) {
	if o.PostgresURL == "" {
		return CDCResult{}, fmt.Errorf("bench: a PostgreSQL URL with wal_level=logical is needed (-postgres-url or LGSP_TEST_POSTGRES_URL)")
	}
	if o.Rows <= 0 {
		o.Rows = 1_000_000
	}
	if o.Rows > 26_000_000 {
		return CDCResult{}, fmt.Errorf("bench: at most 26,000,000 rows (certificate numbers CA000000…CZ999999)")
	}
	if o.Updates < 0 {
		o.Updates = 0
	} else if o.Updates == 0 {
		o.Updates = max(o.Rows/10, 1)
	}
	o.Updates = min(o.Updates, o.Rows, 999_999) // the first certificates, series CA
	if o.Population <= 0 {
		o.Population = 100_000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	res := CDCResult{Rows: o.Rows, Updates: o.Updates}
	if o.Citizen == nil || o.Land.SchemaSQL == "" {
		return res, errors.New("bench: CDCOptions.Citizen and CDCOptions.Land are required")
	}
	land := o.Land

	conn, err := pgx.Connect(ctx, o.PostgresURL)
	if err != nil {
		return res, fmt.Errorf("bench: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	// The ministry's DDL names schema dat_dai; a run gets its own so that
	// runs (and tests) never share a table, slot or publication.
	tag := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	schema := "dat_dai_" + tag
	if _, err := conn.Exec(ctx, strings.ReplaceAll(land.SchemaSQL, "dat_dai", schema)); err != nil {
		return res, fmt.Errorf("bench: create the land registry table: %w", err)
	}
	defer func() {
		c := context.Background()
		_, _ = conn.Exec(c, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, tag)
		_, _ = conn.Exec(c, `DROP PUBLICATION IF EXISTS `+tag)
		_, _ = conn.Exec(c, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
	}()
	fmt.Fprintf(o.Progress, "loading %d certificates into %s.giay_chung_nhan…\n", o.Rows, schema)
	t0 := time.Now()
	purposes := []string{"ONT", "ODT", "LUC", "CLN"}
	issued := time.Date(2021, 6, 15, 0, 0, 0, 0, time.UTC)
	n, err := conn.CopyFrom(ctx, pgx.Identifier{schema, "giay_chung_nhan"},
		[]string{"so_giay_chung_nhan", "so_hieu_thua", "ma_tinh", "dia_chi_thua_dat", "dien_tich", "muc_dich_su_dung", "so_dinh_danh_chu", "ho_ten_chu", "ngay_sinh_chu", "ngay_cap"},
		pgx.CopyFromSlice(o.Rows, func(i int) ([]any, error) {
			c := o.Citizen(o.Seed, i%o.Population)
			dob, err := time.Parse(time.DateOnly, c.DOB)
			if err != nil {
				return nil, err
			}
			return []any{fmt.Sprintf("C%c%06d", 'A'+i/1_000_000, i%1_000_000), fmt.Sprintf("%d/%d", i%400, i%9999), c.BirthProvince,
				fmt.Sprintf("Số %d, đường Nguyễn Trãi, phường Thượng Đình, thành phố Hà Nội", i%300),
				fmt.Sprintf("%d.50", 50+i%950), purposes[i%len(purposes)], c.ID, c.FullName, dob, issued}, nil
		}))
	if err != nil {
		return res, fmt.Errorf("bench: load rows: %w", err)
	}
	res.LoadTime = time.Since(t0)
	fmt.Fprintf(o.Progress, "loaded %d rows in %s\n", n, res.LoadTime.Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "lgsp-bench-cdc-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cfg := config.Defaults()
	cfg.DataDir, cfg.API.Addr, cfg.Registry.Addr, cfg.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	cfg.Synthetic.Enabled, cfg.Synthetic.Population, cfg.Synthetic.Seed = false, o.Population, o.Seed
	cc := maps.Clone(land.Config)
	cc["url"], cc["slot"], cc["publication"] = o.PostgresURL, tag, tag
	tables := cc["tables"].([]any)
	tables[0].(map[string]any)["table"] = schema + ".giay_chung_nhan"
	cfg.Connectors = []config.Connector{{Name: "land", Adapter: land.Adapter, Config: cc}}
	app := "lgsp-land" // the connector's application_name on the server (pgcdc sets lgsp-<name>)
	fmt.Fprintf(o.Progress, "starting an embedded bus with %d citizens and the postgres-cdc connector…\n", o.Population)
	start := time.Now()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: cfg, NoDelivery: !o.Delivery, Population: o.Citizen})
	if err != nil {
		return res, err
	}
	defer bus.Close(context.Background())
	res.PopulationBuildDuration = time.Since(start)
	// The clock starts when the connector runs: start-up (population
	// seeding, topic creation) is not the snapshot's cost.
	snapStart := time.Now()
	cpu0 := cpuTime()
	stopProfile, err := startProfile(o.CPUProfile, "snapshot")
	if err != nil {
		return res, err
	}
	for _, st := range bus.Connectors() {
		if !st.Since.IsZero() && st.Status == "running" {
			snapStart = st.Since
		}
	}
	if err := waitAcked(ctx, bus, uint64(o.Rows), o.Progress); err != nil {
		return res, err
	}
	res.SnapshotTime = time.Since(snapStart)
	res.SnapshotRate = float64(o.Rows) / res.SnapshotTime.Seconds()
	cpu1, pg1 := cpuTime(), backendCPU(ctx, conn, app)
	stopProfile()
	res.SnapshotBusCPU, res.SnapshotPGCPU = cpu1-cpu0, pg1
	fmt.Fprintf(o.Progress, "snapshot: %.0f rows/s\n", res.SnapshotRate)

	if o.Updates > 0 {
		streamStart := time.Now()
		stopProfile, err := startProfile(o.CPUProfile, "stream")
		if err != nil {
			return res, err
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE %s.giay_chung_nhan SET dien_tich = dien_tich + 1, ngay_cap_nhat = clock_timestamp()
			WHERE so_giay_chung_nhan < 'CA%06d'`, schema, o.Updates)); err != nil {
			return res, fmt.Errorf("bench: update rows: %w", err)
		}
		if err := waitAcked(ctx, bus, uint64(o.Rows+o.Updates), o.Progress); err != nil {
			return res, err
		}
		res.StreamTime = time.Since(streamStart)
		res.StreamRate = float64(o.Updates) / res.StreamTime.Seconds()
		res.StreamBusCPU, res.StreamPGCPU = cpuTime()-cpu1, backendCPU(ctx, conn, app)-pg1
		stopProfile()
	}
	for _, st := range bus.Connectors() {
		res.ConnectorRead, res.Acked = st.Read, st.Acked
	}
	m := bus.Metrics.Snapshot()
	res.Published, res.DeadLetters = m.Published, m.DeadLettered
	return res, nil
}

// waitAcked waits until the connectors have acknowledged n records, that is
// until n records are durable in Kafka and the source was told so.
func waitAcked(ctx context.Context, bus *runtime.Bus, n uint64, progress io.Writer) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	last := time.Now()
	for {
		var acked uint64
		var lastErr string
		for _, st := range bus.Connectors() {
			acked += st.Acked
			if st.Status == "failed" || st.Status == "backoff" {
				lastErr = st.LastError
			}
		}
		if acked >= n {
			return nil
		}
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(progress, "  %d of %d acknowledged %s\n", acked, n, lastErr)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: %d of %d rows acknowledged when stopped: %w (last connector error: %q)", acked, n, ctx.Err(), lastErr)
		case <-tick.C:
		}
	}
}

func perRow(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

// backendCPU sums the CPU time the server's backends of one application
// name (the connector's query connection and its walsender) have used so
// far, from /proc: it is 0 when PostgreSQL runs on another machine.
func backendCPU(ctx context.Context, conn *pgx.Conn, app string) time.Duration {
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		return 0
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: state is the
		// 3rd field of the line, utime and stime the 14th and 15th.
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
	}
	return total
}

// startProfile starts a CPU profile into prefix.phase; the function it
// returns stops it. No prefix: nothing is profiled.
func startProfile(prefix, phase string) (func(), error) {
	if prefix == "" {
		return func() {}, nil
	}
	f, err := os.Create(prefix + "." + phase)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
