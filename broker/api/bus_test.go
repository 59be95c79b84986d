package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/citizenauth"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/registry"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/prometheus/client_golang/prometheus"
)

// testBus is the REST API of a dev bus without the bus: the real catalog,
// the agreements and agency registry built into the binary (those of lgsp
// dev), the real pipeline writing to a recordingProducer, the real audit
// log, API tokens and dataset state in a SQLite store; fakes only for the
// parts that need Kafka or the runtime (connectors, agreement changes,
// Kafka users). It is served over HTTP, so that every answer is checked
// against openapi.json (TestMain).
type testBus struct {
	url      string
	handler  http.Handler // the API unserved, for benchmarks
	operator string
	st       *sqlitestore.Store
	log      *audit.Log
	engine   *policies.Engine
	registry *policies.Agencies
	prod     *recordingProducer
	conns    *fakeConnectors
	changes  *fakeAgreements
	kafka    *fakeKafkaUsers
	// flow is what /v1/status shows as "flow".
	flow metrics.Flow
}

func newTestBus(t testing.TB) *testBus {
	t.Helper()
	ctx := context.Background()
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	set, err := policies.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	ags, err := policies.LoadEmbeddedAgencies()
	if err != nil {
		t.Fatal(err)
	}
	engine := policies.NewEngine(set)
	engine.SetAgencies(ags)
	p, prod, ids, sources := testPipeline(t, cat)
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	_, key, _ := ed25519.GenerateKey(nil)
	log, err := audit.Open(ctx, st, bytes.Repeat([]byte("k"), 32), audit.WithSigner(key))
	if err != nil {
		t.Fatal(err)
	}
	citizens, err := citizenauth.New(bytes.Repeat([]byte("c"), 32))
	if err != nil {
		t.Fatal(err)
	}
	b := &testBus{operator: "operator-token-" + hex.EncodeToString(key[:16]), st: st, log: log, engine: engine, registry: ags, prod: prod,
		conns:   &fakeConnectors{states: []runtime.State{{Name: "tax", Status: "running", Position: "0000000000000063", Read: 100, Acked: 100, Since: time.Now()}}},
		changes: &fakeAgreements{}, kafka: &fakeKafkaUsers{users: map[string]bool{"vss": true}},
		flow: metrics.New(func() float64 { return 0 }).Flow()}
	b.handler = New(Deps{Catalog: cat, SchemaIDs: ids, Sources: sources, Ingest: p,
		Connectors: b.conns, Engine: engine, Agreements: b.changes, KafkaUsers: b.kafka,
		Registry:      RegistryFunc(func() *policies.Agencies { return b.registry }),
		OperatorToken: b.operator, Tokens: credentials.New(st), CitizenKeys: log, CitizenTokens: citizens, Audit: st, AuditLog: log, State: st, Idempotency: st,
		Instance: InstanceFuncs{StatusFunc: func() any {
			return map[string]any{"records_in": 0, "published": 0, "dead_lettered": 0, "delivered": 0, "connectors": b.conns.States(),
				"population": 0, "instance": "test", "signs_checkpoints": true, "flow": b.flow}
		}},
		Ready:   map[string]func(context.Context) error{"store": st.Ping},
		Metrics: prometheus.NewRegistry()})
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// testPipeline is the real pipeline over the real catalog (Avro envelopes
// as the registry builds them), writing to a recordingProducer; ids are the
// datasets' schema ids and sources the catalog's sources.
func testPipeline(t testing.TB, cat *schemas.Catalog) (*pipeline.Pipeline, *recordingProducer, map[string]int, map[string]bool) {
	t.Helper()
	var dss []pipeline.DatasetSchema
	sources := map[string]bool{}
	ids := map[string]int{}
	for i, d := range cat.Datasets() {
		ds := pipeline.DatasetSchema{Dataset: d, SchemaID: i + 1}
		if d.Format == schemas.FormatAvro {
			_, text, err := registry.EnvelopeSchema(d)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Envelope, err = avro.Parse(text); err != nil {
				t.Fatal(err)
			}
		}
		dss = append(dss, ds)
		sources[d.Owner] = true
		ids[d.Name] = ds.SchemaID
	}
	prod := &recordingProducer{}
	p, err := pipeline.New(pipeline.Config{Datasets: dss, Reconcile: func(pipeline.Claim) pipeline.Verdict { return pipeline.Verdict{Outcome: "verified"} }}, prod)
	if err != nil {
		t.Fatal(err)
	}
	return p, prod, ids, sources
}

// send calls the bus with any body and content type and returns the status
// and the raw answer.
func (b *testBus) send(t *testing.T, method, path, token, ctype string, body []byte) (int, []byte) {
	t.Helper()
	code, raw, _ := b.sendH(t, method, path, token, ctype, body)
	return code, raw
}

// sendH is send that also returns the answer's headers.
func (b *testBus) sendH(t *testing.T, method, path, token, ctype string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
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
	return resp.StatusCode, raw, resp.Header
}

// call sends body as JSON (nil: none) and decodes the JSON answer.
func (b *testBus) call(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	code, out := b.send(t, method, path, token, "application/json", raw)
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return code, m
}

// agencyToken has the operator issue an API token to agency.
func (b *testBus) agencyToken(t *testing.T, agency string) string {
	t.Helper()
	code, out := b.call(t, "POST", "/v1/operator/agencies/"+agency+"/tokens", b.operator, nil)
	if code != http.StatusCreated {
		t.Fatalf("issue a token for %s: %d %v", agency, code, out)
	}
	return out["token"].(string)
}

// sourceToken is an API token of the agency that owns source.
func (b *testBus) sourceToken(t *testing.T, source string) string {
	t.Helper()
	owner, ok := b.registry.SourceOwner(source)
	if !ok {
		t.Fatalf("no agency owns source %s", source)
	}
	return b.agencyToken(t, owner.ID)
}

// fakeConnectors is the connectors of an instance: Reset records the
// call and moves the position, or fails with err.
type fakeConnectors struct {
	mu     sync.Mutex
	states []runtime.State
	resets []string // name@hex position
	err    error
}

func (f *fakeConnectors) States() []runtime.State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]runtime.State(nil), f.states...)
}

