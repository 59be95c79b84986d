package console

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/api"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
)

// ackAll is an in-process Kafka writer that acknowledges at once.
type ackAll struct{}

func (ackAll) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	pipeline.Completion(msgs, nil)
	return nil
}

// qualityConsole is the console over the real REST API, with data quality
// over a real pipeline and SQLite store: mae owns the land source, vss the
// insurance source. It holds one rejected land record.
type qualityConsole struct {
	*fixture
	q            *quality.Quality
	mae, vss, op string
	itemID       string
}

const landOK = `"certificate_no":"CS012345","parcel_id":"12/34","province_code":"001","area_m2":120,"land_use_purpose":"ODT",` +
	`"holder_cccd":"001090001234","holder_name":"Nguyễn Văn An","holder_dob":"1990-01-02","issued_on":"2020-05-06"`

func newQualityConsole(t *testing.T) *qualityConsole {
	t.Helper()
	ctx := context.Background()
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
	reg, err := policies.ParseAgencies("test.yaml", []byte(`agencies:
  - {id: mae, name: "Bộ Nông nghiệp và Môi trường (Ministry of Agriculture and Environment)", kind: ministry, contact: {name: a, email: a@mae.gov.vn}, state: active, sources: [land]}
  - {id: vss, name: "Bảo hiểm xã hội Việt Nam (Vietnam Social Security)", kind: ministry-level, contact: {name: b, email: b@vss.gov.vn}, state: active, sources: [insurance]}
`))
	if err != nil {
		t.Fatal(err)
	}
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
	verified := func(pipeline.Claim) pipeline.Verdict { return pipeline.Verdict{Outcome: "verified"} }
	var p *pipeline.Pipeline
	q, err := quality.New(quality.Config{Store: st, Catalog: cat, Reconcile: verified, CitizenKey: log.CitizenKey, Audit: log.Append,
		Ingest: func(ctx context.Context, c string, recs []connectors.Record) ([]pipeline.RecordResult, error) {
			return p.Ingest(ctx, c, recs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if p, err = pipeline.New(pipeline.Config{Datasets: dss, Reconcile: verified, Observer: q.Observer(nil)}, ackAll{}); err != nil {
		t.Fatal(err)
	}
	toks := credentials.New(st)
	qc := &qualityConsole{q: q, op: strings.Repeat("o", 64)}
	for _, a := range []struct {
		id  string
		dst *string
	}{{"mae", &qc.mae}, {"vss", &qc.vss}} {
		if _, *a.dst, err = toks.Issue(ctx, a.id); err != nil {
			t.Fatal(err)
		}
	}
	rest := api.New(api.Deps{Catalog: cat, Ingest: p, Sources: map[string]bool{"land": true, "insurance": true}, Tokens: toks, OperatorToken: qc.op,
		Registry: api.RegistryFunc(func() *policies.Agencies { return reg }), AuditLog: log, Metrics: prometheus.NewRegistry(), Quality: q,
		Instance: api.InstanceFuncs{StatusFunc: func() any { return map[string]any{"records_in": 1} }}})
	con, err := New(Deps{API: rest, OperatorToken: qc.op, Registry: func() *policies.Agencies { return reg },
		AgencyToken: func(ctx context.Context, tok string) (string, error) {
			ag, _, err := toks.Verify(ctx, tok)
			return ag, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con)
	t.Cleanup(srv.Close)
	qc.fixture = &fixture{con: con, srv: srv}
	// A rejected push of the land registry: holder_dob is not a date.
	bad := strings.Replace(landOK, "1990-01-02", "1990-02-31", 1)
	results, err := p.Ingest(ctx, "land", []connectors.Record{{Dataset: "land.land_use_right", Op: connectors.OpCreate, Position: connectors.Position("p1"),
		After: jsonRow(t, bad)}})
	if err != nil || results[0].Status != pipeline.StatusDeadLettered {
		t.Fatalf("seed: %+v %v", results, err)
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := q.List(ctx, quality.Viewer{Operator: true}, quality.ItemQuery{})
	if err != nil || len(items) != 1 {
		t.Fatalf("seed items: %v %v", items, err)
	}
	qc.itemID = itoa(int(items[0].ID))
	return qc
}

func jsonRow(t *testing.T, members string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := jsonUnmarshal([]byte("{"+members+"}"), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The ministry's pages in both languages: its scorecard with the trend
// as inline SVG and the rejection reasons with their JSON path, its items
// and an item with the record as received; another ministry is refused
// the item; the operator sees it masked.
func TestQualityPagesInBothLanguages(t *testing.T) {
	f := newQualityConsole(t)
	for _, l := range []Lang{Vietnamese, English} {
		for _, c := range []struct {
			name, token, path string
			code              int
			title             string
			want              []string
		}{
			{"scorecard", f.mae, "/ui/quality", 200, "quality.title", []string{"quality.trend", `id="quality-chart"`, "<polyline", "land.land_use_right", "$.holder_dob", "quality.reasons"}},
			{"scorecard 90 days", f.mae, "/ui/quality?days=90", 200, "quality.title", []string{`aria-current="page">90`}},
			{"items", f.mae, "/ui/quality/items", 200, "quality.items", []string{"qitem-" + f.itemID, "$.holder_dob"}},
			{"item", f.mae, "/ui/quality/items/" + f.itemID, 200, "quality.item.title", []string{"quality.resubmit.btn", "quality.discard.reason", "001090001234", "1990-02-31", "quality.history"}},
			{"item of another ministry", f.vss, "/ui/quality/items/" + f.itemID, 403, "refused.title", []string{"not_source_owner"}},
			{"another ministry's empty list", f.vss, "/ui/quality/items", 200, "quality.items", []string{"quality.items.none"}},
			{"operator's masked view", f.op, "/ui/quality/items/" + f.itemID, 200, "quality.item.title", []string{"quality.masked", "*********234"}},
		} {
			t.Run(string(l)+"/"+c.name, func(t *testing.T) {
				b := f.browser(t, l)
				b.signIn(c.token)
				code, page, h := b.do("GET", c.path, nil)
				if code != c.code {
					t.Fatalf("%d, want %d: %s", code, c.code, page)
				}
				if !strings.Contains(page, "<h1>"+text(l, c.title)+"</h1>") {
					t.Errorf("title %q missing in %s", text(l, c.title), page)
				}
				for _, w := range c.want {
					if !strings.Contains(page, template_escape(text(l, w))) && !strings.Contains(page, w) {
						t.Errorf("page lacks %q", text(l, w))
					}
				}
				if c.name == "operator's masked view" && strings.Contains(page, "001090001234") {
					t.Error("the operator sees the personal number")
				}
				if strings.Contains(page, " style=") || strings.Contains(page, "<script>") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
					t.Error("inline style or script, or no CSP")
				}
			})
		}
	}
	// The navigation offers the page to a ministry and the operator.
	b := f.browser(t, English)
	b.signIn(f.mae)
	if _, page, _ := b.do("GET", "/ui/overview", nil); !strings.Contains(page, `href="/ui/quality"`) {
		t.Error("a ministry's navigation lacks the data quality page")
	}
}

var flashErr = regexp.MustCompile(`(?s)<p class="flash err" role="alert">(.*?)</p>`)

// Resubmit and discard from the item page: a correction that is not JSON
// is refused with the API's reason and the text kept; the corrected record
// closes the item; forms without the CSRF token change nothing.
func TestQualityForms(t *testing.T) {
	f := newQualityConsole(t)
	b := f.browser(t, English)
	csrf := b.signIn(f.mae)
	item := "/ui/quality/items/" + f.itemID
	for _, form := range []url.Values{{"record": {"{}"}}, {"csrf": {"wrong"}, "reason": {"x"}}} {
		for _, action := range []string{"/resubmit", "/discard"} {
			if code, _, _ := b.do("POST", item+action, form); code != http.StatusForbidden {
				t.Fatalf("%s without a valid CSRF token: %d", action, code)
			}
		}
	}
	code, page, _ := b.do("POST", item+"/discard", url.Values{"csrf": {csrf}, "reason": {"  "}})
	if m := flashErr.FindStringSubmatch(page); code != 400 || m == nil || !strings.Contains(m[1], "reason is required") {
		t.Fatalf("discard without a reason: %d %v", code, m)
	}
	code, page, _ = b.do("POST", item+"/resubmit", url.Values{"csrf": {csrf}, "record": {`{"dataset":"land.land_use_right","after":{`}})
	if m := flashErr.FindStringSubmatch(page); code != 400 || m == nil || !strings.Contains(page, `{&#34;dataset&#34;:&#34;land.land_use_right&#34;,&#34;after&#34;:{</textarea>`) {
		t.Fatalf("a correction that is not JSON: %d %v", code, m)
	}
	stillBad := strings.Replace(landOK, `"ODT"`, `"XYZ"`, 1)
	code, _, h := b.do("POST", item+"/resubmit", url.Values{"csrf": {csrf}, "record": {`{"dataset":"land.land_use_right","op":"c","after":{` + stillBad + `}}`}})
	if code != http.StatusSeeOther || !strings.HasSuffix(h.Get("Location"), "done=open") {
		t.Fatalf("still invalid: %d %v", code, h)
	}
	if _, page, _ := b.do("GET", h.Get("Location"), nil); !strings.Contains(page, "$.land_use_purpose") || !strings.Contains(page, text(English, "quality.done.open")) {
		t.Fatalf("the item does not show the new reason: %s", page)
	}
	code, _, h = b.do("POST", item+"/resubmit", url.Values{"csrf": {csrf}, "record": {`{"dataset":"land.land_use_right","op":"c","after":{` + landOK + `}}`}})
	if code != http.StatusSeeOther || !strings.HasSuffix(h.Get("Location"), "done=accepted") {
		t.Fatalf("corrected: %d %v", code, h)
	}
	_, page, _ = b.do("GET", h.Get("Location"), nil)
	if !strings.Contains(page, `id="item-status">`+text(English, "quality.accepted")) || strings.Contains(page, `id="resubmit"`) {
		t.Fatalf("the accepted item: %s", page)
	}
	code, page, _ = b.do("POST", item+"/discard", url.Values{"csrf": {csrf}, "reason": {"late"}})
	if m := flashErr.FindStringSubmatch(page); code != http.StatusConflict || m == nil || !strings.Contains(m[1], "accepted") {
		t.Fatalf("discard an accepted item: %d %v", code, m)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
