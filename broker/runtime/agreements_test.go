package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/segmentio/kafka-go"
)

// copyAgreements copies the shipped agreements into dir/agreements.
func copyAgreements(t *testing.T, dir string) string {
	t.Helper()
	pol := filepath.Join(dir, "agreements")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../policies/agreements/*.yaml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pol, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pol
}

// send is an HTTP call with any body and content type.
func send(t *testing.T, method, url, token, ctype string, body []byte, accept string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// readTopic reads up to want records of topic as user, in a group of its
// own; it returns how many it read and the error that stopped it.
func readTopic(brokers []string, user, pass, topic string, want int, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	d, err := kafkaio.Dialer(user, pass)
	if err != nil {
		return 0, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: user + ".t" + time.Now().Format("150405.000000"), Topic: topic,
		StartOffset: kafka.FirstOffset, Dialer: d, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	n := 0
	for n < want {
		if _, err := r.FetchMessage(ctx); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

const thadsStream = `{
  "id": "thads-hcm-taxpayer-stream",
  "dataset": "tax.taxpayer",
  "consumer": "thads-hcm",
  "title": "Taxpayers of Ho Chi Minh City for judgment enforcement",
  "legal_basis": "Law on Enforcement of Civil Judgments No. 26/2008/QH12, Article 44",
  "purposes": ["judgment_enforcement"],
  "mode": "stream",
  "fields": ["tax_code", "full_name", "tax_office"],
  "valid_from": "2025-01-01",
  "valid_until": "2030-12-31"
}`

// Agreements are managed through the API: a bad change is refused with
// its line and changes nothing; a good one is written, audited and put in
// force with its Kafka user and ACLs, so the new consumer reads its new
// topic; deleting it closes the topic again, and a reload of the files
// takes the same path. Runs on the dev broker with SASL/SCRAM and ACLs.
func TestAgreementsThroughTheAPI(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	dir := t.TempDir()
	c := devConfig(t, dir)
	c.Kafka.Auth = true
	c.Policies.Dir = copyAgreements(t, dir)
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	op := operatorToken(t, bus)
	brokers := bus.Addrs().Kafka
	before := bus.Engine.Current()
	url := api + "/v1/operator/agreements/thads-hcm-taxpayer-stream"

	code, raw := send(t, "GET", api+"/v1/operator/agreements", op, "", nil, "")
	var list struct {
		Managed    bool
		Digest     string
		Agreements []map[string]any
	}
	if json.Unmarshal(raw, &list) != nil || code != 200 || !list.Managed || list.Digest != before.Digest() || len(list.Agreements) != before.Len() {
		t.Fatalf("list: %d %s", code, raw)
	}

	// Refused changes: nothing in force, nothing on disk.
	bad := []struct {
		name, ctype, body string
		code              int
		want              string
	}{
		{"schema", "application/json", strings.Replace(thadsStream, `"stream"`, `"sideways"`, 1), 422, "request body:8: mode:"},
		{"not YAML", "application/yaml", "id: [unclosed\n", 400, "YAML syntax"},
		{"malformed JSON", "application/json", `{"id": `, 400, "request body"},
		{"unregistered consumer", "application/json", strings.Replace(thadsStream, `"thads-hcm"`, `"nobody"`, 1), 422, `"nobody" is not a registered agency`},
		{"id not the URL's", "application/json", strings.Replace(thadsStream, `"thads-hcm-taxpayer-stream"`, `"another-one"`, 1), 422, `change is for "thads-hcm-taxpayer-stream"`},
		{"wrong content type", "text/plain", thadsStream, 415, "Content-Type"},
		{"empty", "application/yaml", "", 400, "empty body"},
	}
	for _, b := range bad {
		code, raw := send(t, "PUT", url, op, b.ctype, []byte(b.body), "")
		var problem struct{ Error string }
		if json.Unmarshal(raw, &problem) != nil || code != b.code || !strings.Contains(problem.Error, b.want) {
			t.Errorf("%s: %d %s, want %d %q", b.name, code, raw, b.code, b.want)
		}
	}
	if bus.Engine.Current().Digest() != before.Digest() {
		t.Fatal("a refused change changed the agreements in force")
	}
	if _, err := os.Stat(filepath.Join(c.Policies.Dir, "thads-hcm-taxpayer-stream.yaml")); !os.IsNotExist(err) {
		t.Fatal("a refused change was written")
	}
	if code, _ := send(t, "PUT", url, agencyToken(t, bus, "thads-hcm"), "application/json", []byte(thadsStream), ""); code != 403 {
		t.Fatalf("an agency changed an agreement: %d", code)
	}

	// The new stream agreement, sent as JSON: thads-hcm gets its first Kafka user.
	code, raw = send(t, "PUT", url, op, "application/json", []byte(thadsStream), "")
	var put struct {
		File    string
		Created bool
		Digest  string
		Issued  map[string]string `json:"kafka_credentials_issued"`
	}
	if json.Unmarshal(raw, &put) != nil || code != 201 || !put.Created || put.File != "thads-hcm-taxpayer-stream.yaml" || put.Issued["thads-hcm"] == "" {
		t.Fatalf("put: %d %s", code, raw)
	}
	if _, ok := bus.Engine.Current().Agreement("thads-hcm-taxpayer-stream"); !ok || bus.Engine.Current().Digest() != put.Digest {
		t.Fatal("the new agreement is not in force")
	}
	code, raw = send(t, "GET", url, op, "", nil, "application/yaml")
	if code != 200 || !strings.Contains(string(raw), "consumer: thads-hcm\n") || strings.Contains(string(raw), "{") {
		t.Fatalf("the file as written: %d %s", code, raw)
	}
	password := put.Issued["thads-hcm"]

	// A taxpayer record flows to the new topic, and thads-hcm reads it.
	p := citizens(t, bus.Store, 1)[0]
	row := map[string]any{"tax_code": "8012345678", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
		"address": "12 Lê Lợi, Quận 1", "tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04"}
	body, _ := json.Marshal(map[string]any{"dataset": "tax.taxpayer", "after": row})
	if code, raw := postAs(t, api+"/v1/sources/tax/records", sourceToken(t, bus, "tax"), "application/json", body); code != 200 {
		t.Fatalf("push: %d %s", code, raw)
	}
	topic := "deliver.thads-hcm.tax.taxpayer"
	if n, err := readTopic(brokers, "thads-hcm", password, topic, 1, 20*time.Second); n != 1 {
		t.Fatalf("thads-hcm reading its new topic: %d %v", n, err)
	}
	if n, err := readTopic(brokers, "thads-hcm", password, "deliver.gdt.land.land_use_right", 1, 2*time.Second); err == nil || n > 0 {
		t.Fatalf("thads-hcm read another agency's topic: %d %v", n, err)
	}

	// Deleted: its topic closes (the user goes with its last stream agreement).
	if code, raw := send(t, "DELETE", url, op, "", nil, ""); code != 200 {
		t.Fatalf("delete: %d %s", code, raw)
	}
	if _, err := os.Stat(filepath.Join(c.Policies.Dir, put.File)); !os.IsNotExist(err) {
		t.Fatal("the file is still there")
	}
	if n, err := readTopic(brokers, "thads-hcm", password, topic, 1, 3*time.Second); err == nil || n > 0 {
		t.Fatalf("thads-hcm still reads after its agreement was deleted: %d %v", n, err)
	}
	if code, _ := send(t, "DELETE", url, op, "", nil, ""); code != 404 {
		t.Fatalf("deleting it again: %d", code)
	}

	// The same through the files: written back and reloaded, the topic opens.
	if code, raw := send(t, "PUT", url, op, "application/json", []byte(thadsStream), ""); code != 201 {
		t.Fatalf("put again: %d %s", code, raw)
	}
	raw, _ = os.ReadFile(filepath.Join(c.Policies.Dir, put.File))
	if err := os.Remove(filepath.Join(c.Policies.Dir, put.File)); err != nil {
		t.Fatal(err)
	}
	if code, raw := send(t, "POST", api+"/v1/operator/agreements/reload", op, "", nil, ""); code != 200 {
		t.Fatalf("reload without it: %d %s", code, raw)
	}
	if n, err := readTopic(brokers, "thads-hcm", password, topic, 1, 3*time.Second); err == nil || n > 0 {
		t.Fatalf("a reload without the file left the topic open: %d %v", n, err)
	}
	if err := os.WriteFile(filepath.Join(c.Policies.Dir, put.File), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, raw := send(t, "POST", api+"/v1/operator/agreements/reload", op, "", nil, ""); code != 200 {
		t.Fatalf("reload with it: %d %s", code, raw)
	}
	if n, err := readTopic(brokers, "thads-hcm", password, topic, 1, 20*time.Second); n != 1 {
		t.Fatalf("thads-hcm after the reload: %d %v", n, err)
	}

	// A new Kafka password, from the operator: the old one stops at once.
	code, raw = send(t, "POST", api+"/v1/operator/kafka/users/thads-hcm/password", op, "", nil, "")
	var rotated struct{ Password string }
	if json.Unmarshal(raw, &rotated) != nil || code != 200 || rotated.Password == "" || rotated.Password == password {
		t.Fatalf("rotate: %d %s", code, raw)
	}
	if n, err := readTopic(brokers, "thads-hcm", password, topic, 1, 3*time.Second); err == nil || n > 0 {
		t.Fatalf("the old Kafka password still works: %d %v", n, err)
	}
	if n, err := readTopic(brokers, "thads-hcm", rotated.Password, topic, 1, 20*time.Second); n != 1 {
		t.Fatalf("the new Kafka password: %d %v", n, err)
	}
	if code, _ := send(t, "POST", api+"/v1/operator/kafka/users/bank-vcb/password", op, "", nil, ""); code != 404 {
		t.Fatalf("a password for an agency without a stream: %d", code)
	}

	// Every change is in the audit log as an agreement change.
	es, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Actor: "operator", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "agreement") {
			actions = append(actions, e.Action+":"+e.AgreementID)
		}
	}
	want := "agreement.put:thads-hcm-taxpayer-stream agreement.delete:thads-hcm-taxpayer-stream agreement.put:thads-hcm-taxpayer-stream agreements.reload: agreements.reload:"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("audited changes\n got %s\nwant %s", got, want)
	}
}

// A consumer that loses one of its stream agreements loses that topic
// only: the Kafka ACLs name each delivery topic, not a prefix.
func TestRemovedAgreementClosesOnlyItsTopic(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	dir := t.TempDir()
	c := devConfig(t, dir)
	c.Kafka.Auth = true
	c.Policies.Dir = copyAgreements(t, dir)
	var logs syncBuffer
	bus := startLogging(t, c, &logs)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	op := operatorToken(t, bus)
	password := ""
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Msg, User, Password string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, "kafka credential issued") && l.User == "vss" {
			password = l.Password
		}
	}
	if password == "" {
		t.Fatal("no Kafka credential issued to vss")
	}
	p := citizens(t, bus.Store, 1)[0]
	body, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, p)})
	if code, raw := postAs(t, api+"/v1/sources/civil_status/records", sourceToken(t, bus, "civil_status"), "application/json", body); code != 200 {
		t.Fatalf("push: %d %s", code, raw)
	}
	births := "deliver.vss.civil_status.birth_registration"
	if n, err := readTopic(bus.Addrs().Kafka, "vss", password, births, 1, 20*time.Second); n != 1 {
		t.Fatalf("vss reading births: %d %v", n, err)
	}
	if code, raw := send(t, "DELETE", api+"/v1/operator/agreements/vss-birth-registration-under6", op, "", nil, ""); code != 200 {
		t.Fatalf("delete: %d %s", code, raw)
	}
	if n, err := readTopic(bus.Addrs().Kafka, "vss", password, births, 1, 3*time.Second); err == nil || n > 0 {
		t.Fatalf("vss still reads births after that agreement was deleted: %d %v", n, err)
	}
	// vss keeps its other stream (deaths from the population register).
	if err := kafkaio.Ping(context.Background(), kafkaio.Cluster{Brokers: bus.Addrs().Kafka, User: "vss", Password: password}); err != nil {
		t.Fatalf("vss lost its login with one agreement: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := kafkaio.Dialer("vss", password)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := d.DialLeader(ctx, "tcp", bus.Addrs().Kafka[0], "deliver.vss.population.citizen", 0)
	if err != nil {
		t.Fatalf("vss cannot reach its remaining topic: %v", err)
	}
	conn.Close()
}
