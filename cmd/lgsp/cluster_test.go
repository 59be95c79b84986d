package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/segmentio/kafka-go"
)

// Three real `lgsp serve` processes share one Kafka-protocol broker and one
// PostgreSQL. A files connector and a postgres-cdc connector feed them; the
// instance running the CDC connector is killed with SIGKILL in the middle
// of its initial snapshot, and another one is stopped with SIGTERM; both
// are restarted. The connectors are taken over and finish: every row
// reaches the canonical topics and the tax authority's delivery topics,
// duplicates come only from batches in flight and keep their ce_id, the
// snapshot resumes instead of starting over, order per key holds, lookups
// answer alike on every instance, and the one audit log verifies. The
// takeover times are printed.
func TestClusterOfProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three bus processes")
	}
	pg := pgtest.SchemaURL(t, "cluster")
	r := newRig(t, nil)
	dir, bin, broker, operator, env := r.dir, r.bin, r.broker, r.operator, r.env
	pol := filepath.Join(dir, "agreements")
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
	// The civil servant database's staff table, captured by postgres-cdc:
	// large enough that its snapshot is cut by the kill.
	const parcels = 20000
	pgc := pgtest.Conn(t)
	table, slot := pgtest.Name("can_bo"), pgtest.Name("cluster_slot")
	pgtest.Exec(t, pgc, fmt.Sprintf(`CREATE TABLE %s (ma_can_bo text PRIMARY KEY, so_dinh_danh text, ho_ten text, ngay_sinh text,
		gioi_tinh text, ma_co_quan text, chuc_vu text, he_so_luong double precision, ngay_bat_dau text, so_thu_tu int)`, table))
	pgtest.Exec(t, pgc, fmt.Sprintf(`INSERT INTO %s SELECT 'CB'||lpad(i::text, 8, '0'), '0791900'||lpad(i::text, 5, '0'), 'Phạm Thị Lan',
		'1985-03-01', 'F', 'G09.79', 'Chuyên viên', 2.34, '2010-09-01', i FROM generate_series(1, %d) i`, table, parcels))
	// The ministry's nightly batch holds the table until the cluster has
	// spread its connectors, so that the kill below lands mid-snapshot.
	hold := pgtest.Conn(t)
	pgtest.Exec(t, hold, "BEGIN")
	pgtest.Exec(t, hold, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = pgc.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, slot)
		_, _ = pgc.Exec(ctx, "DROP PUBLICATION IF EXISTS "+slot)
		_, _ = pgc.Exec(ctx, "DROP TABLE IF EXISTS "+table)
	})
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
  - name: civil_servant
    adapter: postgres-cdc
    config:
      url: %q
      slot: %s
      publication: %s
      batch_size: 200
      tables:
        - table: public.%s
          dataset: civil_servant.employee
          columns: {ma_can_bo: employee_id, so_dinh_danh: cccd, ho_ten: full_name, ngay_sinh: dob, gioi_tinh: sex, ma_co_quan: agency_code, chuc_vu: position, he_so_luong: salary_coefficient, ngay_bat_dau: start_date}
