package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// recordingProducer keeps what the pipeline writes and acknowledges it at
// once, as the async Kafka writer's completion would.
type recordingProducer struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (p *recordingProducer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, msgs...)
	p.mu.Unlock()
	pipeline.Completion(msgs, nil)
	return nil
}

func (p *recordingProducer) take() []kafka.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.msgs
	p.msgs = nil
	return m
}

// pushFixture is the real push path: the echo handler of New, the real
// catalog and pipeline (Avro envelopes as the registry builds them), and
// an agency owning every source with a token in a SQLite store.
type pushFixture struct {
	e     *echo.Echo
	token string
	prod  *recordingProducer
}

func newPushFixture(t testing.TB) *pushFixture {
	t.Helper()
	ctx := context.Background()
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
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
	var owned []string
	for s := range sources {
		owned = append(owned, s)
	}
	sort.Strings(owned)
	reg, err := policies.ParseAgencies("test.yaml", []byte(`agencies:
  - {id: pusher, name: P, kind: ministry, contact: {name: a, email: a@p.gov.vn}, state: active, sources: [`+strings.Join(owned, ", ")+`]}
`))
	if err != nil {
		t.Fatal(err)
	}
	toks := credentials.New(st)
	_, secret, err := toks.Issue(ctx, "pusher")
	if err != nil {
		t.Fatal(err)
	}
	e := New(Deps{Catalog: cat, SchemaIDs: ids, Ingest: p, Sources: sources, Tokens: toks, Registry: RegistryFunc(func() *policies.Agencies { return reg }),
		AuditLog: log, Metrics: prometheus.NewRegistry()})
	return &pushFixture{e: e, token: secret, prod: prod}
}

// call sends body to path and returns the status, the decoded answer and
// what the pipeline wrote meanwhile.
func (f *pushFixture) call(t testing.TB, path string, body []byte) (int, map[string]any, []kafka.Message) {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set(echo.HeaderContentType, "application/json")
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+f.token)
	rec := httptest.NewRecorder()
	CheckedHandler(t, f.e).ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	var msgs []kafka.Message // canonical topics and dead letters, not feedback to the source
	for _, m := range f.prod.take() {
		if !strings.HasPrefix(m.Topic, "feedback.") {
			msgs = append(msgs, m)
		}
	}
	return rec.Code, out, msgs
}

func topics(msgs []kafka.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Topic+" "+envelope.HeaderValue(m.Headers, contract.HeaderErrorPath))
	}
	return out
}

const landRow = `"certificate_no":"CS012345","parcel_id":"12/34","province_code":"001","land_use_purpose":"ODT",` +
	`"holder_name":"Nguyễn Văn An","holder_dob":"1990-01-02","issued_on":"2020-05-06"`

func landPush(after string) []byte {
	return []byte(`{"records":[{"dataset":"land.land_use_right","op":"c","after":{` + after + `}}]}`)
}

const insuranceRow = `"social_insurance_no":"0123456789","cccd":"001090012345","full_name":"Trần Thị Bình","dob":"1990-01-02","sex":"F",` +
	`"participation_type":"COMPULSORY","start_date":"2015-01-01","status":"ACTIVE"`

