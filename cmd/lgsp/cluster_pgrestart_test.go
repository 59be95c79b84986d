package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClusterSurvivesPostgresRestart: two bus instances on a PostgreSQL of
// their own, which is restarted (fast shutdown: every connection is cut)
// while a files connector streams. Both instances come back ready without
// being restarted, every row reaches the canonical and delivery topics,
// repeats stay within the batches in flight, pushes work again, and the
// audit log verifies.
func TestClusterSurvivesPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, starts a PostgreSQL server and two bus processes")
	}
	url, restart := ownPostgres(t)
	r := newRig(t, nil)
	const rows = 6000
	var sb strings.Builder
	sb.WriteString("so_giay_chung_nhan,so_thua,ma_tinh,dien_tich,muc_dich,so_dinh_danh,ho_ten,ngay_sinh,ngay_cap\n")
	for i := range rows {
		fmt.Fprintf(&sb, "PR%06d,%d/7,079,%d.5,ODT,0790910%05d,Trần Văn Bình,1988-02-03,2020-01-15\n", i, i, 100+i, i)
	}
	export := filepath.Join(r.dir, "so_hong.csv")
	if err := os.WriteFile(export, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	r.cfg = filepath.Join(r.dir, "serve.yaml")
	if err := os.WriteFile(r.cfg, []byte(fmt.Sprintf(`kafka:
  brokers: [%q]
store:
  driver: postgres
  url: %q
policies:
  dir: %q
audit:
  checkpoint_every: 1s
connectors:
  - name: land
    adapter: files
    config:
      path: %q
      dataset: land.land_use_right
      batch_size: 50
      types: {dien_tich: number}
      columns: {so_giay_chung_nhan: certificate_no, so_thua: parcel_id, ma_tinh: province_code, dien_tich: area_m2, muc_dich: land_use_purpose, so_dinh_danh: holder_cccd, ho_ten: holder_name, ngay_sinh: holder_dob, ngay_cap: issued_on}
`, r.broker.Addr(), url, filepath.Join(r.dir, "agreements"), export)), 0o644); err != nil {
		t.Fatal(err)
	}
	ins := []*instance{r.start("a"), r.start("b")}
	for _, in := range ins {
		r.waitFor("instance "+in.id+" ready", 90*time.Second, func() bool { return r.get(in, "/readyz", nil) == http.StatusOK })
	}
	canonical, delivered := "land.land_use_right.v1", "deliver.gdt.land.land_use_right"
	r.waitFor("a first part of the file published", 60*time.Second, func() bool { return topicEnd(r.broker.Addr(), canonical) >= 500 })
	at := time.Now()
	restart()
	t.Logf("PostgreSQL restarted (fast shutdown) in %s, %d of %d rows published before", time.Since(at).Round(100*time.Millisecond),
		topicEnd(r.broker.Addr(), canonical), rows)
	for _, in := range ins {
		r.waitFor("instance "+in.id+" ready again after the restart", 60*time.Second, func() bool { return r.get(in, "/readyz", nil) == http.StatusOK })
		if in.cmd.ProcessState != nil {
			t.Fatalf("instance %s exited", in.id)
		}
	}
	t.Logf("both instances ready %s after the restart began", time.Since(at).Round(100*time.Millisecond))
	code, raw := r.post(ins[0], "/v1/operator/agencies/moj/tokens", r.operator, "")
	token := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(raw)
	if token == nil {
		t.Fatalf("token after the restart: %d %s", code, raw)
	}
	for i, in := range ins {
		row := fmt.Sprintf(`{"dataset":"civil_status.birth_registration","op":"c","after":{"registration_no":"079/2025/%d","child_cccd":"079225%06d","child_name":"Lê Thị Hoa","child_dob":"2025-05-01","child_sex":"F","birth_province":"079","mother_cccd":null,"mother_name":"Trần Thị Mai","father_name":null,"registered_on":"2025-05-02"}}`, i, i)
		if code, raw := r.post(in, "/v1/sources/civil_status/records", token[1], row); code != http.StatusOK {
			t.Errorf("push to instance %s after the restart: %d %s", in.id, code, raw)
		}
	}
	distinct := func(topic string) (int, int) {
		seen := map[string]bool{}
		msgs := readMessages(t, r.broker.Addr(), topic)
		for _, m := range msgs {
			seen[string(m.Key)] = true
		}
		return len(msgs), len(seen)
	}
	for _, topic := range []string{canonical, delivered} {
		r.waitFor("every row on "+topic, 120*time.Second, func() bool { _, d := distinct(topic); return d == rows })
		total, _ := distinct(topic)
		t.Logf("%s: %d messages for %d rows", topic, total, rows)
		if total > rows+rows/20 {
			t.Errorf("%s: %d messages for %d rows: more than the batches in flight at the restart (a failed position save must be retried, not restart the connector)", topic, total, rows)
		}
	}
	r.waitFor("both pushed births published", 60*time.Second, func() bool {
		_, d := distinct("civil_status.birth_registration.v1")
		return d == len(ins)
	})
	for _, in := range ins {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		_, _ = in.cmd.Process.Wait()
	}
	verify := exec.Command(r.bin, "audit", "verify", "--config", r.cfg)
	verify.Env = append(r.env, "LGSP_DATA_DIR="+filepath.Join(r.dir, "a"))
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("lgsp audit verify: %v\n%s", err, out)
	}
}

// ownPostgres starts a PostgreSQL server for this test alone with
// .ci/start-postgres.sh, so that it can be restarted without disturbing
// the other tests. It returns the server's URL and a function that
// restarts it with a fast shutdown.
func ownPostgres(t *testing.T) (string, func()) {
	t.Helper()
	pgbin := os.Getenv("PGBIN")
	if pgbin == "" {
		pgbin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(pgbin, "pg_ctl")); err != nil {
		msg := "no PostgreSQL server binaries in " + pgbin + " (apt-get install postgresql-15, or set PGBIN)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var stdout, stderr bytes.Buffer
	start := exec.Command("bash", "../../.ci/start-postgres.sh")
	start.Stdout, start.Stderr = &stdout, &stderr
	if err := start.Run(); err != nil {
		t.Fatalf("start PostgreSQL: %v\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(stdout.String())
	var dir string
	sc := bufio.NewScanner(&stderr)
	for sc.Scan() {
		if m := regexp.MustCompile(`cluster dir (\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			dir = m[1]
		}
	}
	if dir == "" || url == "" {
		t.Fatalf("start-postgres.sh gave no cluster dir or URL:\n%s", stderr.String())
	}
	pgctl := func(args ...string) *exec.Cmd {
		args = append([]string{"-D", filepath.Join(dir, "data"), "-l", filepath.Join(dir, "server.log")}, args...)
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgbin, "pg_ctl")}, args...)...)
		}
		return exec.Command(filepath.Join(pgbin, "pg_ctl"), args...)
	}
	t.Cleanup(func() {
		_ = pgctl("stop", "-m", "immediate").Run()
		_ = os.RemoveAll(dir)
	})
	return url, func() {
		t.Helper()
		if out, err := pgctl("restart", "-m", "fast", "-w", "-t", "60").CombinedOutput(); err != nil {
			t.Fatalf("restart PostgreSQL: %v\n%s", err, out)
		}
	}
}
