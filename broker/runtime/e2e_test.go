package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/segmentio/kafka-go"
)

// The tests plug in the synthetic world as lgsp dev does
// (examples/synthetic/plug, which the bus's tests may not import): the
// register's population and, with synthetic.enabled, one synthetic
// connector per source.
var population = synthetic.RegisteredCitizen

func devConnectors(c config.Config) func([]string) []config.Connector {
	sc := c.Synthetic
	return func(sources []string) []config.Connector {
		var out []config.Connector
		for _, s := range synthetic.Streams(sources, sc.Seed, sc.Population, sc.RatePerSecond, sc.Limit) {
			out = append(out, config.Connector{Name: s.Source, Adapter: synthetic.AdapterName, Config: s.Raw()})
		}
		return out
	}
}

// devConfig is a dev-mode config on free ports in a temp dir.
func devConfig(t *testing.T, dir string) config.Config {
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic.Enabled, c.Synthetic.Population = false, 2000
	return c
}

func start(t *testing.T, c config.Config) *runtime.Bus {
	t.Helper()
	return startLogging(t, c, nil)
}

// startLogging starts a bus whose operator logs (debug level) go to logs.
func startLogging(t *testing.T, c config.Config, logs io.Writer) *runtime.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func citizens(t *testing.T, st store.Store, n int) []store.Citizen {
	var out []store.Citizen
	err := st.ScanCitizens(context.Background(), func(c store.Citizen) error {
		if !c.Deceased && len(out) < n {
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// birthRow is a valid civil-status birth registration of citizen c.
func birthRow(i int, c store.Citizen) map[string]any {
	return map[string]any{
		"registration_no": fmt.Sprintf("001/2024/%d", i), "child_cccd": c.ID, "child_name": c.FullName, "child_dob": c.DOB,
		"child_sex": c.Sex, "birth_province": c.BirthProvince, "mother_cccd": nil, "mother_name": "Trần Thị Mai",
		"father_name": "Nguyễn Văn Hùng", "registered_on": "2024-05-02",
	}
}

type pushResult struct {
	Results []struct {
		EventID  string `json:"event_id"`
		Status   string `json:"status"`
		Topic    string `json:"topic"`
		Identity string `json:"identity"`
		Kind     string `json:"kind"`
		Path     string `json:"path"`
		Error    string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

func readAll(t *testing.T, brokers []string, topic string, want int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "e2e-" + topic + fmt.Sprint(time.Now().UnixNano()), Topic: topic, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	var out []kafka.Message
	for len(out) < want {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("%s: read %d of %d: %v", topic, len(out), want, err)
		}
		out = append(out, m)
	}
	// Nothing more than expected.
	short, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	if m, err := r.FetchMessage(short); err == nil {
		t.Fatalf("%s: unexpected extra message at offset %d", topic, m.Offset)
	}
	return out
}

func TestEndToEndFixedBatch(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	var logs syncBuffer
	bus := startLogging(t, devConfig(t, t.TempDir()), &logs)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	brokers := bus.Addrs().Kafka

	people := citizens(t, bus.Store, 40)
	var recs []map[string]any
	for i := 0; i < 30; i++ {
		recs = append(recs, map[string]any{"dataset": "civil_status.birth_registration", "op": "c", "after": birthRow(i, people[i])})
	}
	// Identity problems: published with an outcome, not dead-lettered.
	misspelled := birthRow(30, people[30])
	misspelled["child_name"] = people[30].FullName + "x"
	unknown := birthRow(31, people[31])
	unknown["child_cccd"] = people[31].ID[:6] + "999999"
	recs = append(recs, map[string]any{"dataset": "civil_status.birth_registration", "after": misspelled},
		map[string]any{"dataset": "civil_status.birth_registration", "after": unknown})
	// Schema violations and an unknown dataset: dead-lettered with reasons.
	missing := birthRow(32, people[32])
	delete(missing, "child_name")
	badEnum := birthRow(33, people[33])
	badEnum["child_sex"] = "X"
	recs = append(recs,
		map[string]any{"dataset": "civil_status.birth_registration", "after": missing},
		map[string]any{"dataset": "civil_status.birth_registration", "after": badEnum},
		map[string]any{"dataset": "civil_status.no_such_dataset", "after": birthRow(34, people[34])})
	body, _ := json.Marshal(map[string]any{"records": recs})
	code, raw := postAs(t, api+"/v1/sources/civil_status/records", sourceToken(t, bus, "civil_status"), "application/json", body)
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("mixed batch: want 422, got %d %s", code, raw)
	}
	var res pushResult
	if err := json.Unmarshal(raw, &res); err != nil || len(res.Results) != len(recs) {
		t.Fatalf("%v %s", err, raw)
	}
	wantDLQ := map[int]string{32: "$.child_name", 33: "$.child_sex", 34: "$"}
	published := map[string]int{} // event id → record index
	for i, r := range res.Results {
		if p, bad := wantDLQ[i]; bad {
			if r.Status != "dead_lettered" || r.Path != p || r.Error == "" {
				t.Errorf("record %d: want dead-lettered at %s, got %+v", i, p, r)
			}
			continue
		}
		if r.Status != "published" || r.Topic != "civil_status.birth_registration.v1" {
			t.Errorf("record %d: %+v", i, r)
		}
		published[r.EventID] = i
	}
	if res.Results[30].Identity != "mismatch" || res.Results[31].Identity != "not_found" || res.Results[0].Identity != "verified" {
		t.Errorf("identity outcomes: %s %s %s", res.Results[0].Identity, res.Results[30].Identity, res.Results[31].Identity)
	}

	// Exactly the valid records reach the canonical topic, with CloudEvents headers.
	msgs := readAll(t, brokers, "civil_status.birth_registration.v1", len(published))
	subj, err := bus.Reg.Latest(context.Background(), "civil_status.birth_registration.v1-value")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		id := envelope.HeaderValue(m.Headers, contract.HeaderID)
		i, ok := published[id]
		if !ok {
			t.Fatalf("unexpected event %s on the canonical topic", id)
		}
		delete(published, id)
		for _, h := range []string{contract.HeaderSpecVersion, contract.HeaderSource, contract.HeaderType, contract.HeaderTime, contract.HeaderContentType, contract.HeaderSchemaID, contract.HeaderIdentity} {
			if envelope.HeaderValue(m.Headers, h) == "" {
				t.Errorf("event %s lacks header %s", id, h)
			}
		}
		if string(m.Key) != fmt.Sprintf("001/2024/%d", i) {
			t.Errorf("key %q for record %d", m.Key, i)
		}
		sid, payload, err := contract.SplitWire(m.Value)
		if err != nil || sid != subj.ID || fmt.Sprint(sid) != envelope.HeaderValue(m.Headers, contract.HeaderSchemaID) {
			t.Fatalf("wire format: id %d (registry %d) %v", sid, subj.ID, err)
		}
		var v map[string]any
		if err := json.Unmarshal(payload, &v); err != nil || v["op"] != "c" || v["after"] == nil {
			t.Fatalf("value %s: %v", payload, err)
		}
	}
	if len(published) != 0 {
		t.Fatalf("%d published records missing from the topic", len(published))
	}

	// The dead letters say why.
	dlq := readAll(t, brokers, "dlq.civil_status", 3)
	for _, m := range dlq {
		if envelope.HeaderValue(m.Headers, contract.HeaderErrorKind) == "" || envelope.HeaderValue(m.Headers, contract.HeaderErrorPath) == "" || envelope.HeaderValue(m.Headers, contract.HeaderErrorMessage) == "" {
			t.Errorf("dead letter without reason headers: %v", m.Headers)
		}
	}
	// And the ministry's feedback topic names each rejected row by its key
	// with the reason (beside the mismatch and not_found notes).
	rejected := map[string]string{}
	for _, m := range readAll(t, brokers, "feedback.civil_status", 5) {
		var fb map[string]string
		if err := json.Unmarshal(m.Value, &fb); err != nil {
			t.Fatalf("feedback %s: %v", m.Value, err)
		}
		if fb["status"] == "dead_lettered" {
			if fb["reason"] == "" || fb["error_path"] == "" || string(m.Key) == "" {
				t.Errorf("feedback on a rejected row without key or reason: %s", m.Value)
			}
			rejected[fb["key"]] = fb["error_path"]
		}
	}
	if want := map[string]string{"001/2024/32": "$.child_name", "001/2024/33": "$.child_sex", "": "$"}; !maps.Equal(rejected, want) {
		t.Errorf("feedback on rejected rows (key → path): %v, want %v", rejected, want)
	}

	// The consumer topic holds only what the agreement allows, and every
	// delivery has its audit record.
	grants := bus.Engine.StreamTargets("civil_status.birth_registration", time.Now())
	if len(grants) == 0 {
		t.Fatal("no stream agreement on birth registrations")
	}
	for _, g := range grants {
		topic := "deliver." + g.Consumer + ".civil_status.birth_registration"
		n := 0
		for _, m := range msgs {
			var v struct {
				After map[string]any `json:"after"`
			}
			_, p, _ := contract.SplitWire(m.Value)
			_ = json.Unmarshal(p, &v)
			if _, _, ok := g.Project(v.After); ok {
				n++
			}
		}
		delivered := readAll(t, brokers, topic, n)
		checkDelivered(t, bus, g, delivered)
	}

	// Operator logs never hold a personal number in clear.
	for _, r := range recs {
		row := r["after"].(map[string]any)
		if id, _ := row["child_cccd"].(string); id != "" && strings.Contains(logs.String(), id) {
			t.Errorf("a personal number appears in the operator logs")
		}
	}

	// Once everything is delivered the consumer-lag metric says so.
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(api + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "\nlgsp_delivery_consumer_lag 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer lag never reached 0:\n%s", grepLines(string(body), "lgsp_delivery_consumer_lag"))
		}
		time.Sleep(200 * time.Millisecond)
	}

	// And kcat, a librdkafka client, reads the same topic with its headers.
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is required in CI (apt-get install kcat)")
		}
		t.Log("kcat not installed; skipping the librdkafka check (CI runs it)")
		return
	}
	out, err := exec.Command(kcat, "-b", brokers[0], "-C", "-t", "civil_status.birth_registration.v1", "-o", "beginning", "-e", "-q", "-f", "%k %h\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(msgs) {
		t.Fatalf("kcat read %d messages, kafka-go %d", len(lines), len(msgs))
	}
	for _, l := range lines {
		if !strings.Contains(l, "ce_id=") || !strings.Contains(l, "ce_specversion=1.0") {
			t.Errorf("kcat sees no CloudEvents headers: %s", l)
		}
	}
}

