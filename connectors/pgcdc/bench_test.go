package pgcdc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

// The connector alone, without the pipeline or Kafka: what it costs per
// row is what these report as cpu_µs/row (this process's CPU time, so the
// connector's, over the rows read), and server_µs/row the CPU of its
// PostgreSQL backends (snapshot query, walsender) when the server runs on
// this machine. LGSP_BENCH_ROWS sets the table's size
// (default 200,000; the figures are for 1,000,000 rows).

func benchRows() int {
	if v, err := strconv.Atoi(os.Getenv("LGSP_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 200_000
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the CPU time the connector's server backends (its query
// connection and walsender, application_name lgsp-bench) used so far,
// from /proc: 0 when the server runs on another machine.
func serverCPU(b *testing.B, conn *pgx.Conn) time.Duration {
	rows, err := conn.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = 'lgsp-bench'`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(string(stat), ") ")
		if f := strings.Fields(rest); len(f) > 12 {
			ut, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(ut+st) * time.Second / 100
		}
	}
	return total
}

// benchTable creates a land registry table of rows rows, mapped as the
// land registry maps its certificates.
func benchTable(b *testing.B, rows int) (string, *pgx.Conn, Config) {
	conn := pgtest.Conn(b)
	table := pgtest.Name("bench_gcn")
	pgtest.Exec(b, conn, fmt.Sprintf(`CREATE TABLE %s (so_giay_chung_nhan text PRIMARY KEY, ma_tinh char(3), dien_tich numeric(14,2),
		so_dinh_danh_chu varchar(12), ho_ten_chu text, ngay_sinh_chu date, ngay_cap date)`, table))
	b.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	pgtest.Exec(b, conn, fmt.Sprintf(`INSERT INTO %s SELECT 'CS'||lpad(i::text, 8, '0'), '001', 50 + i %% 500, lpad(i::text, 12, '0'),
		'Nguyễn Văn '||i, DATE '1960-01-01' + i %% 20000, DATE '2000-01-01' + i %% 9000 FROM generate_series(1, %d) i`, table, rows))
	c := DefaultConfig()
	c.URL, c.BatchSize = pgtest.URL(b), 1000
	c.Tables = []Table{{Table: table, ColumnMapping: connectors.ColumnMapping{Dataset: "land.land_use_right",
		Columns: map[string]string{"so_giay_chung_nhan": "certificate_no", "ma_tinh": "province_code", "dien_tich": "area_m2",
			"so_dinh_danh_chu": "holder_cccd", "ho_ten_chu": "holder_name", "ngay_sinh_chu": "holder_dob", "ngay_cap": "issued_on"}}}}
	return table, conn, c
}

// readAll reads n records and acknowledges them batch by batch, as the
// runtime does.
func readAll(b *testing.B, s *Source, n int) {
	for got := 0; got < n; {
		recs, err := s.Read(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		got += len(recs)
		if len(recs) > 0 {
			if err := s.Ack(b.Context(), recs[len(recs)-1].Position); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func dropSlot(s *Source) {
	s.Close(context.Background())
	if err := s.OnDelete(context.Background()); err != nil {
		time.Sleep(time.Second)
		_ = s.OnDelete(context.Background())
	}
}

// BenchmarkSnapshot measures the initial snapshot.
func BenchmarkSnapshot(b *testing.B) {
	rows := benchRows()
	_, conn, c := benchTable(b, rows)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Slot = pgtest.Name("bench_slot")
		c.Publication = c.Slot
		s, err := New(connectors.Env{Name: "bench"}, c)
		if err != nil {
			b.Fatal(err)
		}
		start, cpu := time.Now(), processCPU()
		if err := s.Open(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		pg := serverCPU(b, conn)
		readAll(b, s, rows)
		b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
		b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/1e3/float64(rows), "cpu_µs/row")
		b.ReportMetric(float64((serverCPU(b, conn)-pg).Nanoseconds())/1e3/float64(rows), "server_µs/row")
		b.StopTimer()
		dropSlot(s)
		b.StartTimer()
	}
}

// BenchmarkStream measures the change stream: every row of the table
// updated in one transaction, as the bus benchmark's stream phase does.
func BenchmarkStream(b *testing.B) {
	rows := benchRows()
	table, conn, c := benchTable(b, rows)
	c.Snapshot = "never"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c.Slot = pgtest.Name("bench_slot")
		c.Publication = c.Slot
		s, err := New(connectors.Env{Name: "bench"}, c)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.OnCreate(b.Context()); err != nil {
			b.Fatal(err)
		}
		if err := s.Open(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		pg := serverCPU(b, conn) // the walsender decodes while the UPDATE runs
		pgtest.Exec(b, conn, fmt.Sprintf(`UPDATE %s SET dien_tich = dien_tich + 1`, table))
		b.StartTimer()
		start, cpu := time.Now(), processCPU()
		readAll(b, s, rows)
		b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
		b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/1e3/float64(rows), "cpu_µs/row")
		b.ReportMetric(float64((serverCPU(b, conn)-pg).Nanoseconds())/1e3/float64(rows), "server_µs/row")
		b.StopTimer()
		dropSlot(s)
		b.StartTimer()
	}
}
