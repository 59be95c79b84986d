package ministries_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/bench"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
	"github.com/lgsp-bus/lgsp/examples/ministries"
)

// The PostgreSQL → Kafka benchmark of broker/bench on the land registry's
// sample database, as lgsp bench -source postgres plugs it in.

func landRegistry(t testing.TB) bench.LandRegistry {
	m, err := ministries.Load("land")
	if err != nil {
		t.Fatal(err)
	}
	return bench.LandRegistry{SchemaSQL: m.SchemaSQL, Adapter: m.Connector.Adapter, Config: m.Connector.Config}
}

// BenchmarkPostgresToKafka snapshots a land registry table of
// LGSP_BENCH_ROWS rows (default 100,000; the figure is for
// 1,000,000) through the postgres-cdc connector and the pipeline into the
// embedded broker, then streams LGSP_BENCH_ROWS/10 updates. Needs a
// PostgreSQL with wal_level=logical in LGSP_TEST_POSTGRES_URL.
// Run: go test -run '^$' -bench PostgresToKafka -benchtime 1x ./examples/ministries
// LGSP_BENCH_CPUPROFILE=/tmp/cdc also writes the bus's CPU profile of each
// phase to /tmp/cdc.snapshot and /tmp/cdc.stream (no -cpuprofile then).
func BenchmarkPostgresToKafka(b *testing.B) {
	url := pgtest.URL(b)
	rows := 100_000
	if v, err := strconv.Atoi(os.Getenv("LGSP_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	for i := 0; i < b.N; i++ {
		res, err := bench.RunCDC(b.Context(), bench.CDCOptions{PostgresURL: url, Rows: rows, Updates: rows / 10, Population: 20_000, Citizen: synthetic.RegisteredCitizen, Land: landRegistry(b),
			CPUProfile: os.Getenv("LGSP_BENCH_CPUPROFILE")})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.SnapshotRate, "snapshot_rows/s")
		b.ReportMetric(res.StreamRate, "stream_rows/s")
		b.ReportMetric(float64(res.SnapshotBusCPU.Nanoseconds())/1e3/float64(res.Rows), "snapshot_bus_µs/row")
		b.ReportMetric(float64(res.SnapshotPGCPU.Nanoseconds())/1e3/float64(res.Rows), "snapshot_pg_µs/row")
		b.ReportMetric(float64(res.StreamBusCPU.Nanoseconds())/1e3/float64(max(res.Updates, 1)), "stream_bus_µs/row")
		b.ReportMetric(float64(res.StreamPGCPU.Nanoseconds())/1e3/float64(max(res.Updates, 1)), "stream_pg_µs/row")
	}
}

// TestRunCDC runs the PostgreSQL → Kafka benchmark small, so the measuring
// code itself is checked by CI: every snapshot row and every update is
// acknowledged, none is dead-lettered.
func TestRunCDC(t *testing.T) {
	url := pgtest.URL(t)
	res, err := bench.RunCDC(t.Context(), bench.CDCOptions{PostgresURL: url, Rows: 3000, Updates: 700, Population: 2000, Citizen: synthetic.RegisteredCitizen, Land: landRegistry(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 3700 || res.ConnectorRead != 3700 {
		t.Fatalf("read %d, acknowledged %d, want 3700 each: %s", res.ConnectorRead, res.Acked, res)
	}
	if res.Published != 3700 || res.DeadLetters != 0 {
		t.Fatalf("published %d, dead-lettered %d, want 3700 and 0: %s", res.Published, res.DeadLetters, res)
	}
	if res.SnapshotRate <= 0 || res.StreamRate <= 0 {
		t.Fatalf("rates not measured: %s", res)
	}
}
