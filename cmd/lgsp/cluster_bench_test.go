package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

// BenchmarkCluster measures records per second ingested and delivered by
// one, two and three `lgsp serve` processes sharing one Kafka-protocol
// broker and one PostgreSQL, and the takeover time after a kill. Three
// ministries export a file each (land-use rights, civil servants, birth
// registrations; LGSP_BENCH_ROWS rows per file, 20,000 by default), which
// fan out to five delivery topics. Timing starts when the files appear,
// after the connectors have spread over the instances; a record counts as
// delivered when it is on every delivery topic its agreements name.
//
//	go test ./cmd/lgsp -run '^$' -bench BenchmarkCluster -benchtime 1x
//
// On a machine with two cores the instances share the same two cores as
// the broker and PostgreSQL, so the scaling figure is only indicative.
func BenchmarkCluster(b *testing.B) {
	rows := 20000
	if v, err := strconv.Atoi(os.Getenv("LGSP_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	for _, n := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			for range b.N {
				benchCluster(b, n, rows)
			}
		})
	}
}

func benchCluster(b *testing.B, n, rows int) {
	b.StopTimer()
	r := newRig(b, nil)
	in := filepath.Join(r.dir, "in")
	for _, d := range []string{"land", "civil_servant", "civil_status"} {
		if err := os.MkdirAll(filepath.Join(in, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	r.cfg = filepath.Join(r.dir, "serve.yaml")
	if err := os.WriteFile(r.cfg, []byte(fmt.Sprintf(`kafka:
  brokers: [%q]
store:
  driver: postgres
  url: %q
policies:
  dir: %q
connectors:
  - name: land
    adapter: files
    config:
      path: %q
      dataset: land.land_use_right
      poll_interval: 100ms
      types: {dien_tich: number}
      columns: {so_giay_chung_nhan: certificate_no, so_thua: parcel_id, ma_tinh: province_code, dien_tich: area_m2, muc_dich: land_use_purpose, so_dinh_danh: holder_cccd, ho_ten: holder_name, ngay_sinh: holder_dob, ngay_cap: issued_on}
  - name: civil_servant
    adapter: files
    config:
      path: %q
      dataset: civil_servant.employee
      poll_interval: 100ms
      types: {he_so_luong: number}
      columns: {ma_can_bo: employee_id, so_dinh_danh: cccd, ho_ten: full_name, ngay_sinh: dob, gioi_tinh: sex, ma_co_quan: agency_code, chuc_vu: position, he_so_luong: salary_coefficient, ngay_bat_dau: start_date}
  - name: civil_status
    adapter: files
    config:
      path: %q
      dataset: civil_status.birth_registration
      poll_interval: 100ms
      columns: {so_dang_ky: registration_no, so_dinh_danh: child_cccd, ho_ten: child_name, ngay_sinh: child_dob, gioi_tinh: child_sex, noi_sinh: birth_province, ho_ten_me: mother_name, ngay_dang_ky: registered_on}
`, r.broker.Addr(), pgtest.SchemaURL(b, "cluster_bench"), filepath.Join(r.dir, "agreements"),
		filepath.Join(in, "land", "*.csv"), filepath.Join(in, "civil_servant", "*.csv"), filepath.Join(in, "civil_status", "*.csv"))), 0o644); err != nil {
		b.Fatal(err)
	}
	var ins []*instance
	for i := range n {
		in := r.start(string(rune('a' + i)))
		r.waitFor("instance "+in.id+" ready", 90*time.Second, func() bool { return r.get(in, "/readyz", nil) == http.StatusOK })
		ins = append(ins, in)
	}
	connectors := []string{"land", "civil_servant", "civil_status"}
	owners := func() map[string]*instance {
		out := map[string]*instance{}
		for _, c := range connectors {
			for _, in := range ins {
				if r.owner(in, c) != "" {
					out[c] = in
				}
			}
		}
		return out
	}
	r.waitFor("the connectors spread over the instances", 90*time.Second, func() bool {
		o := owners()
		seen := map[*instance]bool{}
		for _, in := range o {
			seen[in] = true
		}
		return len(o) == len(connectors) && len(seen) == min(n, len(connectors))
	})

	files := map[string]func(i int) string{
		"land": func(i int) string {
			return fmt.Sprintf("BN%06d,%d/3,079,%d.5,ODT,0790920%05d,Ngô Văn Cường,1979-11-23,2019-04-02", i, i, 100+i%5000, i%100000)
		},
		"civil_servant": func(i int) string {
			return fmt.Sprintf("CB%08d,0791930%05d,Đỗ Thị Hạnh,1986-07-14,F,G09.79,Chuyên viên,3.33,2012-08-01", i, i%100000)
		},
		"civil_status": func(i int) string {
			return fmt.Sprintf("079/2025/%d,0792250%05d,Vũ Minh Khang,2025-03-09,M,079,Vũ Thị Thu,2025-03-20", i, i%100000)
		},
	}
	headers := map[string]string{
		"land":          "so_giay_chung_nhan,so_thua,ma_tinh,dien_tich,muc_dich,so_dinh_danh,ho_ten,ngay_sinh,ngay_cap",
		"civil_servant": "ma_can_bo,so_dinh_danh,ho_ten,ngay_sinh,gioi_tinh,ma_co_quan,chuc_vu,he_so_luong,ngay_bat_dau",
		"civil_status":  "so_dang_ky,so_dinh_danh,ho_ten,ngay_sinh,gioi_tinh,noi_sinh,ho_ten_me,ngay_dang_ky",
	}
	for _, c := range connectors {
		var sb strings.Builder
		sb.WriteString(headers[c] + "\n")
		for i := range rows {
			sb.WriteString(files[c](i) + "\n")
		}
		tmp := filepath.Join(r.dir, c+".tmp")
		if err := os.WriteFile(tmp, []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	canonical := []string{"land.land_use_right.v1", "civil_servant.employee.v1", "civil_status.birth_registration.v1"}
	delivery := []string{"deliver.gdt.land.land_use_right", "deliver.hcm-land.land.land_use_right", "deliver.moha.civil_servant.employee",
		"deliver.mps-c06.civil_status.birth_registration", "deliver.vss.civil_status.birth_registration"}
	for _, c := range connectors { // all three appear at once
		if err := os.Rename(filepath.Join(r.dir, c+".tmp"), filepath.Join(in, c, "export.csv")); err != nil {
			b.Fatal(err)
		}
	}
	b.StartTimer()
	start := time.Now()
	sum := func(topics []string) (total int64, least int64) {
		least = -1
		for _, tp := range topics {
			e := topicEnd(r.broker.Addr(), tp)
			total += e
			if least < 0 || e < least {
				least = e
			}
		}
		return total, least
	}
	var ingested time.Duration
	r.waitFor("every record delivered", 15*time.Minute, func() bool {
		if ingested == 0 {
			if total, _ := sum(canonical); total >= int64(3*rows) {
				ingested = time.Since(start)
			}
		}
		if dead, _ := sum([]string{"dlq.land", "dlq.civil_servant", "dlq.civil_status"}); dead > 0 {
			b.Fatalf("%d records dead-lettered: the benchmark's rows must all be valid", dead)
		}
		_, least := sum(delivery)
		return least >= int64(rows)
	})
	delivered := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(3*rows)/ingested.Seconds(), "ingested/s")
	b.ReportMetric(float64(3*rows)/delivered.Seconds(), "delivered/s")
	b.ReportMetric(float64(5*rows)/delivered.Seconds(), "deliveries/s")
	if n > 1 {
		// Kill the land connector's owner; time until another runs it.
		victim := owners()["land"]
		_ = victim.cmd.Process.Signal(syscall.SIGKILL)
		_, _ = victim.cmd.Process.Wait()
		at := time.Now()
		r.waitFor("the land connector taken over", 60*time.Second, func() bool {
			for _, in := range ins {
				if in != victim && r.owner(in, "land") != "" {
					return true
				}
			}
			return false
		})
		b.ReportMetric(time.Since(at).Seconds(), "takeover-s")
	}
}
