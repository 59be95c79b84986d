package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/schemas"
)

// qualityFixture is the auth fixture's API with data quality wired to a
// real pipeline (an in-process Kafka writer) over the same store and audit
// log: mae owns the land source, vss does not.
type qualityFixture struct {
	*authFixture
	q    *quality.Quality
	prod *recordingProducer
}

func newQualityFixture(t *testing.T) *qualityFixture {
	t.Helper()
	f := &qualityFixture{authFixture: newAuthFixture(t), prod: &recordingProducer{}}
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	var dss []pipeline.DatasetSchema
	for _, d := range cat.Datasets() {
		if d.Format == schemas.FormatJSON {
			dss = append(dss, pipeline.DatasetSchema{Dataset: d, SchemaID: 1})
		}
	}
	verify := func(c pipeline.Claim) pipeline.Verdict {
		if c.Name == "Sai Tên" {
			return pipeline.Verdict{Outcome: "mismatch", Fields: "name:different"}
		}
		return pipeline.Verdict{Outcome: "verified"}
	}
	var p *pipeline.Pipeline
	f.q, err = quality.New(quality.Config{Store: f.st, Catalog: cat, Reconcile: verify, CitizenKey: f.audit.CitizenKey, Audit: f.audit.Append,
		Ingest: func(ctx context.Context, c string, recs []connectors.Record) ([]pipeline.RecordResult, error) {
			return p.Ingest(ctx, c, recs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = pipeline.New(pipeline.Config{Datasets: dss, Reconcile: verify, Observer: f.q.Observer(nil)}, f.prod); err != nil {
		t.Fatal(err)
	}
	d := f.h.d
	d.Quality, d.Ingest, d.Catalog = f.q, p, cat
	f.e = New(d)
	return f
}

func (f *qualityFixture) do(t *testing.T, kind, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	} else {
		rd = bytes.NewReader(nil)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set(echo.HeaderContentType, "application/json")
	}
	if tok := f.tokens[kind]; tok != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	CheckedHandler(t, f.e).ServeHTTP(rec, req)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, path, rec.Body.String())
	}
	return rec.Code, out
}

func landRecord(after string) string {
	return `{"dataset":"land.land_use_right","op":"c","after":{` + after + `}}`
}

const landFix = `"certificate_no":"CS012345","parcel_id":"12/34","province_code":"001","area_m2":120,"land_use_purpose":"ODT",` +
	`"holder_cccd":"001090001234","holder_name":"Nguyễn Văn An","holder_dob":"1990-01-02","issued_on":"2020-05-06"`

// The REST routes end to end: a rejected push becomes an item the owner
// lists, reads, resubmits (still invalid: open with the new reason;
// corrected: accepted) and cannot resubmit again (409); another ministry
// gets 403 (audited), the operator sees the item without its personal
// numbers; the scorecard counts it all.
func TestQualityRoutes(t *testing.T) {
	f := newQualityFixture(t)
	ctx := t.Context()
	bad := strings.Replace(landFix, `"holder_dob":"1990-01-02"`, `"holder_dob":"1990-02-31"`, 1)
	if code, out := f.do(t, "owner of land", http.MethodPost, "/v1/sources/land/records", landRecord(bad)); code != http.StatusUnprocessableEntity {
		t.Fatalf("push: %d %v", code, out)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	code, out := f.do(t, "owner of land", http.MethodGet, "/v1/quality/items?status=open", "")
	items, _ := out["items"].([]any)
	if code != 200 || len(items) != 1 {
		t.Fatalf("owner's items: %d %v", code, out)
	}
	item := items[0].(map[string]any)
	id := int64(item["id"].(float64))
	path := "/v1/quality/items/" + itoa(id)
	if item["path"] != "$.holder_dob" || !strings.Contains(string(mustJSON(item["record"])), "001090001234") {
		t.Fatalf("item: %v", item)
	}
	if code, out := f.do(t, "other agency", http.MethodGet, "/v1/quality/items", ""); code != 200 || len(out["items"].([]any)) != 0 {
		t.Fatalf("another agency's list: %d %v", code, out)
	}
	code, out = f.do(t, "operator", http.MethodGet, path, "")
	if code != 200 || out["masked"] != true || strings.Contains(string(mustJSON(out["record"])), "001090001234") {
		t.Fatalf("the operator's view: %d %v", code, out)
	}
	denials := countDenials(t, f.st)
	for _, tc := range []struct {
		kind, method, path, body string
		code                     int
		field                    string
	}{
		{"other agency", http.MethodPost, path + "/resubmit", landRecord(landFix), 403, "id"},
		{"other agency", http.MethodGet, path, "", 403, "id"},
		{"owner of land", http.MethodGet, "/v1/quality/items/x", "", 400, "id"},
		{"owner of land", http.MethodGet, "/v1/quality/items/99999", "", 404, "id"},
		{"owner of land", http.MethodPost, path + "/discard", `{"reason":" "}`, 400, "reason"},
		{"owner of land", http.MethodPost, path + "/discard", `{"why":"x"}`, 400, "$"},
		{"owner of land", http.MethodPost, path + "/resubmit", `{"records":[]}`, 400, "$.records"},
		{"owner of land", http.MethodGet, "/v1/quality?from=2026-13-01", "", 400, "from"},
		{"owner of land", http.MethodGet, "/v1/quality?from=2026-03-02&to=2026-03-01", "", 400, "from"},
		{"owner of land", http.MethodGet, "/v1/quality/items?status=closed", "", 400, "status"},
		{"owner of land", http.MethodPost, "/v1/quality/resubmissions", `{}`, 400, "$.kind"},
		{"anonymous", http.MethodGet, "/v1/quality", "", 401, "Authorization"},
	} {
		code, out := f.do(t, tc.kind, tc.method, tc.path, tc.body)
		if code != tc.code || out["field"] != tc.field || out["error"] == "" {
			t.Errorf("%s %s %s as %s: %d %v, want %d naming %s", tc.method, tc.path, tc.body, tc.kind, code, out, tc.code, tc.field)
		}
	}
	if got := countDenials(t, f.st); got != denials+1 {
		t.Fatalf("the refused resubmission was not audited: %d denials, want %d", got, denials+1)
	}

	stillBad := strings.Replace(landFix, `"land_use_purpose":"ODT"`, `"land_use_purpose":"XYZ"`, 1)
	code, out = f.do(t, "owner of land", http.MethodPost, path+"/resubmit", landRecord(stillBad))
	if code != 200 || out["item"].(map[string]any)["status"] != "open" || out["item"].(map[string]any)["path"] != "$.land_use_purpose" {
		t.Fatalf("still invalid: %d %v", code, out)
	}
	f.prod.take()
	code, out = f.do(t, "owner of land", http.MethodPost, path+"/resubmit", landRecord(landFix))
	if code != 200 || out["item"].(map[string]any)["status"] != "accepted" || out["result"].(map[string]any)["status"] != "published" {
		t.Fatalf("corrected: %d %v", code, out)
	}
	published := 0
	for _, m := range f.prod.take() {
		if m.Topic == "land.land_use_right.v1" {
			published++
		}
	}
	if published != 1 {
		t.Fatalf("%d records on the canonical topic, want 1", published)
	}
	if code, out := f.do(t, "owner of land", http.MethodPost, path+"/resubmit", landRecord(landFix)); code != 409 || !strings.Contains(out["error"].(string), "accepted") {
		t.Fatalf("resubmit an accepted item: %d %v", code, out)
	}
	code, out = f.do(t, "owner of land", http.MethodGet, path, "")
	if hist, _ := out["history"].([]any); code != 200 || len(hist) != 5 {
		t.Fatalf("history: %d %v", code, out)
	}
	es, err := f.st.SearchAudit(ctx, store.AuditSearch{Action: "quality.resubmit", Limit: 100})
	if err != nil || len(es) != 3 { // two resubmissions allowed, one denied
		t.Fatalf("resubmissions in the access log: %d %v", len(es), err)
	}

	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	code, out = f.do(t, "owner of land", http.MethodGet, "/v1/quality", "")
	total := out["total"].(map[string]any)
	if code != 200 || total["received"] != 3.0 || total["valid"] != 1.0 || len(out["trend"].([]any)) != 30 || len(out["top_reasons"].([]any)) != 2 {
		t.Fatalf("scorecard: %d %v", code, out)
	}
	if code, out := f.do(t, "other agency", http.MethodGet, "/v1/quality", ""); code != 200 || len(out["datasets"].([]any)) != 0 {
		t.Fatalf("another agency's scorecard: %d %v", code, out)
	}

	// Bulk: 202 with a job whose progress is readable by its starter.
	code, out = f.do(t, "owner of land", http.MethodPost, "/v1/quality/resubmissions", `{"kind":"enum"}`)
	if code != http.StatusAccepted || out["id"] == "" {
		t.Fatalf("bulk: %d %v", code, out)
	}
	jobPath := "/v1/quality/resubmissions/" + out["id"].(string)
	deadline := time.Now().Add(10 * time.Second)
	for first := true; first || out["state"] != "done" && time.Now().Before(deadline); first = false {
		// At least one GET: a job with nothing to do is done in its 202 already.
		time.Sleep(10 * time.Millisecond)
		code, out = f.do(t, "owner of land", http.MethodGet, jobPath, "")
	}
	if code != 200 || out["state"] != "done" {
		t.Fatalf("job: %d %v", code, out)
	}
	if code, _ := f.do(t, "other agency", http.MethodGet, jobPath, ""); code != 404 {
		t.Fatalf("another agency reads the job: %d", code)
	}
}

func itoa(n int64) string { return strings.TrimSpace(string(mustJSON(n))) }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func countDenials(t *testing.T, st store.AuditSearcher) int {
	t.Helper()
	es, err := st.SearchAudit(context.Background(), store.AuditSearch{Decision: "deny", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}
