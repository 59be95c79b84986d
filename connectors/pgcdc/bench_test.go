package pgcdc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

// BenchmarkSnapshot measures the initial snapshot: rows read per second
// from a table of LGSP_BENCH_ROWS rows (default 200,000; the target
// is 1,000,000 rows at 50,000 rows/s or more on 2 cores), mapped as the
// land registry maps its certificates. Kafka is not involved.
func BenchmarkSnapshot(b *testing.B) {
	rows := 200_000
	if v, err := strconv.Atoi(os.Getenv("LGSP_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	url := pgtest.URL(b)
	conn := pgtest.Conn(b)
	table := pgtest.Name("bench_gcn")
	pgtest.Exec(b, conn, fmt.Sprintf(`CREATE TABLE %s (so_giay_chung_nhan text PRIMARY KEY, ma_tinh char(3), dien_tich numeric(14,2),
		so_dinh_danh_chu varchar(12), ho_ten_chu text, ngay_sinh_chu date, ngay_cap date)`, table))
	b.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	pgtest.Exec(b, conn, fmt.Sprintf(`INSERT INTO %s SELECT 'CS'||lpad(i::text, 8, '0'), '001', 50 + i %% 500, lpad(i::text, 12, '0'),
		'Nguyễn Văn '||i, DATE '1960-01-01' + i %% 20000, DATE '2000-01-01' + i %% 9000 FROM generate_series(1, %d) i`, table, rows))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		slot := pgtest.Name("bench_slot")
		c := DefaultConfig()
		c.URL, c.Slot, c.Publication, c.BatchSize = url, slot, slot, 5000
		c.Tables = []Table{{Table: table, ColumnMapping: connectors.ColumnMapping{Dataset: "land.land_use_right",
			Columns: map[string]string{"so_giay_chung_nhan": "certificate_no", "ma_tinh": "province_code", "dien_tich": "area_m2",
				"so_dinh_danh_chu": "holder_cccd", "ho_ten_chu": "holder_name", "ngay_sinh_chu": "holder_dob", "ngay_cap": "issued_on"}}}}
		s, err := New(connectors.Env{Name: "bench"}, c)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := s.Open(b.Context(), nil); err != nil {
			b.Fatal(err)
		}
		n := 0
		for n < rows {
			recs, err := s.Read(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			n += len(recs)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
		s.Close(context.Background())
		b.StopTimer()
		if err := s.OnDelete(context.Background()); err != nil {
			time.Sleep(time.Second)
			_ = s.OnDelete(context.Background())
		}
		b.StartTimer()
	}
}
