package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/segmentio/kafka-go"
)

// Three real `lgsp serve` processes share one Kafka-protocol broker and one
// PostgreSQL. A files connector feeds them; the instance running it is
// killed with SIGKILL mid-stream. Another instance takes the connector
// over and finishes the file: every row reaches the canonical topic and
// the tax authority's delivery topic, duplicates come only from batches in
// flight, and the one audit log verifies. The takeover time is printed.
func TestClusterOfProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three bus processes")
	}
	pg := pgtest.SchemaURL(t, "cluster")
	dir := t.TempDir()
	bin := filepath.Join(dir, "lgsp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	broker, err := devkafka.Start(devkafka.Options{DataDir: filepath.Join(dir, "kafka"), Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	// The shared agreements folder and the ministry's export.
	pol := filepath.Join(dir, "agreements")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../policies/agreements/*.yaml")
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if err := os.WriteFile(filepath.Join(pol, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const rows = 3000
	var sb strings.Builder
	sb.WriteString("so_giay_chung_nhan,so_thua,ma_tinh,dien_tich,muc_dich,so_dinh_danh,ho_ten,ngay_sinh,ngay_cap\n")
	for i := range rows {
		fmt.Fprintf(&sb, "CS%06d,%d/12,079,%d.5,ODT,0790900%05d,Nguyễn Văn An,1990-01-01,2021-06-15\n", i, i, 100+i, i)
	}
	export := filepath.Join(dir, "so_hong.csv")
	if err := os.WriteFile(export, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`kafka:
  brokers: [%q]
store:
  driver: postgres
  url: %q
policies:
  dir: %q
audit:
  checkpoint_every: 1s
pipeline:
  max_in_flight: 2
connectors:
  - name: land
    adapter: files
    config:
      path: %q
      dataset: land.land_use_right
      batch_size: 50
      types: {dien_tich: number}
      columns: {so_giay_chung_nhan: certificate_no, so_thua: parcel_id, ma_tinh: province_code, dien_tich: area_m2, muc_dich: land_use_purpose, so_dinh_danh: holder_cccd, ho_ten: holder_name, ngay_sinh: holder_dob, ngay_cap: issued_on}
`, broker.Addr(), pg, pol, export)), 0o644); err != nil {
		t.Fatal(err)
	}
	operator := strings.Repeat("o", 40)
	env := append(os.Environ(), "LGSP_AUDIT_HMAC_KEY=0123456789abcdef0123456789abcdef", "LGSP_AUDIT_SIGNING_KEY="+strings.Repeat("5a", 32),
		"LGSP_AUDIT_CITIZEN_TOKEN_KEY="+strings.Repeat("c", 32), "LGSP_API_OPERATOR_TOKEN="+operator)

	type instance struct {
		id, api string
		cmd     *exec.Cmd
	}
	startInstance := func(id string) *instance {
		api, reg := freeAddr(t), freeAddr(t)
		cmd := exec.Command(bin, "serve", "--config", cfg)
		cmd.Env = append(env, "LGSP_INSTANCE_ID="+id, "LGSP_API_ADDR="+api, "LGSP_REGISTRY_ADDR="+reg, "LGSP_DATA_DIR="+filepath.Join(dir, id))
		logf, _ := os.Create(filepath.Join(dir, id+".log"))
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		return &instance{id, api, cmd}
	}
	get := func(in *instance, path string, out any) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+in.api+path, nil)
		req.Header.Set("Authorization", "Bearer "+operator)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if out != nil {
			_ = json.Unmarshal(raw, out)
		}
		return resp.StatusCode
	}
	waitFor := func(what string, bound time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(bound) // a bound against hanging; nothing here is a timing assertion
		for !ok() {
			if time.Now().After(deadline) {
				logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
				for _, l := range logs {
					raw, _ := os.ReadFile(l)
					t.Logf("%s:\n%s", l, tail(string(raw), 3000))
				}
				t.Fatalf("%s: not within %s", what, bound)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	owner := func(in *instance) string {
		var st struct {
			Owners []struct {
				Connector, Owner string
				Here             bool
			} `json:"connector_owners"`
		}
		get(in, "/v1/status", &st)
		for _, o := range st.Owners {
			if o.Connector == "land" && o.Here {
				return o.Owner
			}
		}
		return ""
	}

	var ins []*instance
	for _, id := range []string{"a", "b", "c"} {
		in := startInstance(id)
		waitFor("instance "+id+" ready", 90*time.Second, func() bool { return get(in, "/readyz", nil) == http.StatusOK })
		ins = append(ins, in)
	}
	var running *instance
	waitFor("some instance runs the land connector", 30*time.Second, func() bool {
		for _, in := range ins {
			if owner(in) != "" {
				running = in
				return true
			}
		}
		return false
	})
	canonical := "land.land_use_right.v1"
	waitFor("a first part of the file published", 60*time.Second, func() bool { return countMessages(t, broker.Addr(), canonical) >= 300 })
	_ = running.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = running.cmd.Process.Wait()
	killed := time.Now()
	var rest []*instance
	for _, in := range ins {
		if in != running {
			rest = append(rest, in)
		}
	}
	waitFor("another instance takes the connector over", 60*time.Second, func() bool {
		for _, in := range rest {
			if owner(in) != "" {
				return true
			}
		}
		return false
	})
	t.Logf("takeover of connector land %s after instance %s was killed with SIGKILL", time.Since(killed).Round(100*time.Millisecond), running.id)

	// HTTP push to each surviving instance, with a token issued by one of them.
	post := func(in *instance, path, token, body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+in.api+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	code, raw := post(rest[0], "/v1/operator/agencies/moj/tokens", operator, "")
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(raw), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %d %s", code, raw)
	}
	const births = 40
	for i := range births {
		row := fmt.Sprintf(`{"dataset":"civil_status.birth_registration","op":"c","after":{"registration_no":"079/2024/%d","child_cccd":"079224%06d","child_name":"Lê Thị Hoa","child_dob":"2024-05-01","child_sex":"F","birth_province":"079","mother_cccd":null,"mother_name":"Trần Thị Mai","father_name":null,"registered_on":"2024-05-02"}}`, i, i)
		if code, raw := post(rest[i%2], "/v1/sources/civil_status/records", tok.Token, row); code != http.StatusOK {
			t.Fatalf("push to instance %s: %d %s", rest[i%2].id, code, raw)
		}
	}

	// An agreement put through one instance is in force on the other.
	agreement := `{"id":"thads-hcm-taxpayer-stream","dataset":"tax.taxpayer","consumer":"thads-hcm","title":"Taxpayers for judgment enforcement",
"legal_basis":"Law on Enforcement of Civil Judgments No. 26/2008/QH12, Article 44","purposes":["judgment_enforcement"],"mode":"stream",
"fields":["tax_code","full_name"],"valid_from":"2025-01-01","valid_until":"2030-12-31"}`
	req, _ := http.NewRequest(http.MethodPut, "http://"+rest[0].api+"/v1/operator/agreements/thads-hcm-taxpayer-stream", strings.NewReader(agreement))
	req.Header.Set("Authorization", "Bearer "+operator)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("agreement through instance %s: %v %v", rest[0].id, resp, err)
	}
	waitFor("the agreement in force on the other instance", 30*time.Second, func() bool {
		var got []struct{ ID string }
		get(rest[1], "/v1/agreements", &got)
		for _, g := range got {
			if g.ID == "thads-hcm-taxpayer-stream" {
				return true
			}
		}
		return false
	})

	msgs := func(topic string) (total, distinct int) {
		seen := map[string]bool{}
		for _, m := range readMessages(t, broker.Addr(), topic) {
			total++
			seen[string(m.Key)] = true
		}
		return total, len(seen)
	}
	waitFor("every row on the canonical topic", 120*time.Second, func() bool { _, d := msgs(canonical); return d == rows })
	delivered := "deliver.gdt.land.land_use_right"
	waitFor("every row delivered to the tax authority", 120*time.Second, func() bool { _, d := msgs(delivered); return d == rows })
	waitFor("every pushed birth on its canonical topic", 60*time.Second, func() bool {
		_, d := msgs("civil_status.birth_registration.v1")
		return d == births
	})
	for _, topic := range []string{canonical, delivered} {
		total, distinct := msgs(topic)
		t.Logf("%s: %d messages for %d rows (%.1f%% repeated: the batches published but not yet acknowledged when the owner was killed)",
			topic, total, distinct, 100*float64(total-distinct)/float64(distinct))
		if total > rows+rows/5 {
			t.Errorf("%s: %d messages for %d rows: more than the batches in flight at the kill", topic, total, rows)
		}
	}
	for _, in := range rest {
		_ = in.cmd.Process.Signal(syscall.SIGTERM)
		_, _ = in.cmd.Process.Wait()
	}
	verify := exec.Command(bin, "audit", "verify", "--config", cfg)
	verify.Env = append(env, "LGSP_DATA_DIR="+filepath.Join(dir, "b"))
	if out, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("lgsp audit verify: %v\n%s", err, out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func readMessages(t *testing.T, broker, topic string) []kafka.Message {
	t.Helper()
	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		return nil
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil
	}
	var out []kafka.Message
	for _, p := range parts {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		pc, err := kafka.DialLeader(context.Background(), "tcp", broker, topic, p.ID)
		if err != nil {
			r.Close()
			continue
		}
		last, _ := pc.ReadLastOffset()
		pc.Close()
		for off := int64(0); off < last; {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			m, err := r.FetchMessage(ctx)
			cancel()
			if err != nil {
				break
			}
			out = append(out, m)
			off = m.Offset + 1
		}
		r.Close()
	}
	return out
}

func countMessages(t *testing.T, broker, topic string) int {
	return len(readMessages(t, broker, topic))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