// Every finding of the review, through the real handler: lenient JSON is a
// 400 naming the path; a number that cannot be represented or a control
// character in a value is a dead letter (422) naming the path, and the
// process goes on.
func TestPushRefusesLenientJSON(t *testing.T) {
	f := newPushFixture(t)
	tests := []struct {
		name   string
		source string
		body   []byte
		code   int
		path   string // the answer's field (400) or the result's path (422)
		want   string // in the error
	}{
		{"valid", "land", landPush(landRow + `,"holder_cccd":"001090012345","area_m2":120.5`), 200, "", ""},
		{"huge exponent", "land", landPush(landRow + `,"holder_cccd":"001090012345","area_m2":1e5000000`), 422, "$.area_m2", "out of range"},
		{"underflow to zero", "land", landPush(landRow + `,"holder_cccd":"001090012345","area_m2":1e-400`), 422, "$.area_m2", "too small"},
		{"Avro long too big", "insurance", []byte(`{"dataset":"insurance.social_insurance_participant","after":{` + insuranceRow + `,"contribution_salary":1e5000000}}`), 422, "$.contribution_salary", "out of range"},
		{"Avro long with a fraction", "insurance", []byte(`{"dataset":"insurance.social_insurance_participant","after":{` + insuranceRow + `,"contribution_salary":5000000.5}}`), 422, "$.contribution_salary", "not an integer"},
		{"duplicate member", "land", landPush(landRow + `,"holder_cccd":"001090012345","area_m2":120.5,"holder_cccd":"079090012345"`), 400, "$.records[0].after.holder_cccd", "duplicate member"},
		{"AFTER", "land", []byte(`{"records":[{"dataset":"land.land_use_right","AFTER":{` + landRow + `}}]}`), 400, "$.records[0].AFTER", `did you mean "after"`},
		{"Dataset", "land", []byte(`{"Dataset":"land.land_use_right","after":{` + landRow + `}}`), 400, "$.Dataset", `did you mean "dataset"`},
		{"Records", "land", []byte(`{"Records":[]}`), 400, "$.Records", `did you mean "records"`},
		{"unknown envelope member", "land", []byte(`{"records":[],"source":"x"}`), 400, "$.source", "unknown member"},
		{"unknown record member", "land", []byte(`{"records":[{"dataset":"land.land_use_right","after":{},"row":{}}]}`), 400, "$.records[0].row", "unknown member"},
		{"invalid UTF-8", "land", landPush(`"holder_cccd":"001090012345","holder_name":"Nguy` + "\xe1\xbb" + `n"`), 400, "$.records[0].after.holder_name", "invalid UTF-8"},
		{"lone surrogate", "land", landPush(`"holder_name":"\ud800"`), 400, "$.records[0].after.holder_name", "surrogate"},
		{"NUL in a member name", "land", landPush(`"holder_cccd\u0000":"001090012345"`), 400, `$.records[0].after["holder_cccd\x00"]`, "control character U+0000"},
		{"ESC in a member name", "land", landPush(`"holder\u001bcccd":"001090012345"`), 400, `$.records[0].after["holder\x1bcccd"]`, "control character U+001B"},
		{"CR in a member name", "land", landPush("\"a\\r\":1"), 400, `$.records[0].after["a\r"]`, "control character U+000D"},
		{"ESC in a value", "land", landPush(`"certificate_no":"CS012345","holder_name":"\u001b[2JAn"`), 422, "$.holder_name", "U+001B"},
		{"NUL in a value", "land", landPush(`"certificate_no":"CS012345","holder_name":"An\u0000"`), 422, "$.holder_name", "U+0000"},
		{"trailing data", "land", []byte(`{"dataset":"land.land_use_right","after":{}} {}`), 400, "$", "trailing data"},
		{"dataset not a string", "land", []byte(`{"dataset":1,"after":{}}`), 400, "$.dataset", "must be a string"},
		{"after not an object", "land", []byte(`{"records":[{"dataset":"x.y","after":[1]}]}`), 400, "$.records[0].after", "object or null"},
		{"no dataset", "land", []byte(`{"after":{}}`), 400, "$.dataset", "no dataset"},
		{"not an object", "land", []byte(`[1,2]`), 400, "$", "JSON object"},
		{"malformed", "land", []byte(`{"records": [`), 400, "$.records[0]", "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, msgs := f.call(t, "/v1/sources/"+tt.source+"/records", tt.body)
			if code != tt.code {
				t.Fatalf("status %d, want %d: %v", code, tt.code, out)
			}
			switch code {
			case 200:
				if len(msgs) != 1 || strings.HasPrefix(msgs[0].Topic, "dlq.") {
					t.Fatalf("valid record: messages %v, answer %v", topics(msgs), out)
				}
			case 400:
				if out["field"] != tt.path || !strings.Contains(out["error"].(string), tt.want) {
					t.Fatalf("want field %q and an error naming it containing %q, got %v", tt.path, tt.want, out)
				}
				if len(msgs) != 0 {
					t.Fatalf("a refused body wrote %d messages", len(msgs))
				}
			case 422:
				res := out["results"].([]any)[0].(map[string]any)
				if res["path"] != tt.path || !strings.Contains(res["error"].(string), tt.want) || res["status"] != "dead_lettered" {
					t.Fatalf("want a dead letter at %q containing %q, got %v", tt.path, tt.want, res)
				}
				if len(msgs) != 1 || msgs[0].Topic != "dlq."+tt.source || envelope.HeaderValue(msgs[0].Headers, contract.HeaderErrorPath) != tt.path {
					t.Fatalf("dead letter not written: %v", topics(msgs))
				}
			}
		})
	}
}