func (f *fakeConnectors) Reset(_ context.Context, name string, pos []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	for i := range f.states {
		if f.states[i].Name == name {
			f.resets = append(f.resets, name+"@"+hex.EncodeToString(pos))
			f.states[i].Position, f.states[i].Resets = hex.EncodeToString(pos), f.states[i].Resets+1
			return nil
		}
	}
	return ErrNoConnector
}

// fakeAgreements records the changes asked of the runtime and answers
// with change, or err.
type fakeAgreements struct {
	mu     sync.Mutex
	calls  []string // reload, put:<id>, delete:<id>
	bodies [][]byte // the YAML of each put
	change AgreementChange
	err    error
}

func (f *fakeAgreements) record(call string, body []byte) (AgreementChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if body != nil {
		f.bodies = append(f.bodies, body)
	}
	return f.change, f.err
}

func (f *fakeAgreements) Reload(context.Context) (AgreementChange, error) {
	return f.record("reload", nil)
}

func (f *fakeAgreements) Put(_ context.Context, id string, yamlText []byte) (AgreementChange, error) {
	return f.record("put:"+id, yamlText)
}

func (f *fakeAgreements) Delete(_ context.Context, id string) (AgreementChange, error) {
	return f.record("delete:"+id, nil)
}

// fakeKafkaUsers knows users and fails with err when set.
type fakeKafkaUsers struct {
	users map[string]bool
	n     int
	err   error
}

func (f *fakeKafkaUsers) RotatePassword(_ context.Context, user string) (string, error) {
	if f.err != nil {
		return "", f.err
	}
	if !f.users[user] {
		return "", ErrNoKafkaUser
	}
	f.n++
	return "new-password-" + string(rune('0'+f.n)), nil
}

var errDriver = errors.New(`pq: relation "secret_internal_table" does not exist`)