`, broker.Addr(), pg, pol, export, pgtest.URL(t), slot, slot, table)), 0o644); err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	startInstance, get, post, waitFor, owner := r.start, r.get, r.post, r.waitFor, r.owner

	ins := map[string]*instance{}
	for _, id := range []string{"a", "b", "c"} {
		in := startInstance(id)
		waitFor("instance "+id+" ready", 90*time.Second, func() bool { return get(in, "/readyz", nil) == http.StatusOK })
		ins[id] = in
	}
	ownerOf := func(connector string) *instance {
		for _, id := range []string{"a", "b", "c"} {
			if in := ins[id]; in != nil && owner(in, connector) != "" {
				return in
			}
		}
		return nil
	}
	for _, c := range []string{"land", "civil_servant"} {
		waitFor("some instance runs connector "+c, 30*time.Second, func() bool { return ownerOf(c) != nil })
	}
	// The instance that started first took both; the connectors spread.
	waitFor("the two connectors run on different instances", 60*time.Second, func() bool {
		l, c := ownerOf("land"), ownerOf("civil_servant")
		return l != nil && c != nil && l != c
	})
	pgtest.Exec(t, hold, "COMMIT")
	canonical, parcelTopic := "land.land_use_right.v1", "civil_servant.employee.v1"
	waitFor("a first part of the file and of the snapshot published", 60*time.Second, func() bool {
		return topicEnd(broker.Addr(), canonical) >= 300 && topicEnd(broker.Addr(), parcelTopic) >= 2000
	})
	// SIGKILL the instance running the CDC connector, mid-snapshot.
	killed := ownerOf("civil_servant")
	midSnapshot := topicEnd(broker.Addr(), parcelTopic) < parcels
	if !midSnapshot {
		t.Logf("the snapshot was already published when the kill came: its resumption is not exercised in this run")
	}
	_ = killed.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = killed.cmd.Process.Wait()
	ins[killed.id] = nil
	at := time.Now()
	waitFor("another instance takes the CDC connector over", 60*time.Second, func() bool { return ownerOf("civil_servant") != nil })
	t.Logf("takeover of connector civil_servant (postgres-cdc) %s after instance %s was killed with SIGKILL", time.Since(at).Round(100*time.Millisecond), killed.id)
	waitFor("another instance runs the files connector", 60*time.Second, func() bool { return ownerOf("land") != nil })
	// SIGTERM one of the two left: it hands its connectors over at once.
	var stopped *instance
	for _, id := range []string{"a", "b", "c"} {
		if in := ins[id]; in != nil && (stopped == nil || owner(in, "land") != "") {
			stopped = in
		}
	}
	_ = stopped.cmd.Process.Signal(syscall.SIGTERM)
	if err := stopped.cmd.Wait(); err != nil {
		t.Errorf("instance %s after SIGTERM: %v (want a clean exit)", stopped.id, err)
	}
	ins[stopped.id] = nil
	at = time.Now()
	waitFor("the last instance runs both connectors", 60*time.Second, func() bool { return ownerOf("land") != nil && ownerOf("civil_servant") != nil })
	t.Logf("connectors taken over %s after instance %s stopped with SIGTERM", time.Since(at).Round(100*time.Millisecond), stopped.id)
	for _, in := range []*instance{killed, stopped} {
		again := startInstance(in.id)
		waitFor("instance "+in.id+" ready again", 90*time.Second, func() bool { return get(again, "/readyz", nil) == http.StatusOK })
		ins[in.id] = again
	}
	var rest []*instance
	for _, id := range []string{"a", "b", "c"} {
		rest = append(rest, ins[id])
	}
	// Changes after the snapshot stream in after it, in order per key.
	const changed = 500
	pgtest.Exec(t, pgc, fmt.Sprintf(`UPDATE %s SET chuc_vu = 'Chuyên viên chính' WHERE so_thu_tu <= %d`, table, changed))

	// HTTP push to each surviving instance, with a token issued by one of them.
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

	// A lookup agreement put through one instance answers alike on all.
	lookupAgreement := `{"id":"gdt-land-use-right-lookup","dataset":"land.land_use_right","consumer":"gdt","title":"Land-use rights of a taxpayer",
"legal_basis":"Law on Tax Administration No. 38/2019/QH14, Article 99","purposes":["tax_administration"],"mode":"lookup",
"fields":["certificate_no","area_m2"],"valid_from":"2025-01-01","valid_until":"2030-12-31"}`
	req, _ = http.NewRequest(http.MethodPut, "http://"+rest[2].api+"/v1/operator/agreements/gdt-land-use-right-lookup", strings.NewReader(lookupAgreement))
	req.Header.Set("Authorization", "Bearer "+operator)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("lookup agreement through instance %s: %v %v", rest[2].id, resp, err)
	}
	code, raw = post(rest[1], "/v1/operator/agencies/gdt/tokens", operator, "")
	var gdt struct{ Token string }
	if err := json.Unmarshal([]byte(raw), &gdt); err != nil || gdt.Token == "" {
		t.Fatalf("gdt token: %d %s", code, raw)
	}

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
		t.Logf("%s: %d messages for %d rows (%.1f%% repeated: batches published but not yet acknowledged when their connector moved)",
			topic, total, distinct, 100*float64(total-distinct)/float64(distinct))
		if total > rows+rows/5 {
			t.Errorf("%s: %d messages for %d rows: more than the batches in flight at the kill", topic, total, rows)
		}
	}

	// The staff rows: every row and every change, on the canonical topic
	// and the home affairs ministry's, in order per key; a snapshot row read
	// twice (published before the kill, not acknowledged) kept its ce_id.
	deliveredParcels := "deliver.moha.civil_servant.employee"
	for _, topic := range []string{parcelTopic, deliveredParcels} {
		waitFor("every staff row and every change on "+topic, 180*time.Second, func() bool {
			return parcelsDone(t, readMessages(t, broker.Addr(), topic), parcels, changed)
		})
		all := readMessages(t, broker.Addr(), topic)
		ids := map[string]map[string]bool{}
		last := map[string]float64{}
		for _, m := range all {
			op, area := parcelChange(t, m)
			k := string(m.Key)
			if area < last[k] {
				t.Errorf("%s: employee %s went back from position rank %v to %v (offset %d): order per key broken", topic, k, last[k], area, m.Offset)
			}
			last[k] = area
			if op == "r" && area == 0 { // a row changed before it was read again gets a new id, rightly
				if ids[k] == nil {
					ids[k] = map[string]bool{}
				}
				ids[k][header(m, contract.HeaderID)] = true
			}
		}
		for k, set := range ids {
			if len(set) > 1 && topic == parcelTopic {
				t.Errorf("%s: snapshot row %s published under %d ce_ids: a row read twice must keep its id", topic, k, len(set))
			}
		}
		t.Logf("%s: %d messages for %d rows and %d changes (%.1f%% repeated)", topic, len(all), parcels, changed,
			100*float64(len(all)-parcels-changed)/float64(parcels+changed))
		if len(all) > parcels+parcels/5+changed {
			t.Errorf("%s: %d messages for %d rows and %d changes: the snapshot started over instead of resuming", topic, len(all), parcels, changed)
		}
	}

	if midSnapshot {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		resumed := false
		for _, l := range logs {
			raw, _ := os.ReadFile(l)
			resumed = resumed || strings.Contains(string(raw), "resuming the initial snapshot where it was acknowledged")
		}
		if !resumed {
			t.Errorf("no instance resumed the interrupted snapshot (no \"resuming the initial snapshot\" in the logs)")
		}
	}

	// Lookups give the same answer on every instance.
	var answers []string
	for _, in := range rest {
		var body string
		waitFor("a lookup answered by instance "+in.id, 30*time.Second, func() bool {
			var code int
			code, body = post(in, "/v1/lookup", gdt.Token, `{"dataset":"land.land_use_right","citizen":"079090000007","purpose":"tax_administration"}`)
			return code == http.StatusOK && strings.Contains(body, "CS000007")
		})
		answers = append(answers, body)
	}
	if answers[0] != answers[1] || answers[1] != answers[2] {
		t.Errorf("lookups differ between instances:\n%s\n%s\n%s", answers[0], answers[1], answers[2])
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

// parcelChange is the op of a staff message and the rank of its position
// (1 after the promotion); canonical or delivered, both are JSON in the
// Confluent wire format.
func parcelChange(t *testing.T, m kafka.Message) (string, float64) {
	t.Helper()
	_, payload, err := contract.SplitWire(m.Value)
	if err != nil {
		t.Fatalf("%s offset %d: %v", m.Topic, m.Offset, err)
	}
	var v struct {
		Op    string
		After struct {
			Position string
		}
	}
	if err := json.Unmarshal(payload, &v); err != nil {
		t.Fatalf("%s offset %d: %v", m.Topic, m.Offset, err)
	}
	if v.After.Position == "Chuyên viên chính" {
		return v.Op, 1
	}
	return v.Op, 0
}

// parcelsDone reports whether every staff row is there and the changed
// ones show their change last.
func parcelsDone(t *testing.T, all []kafka.Message, parcels, changed int) bool {
	last := map[string]float64{}
	for _, m := range all {
		_, area := parcelChange(t, m)
		last[string(m.Key)] = area
	}
	if len(last) != parcels {
		return false
	}
	for i := 1; i <= changed; i++ {
		if last[fmt.Sprintf("CB%08d", i)] != 1 {
			return false
		}
	}
	return true
}

func header(m kafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// topicEnd is the number of messages a topic holds (the sum of its
// partitions' end offsets), without reading them.
func topicEnd(broker, topic string) int64 {
	conn, err := kafka.Dial("tcp", broker)
	if err != nil {
		return 0
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return 0
	}
	var n int64
	for _, p := range parts {
		pc, err := kafka.DialLeader(context.Background(), "tcp", broker, topic, p.ID)
		if err != nil {
			continue
		}
		last, _ := pc.ReadLastOffset()
		pc.Close()
		n += last
	}
	return n
}

func freeAddr(t testing.TB) string {
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

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