// /v1/lookup and /v1/verify read their bodies as strictly, before any
// policy decision.
func TestAccessBodiesAreStrict(t *testing.T) {
	f := newPushFixture(t)
	tests := []struct {
		name, path string
		body       string
		field      string
		want       string
	}{
		{"duplicate citizen", "/v1/lookup", `{"dataset":"tax.taxpayer","citizen":"001090012345","citizen":"079090012345","purpose":"x"}`, "$.citizen", "duplicate member"},
		{"case-folded member", "/v1/lookup", `{"Dataset":"tax.taxpayer","citizen":"001090012345","purpose":"x"}`, "$.Dataset", `did you mean "dataset"`},
		{"unknown member", "/v1/verify", `{"dataset":"tax.taxpayer","citizen":"001090012345","purpose":"x","claims":{"a":1},"extra":1}`, "$.extra", "unknown member"},
		{"lone surrogate in a claim", "/v1/verify", `{"dataset":"tax.taxpayer","citizen":"001090012345","purpose":"x","claims":{"full_name":"\udc00"}}`, "$.claims.full_name", "surrogate"},
		{"invalid UTF-8", "/v1/lookup", "{\"dataset\":\"tax.taxpayer\",\"citizen\":\"001090012345\",\"purpose\":\"\xff\"}", "$.purpose", "invalid UTF-8"},
		{"not an object", "/v1/lookup", `[]`, "$", "expected a JSON object"},
		// members of the wrong type, named (read from the strict decoding)
		{"dataset a number", "/v1/lookup", `{"dataset":7,"citizen":"001090012345","purpose":"x"}`, "$.dataset", "dataset must be a string, got a number"},
		{"citizen an object", "/v1/lookup", `{"dataset":"tax.taxpayer","citizen":{},"purpose":"x"}`, "$.citizen", "citizen must be a string, got an object"},
		{"fields a string", "/v1/lookup", `{"dataset":"tax.taxpayer","citizen":"001090012345","purpose":"x","fields":"tax_code"}`, "$.fields", "fields must be an array"},
		{"a field a number", "/v1/lookup", `{"dataset":"tax.taxpayer","citizen":"001090012345","purpose":"x","fields":["tax_code",3]}`, "$.fields[1]", "fields[1] is a number"},
		{"claims an array", "/v1/verify", `{"dataset":"tax.taxpayer","citizen":"001090012345","purpose":"x","claims":[]}`, "$.claims", "claims must be an object"},
		{"case reference true", "/v1/lookup", `{"dataset":"tax.taxpayer","citizen":"001090012345","purpose":"x","case_reference":true}`, "$.case_reference", "case_reference must be a string, got a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := f.call(t, tt.path, []byte(tt.body))
			if code != 400 || out["field"] != tt.field || !strings.Contains(out["error"].(string), tt.want) {
				t.Fatalf("got %d %v, want 400 naming %s containing %q", code, out, tt.field, tt.want)
			}
		})
	}
}