func checkDelivered(t *testing.T, bus *runtime.Bus, g policies.Grant, msgs []kafka.Message) {
	t.Helper()
	allowed := map[string]bool{}
	for _, f := range g.Fields {
		allowed[f] = true
	}
	for _, m := range msgs {
		_, p, err := contract.SplitWire(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			After     map[string]any `json:"after"`
			Agreement string         `json:"agreement"`
		}
		if err := json.Unmarshal(p, &v); err != nil {
			t.Fatal(err)
		}
		if v.Agreement != g.AgreementID {
			t.Errorf("delivered under %q, want %q", v.Agreement, g.AgreementID)
		}
		for f := range v.After {
			if !allowed[f] {
				t.Errorf("%s received field %s outside agreement %s", g.Consumer, f, g.AgreementID)
			}
		}
		id := envelope.HeaderValue(m.Headers, contract.HeaderID)
		entries, err := bus.Store.ListAudit(context.Background(), store.AuditQuery{RequestID: id, Actor: g.Consumer})
		if err != nil || len(entries) == 0 {
			t.Errorf("delivery of %s to %s has no audit record (%v)", id, g.Consumer, err)
		}
		for _, e := range entries {
			if e.AgreementID != g.AgreementID || e.Decision != "allow" || e.LegalBasis == "" {
				t.Errorf("audit entry %+v", e)
			}
		}
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// syncBuffer is a log sink safe for the bus's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
