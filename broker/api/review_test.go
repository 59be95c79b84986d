package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/api"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/prometheus/client_golang/prometheus"
)

const operatorToken = "op-secret-for-tests"

type reviewServer struct {
	url   string
	st    *sqlitestore.Store
	log   *audit.Log
	queue *review.Queue
}

func newReviewServer(t *testing.T, withQueue bool) *reviewServer {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	log, err := audit.Open(ctx, st, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rs := &reviewServer{st: st, log: log, queue: review.New(st)}
	d := api.Deps{Metrics: prometheus.NewRegistry(), OperatorToken: operatorToken, AuditLog: log, CitizenKeys: log}
	if withQueue {
		d.Review = rs.queue
	}
	srv := httptest.NewServer(api.New(d))
	t.Cleanup(srv.Close)
	rs.url = srv.URL
	return rs
}

// call sends an operator request and decodes the JSON answer into out
// (when not nil).
func (rs *reviewServer) call(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, rs.url+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

type page struct {
	Items     []linkage.ReviewItem `json:"items"`
	NextAfter string               `json:"next_after"`
}

type problem struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

func candidates(n int) []linkage.ReviewItem {
	var out []linkage.ReviewItem
	for i := range n {
		out = append(out, linkage.ReviewItem{Source: "tax.taxpayer", RecordID: "event-" + string(rune('a'+i)), PersonalID: "00109001234" + string(rune('0'+i)),
			Score: 9.5, Probability: 0.5, Reason: "probability below 0.9",
			Explanation: &linkage.Explanation{Prior: -14, Fields: []linkage.FieldWeight{{Field: "name", Level: "diacritics", Weight: 12}, {Field: "dob", Level: "exact", Weight: 11.5}}, Total: 9.5}})
	}
	return out
}

func TestReviewListAndGet(t *testing.T) {
	rs := newReviewServer(t, true)
	ids, err := rs.queue.Add(context.Background(), candidates(5)...)
	if err != nil {
		t.Fatal(err)
	}
	if code := rs.call(t, "GET", "/v1/operator/review", "", "", nil); code != 401 {
		t.Errorf("without the operator token: %d", code)
	}
	if code := rs.call(t, "GET", "/v1/operator/review", "wrong", "", nil); code != 401 {
		t.Errorf("with a wrong token: %d", code)
	}
	var all page
	if code := rs.call(t, "GET", "/v1/operator/review", operatorToken, "", &all); code != 200 || len(all.Items) != 5 || all.NextAfter != "" {
		t.Fatalf("list: %d %+v", code, all)
	}
	// Paging by two follows next_after to the end, in queue order.
	var got []string
	path := "/v1/operator/review?limit=2"
	for range 10 {
		var p page
		if code := rs.call(t, "GET", path, operatorToken, "", &p); code != 200 {
			t.Fatalf("%s: %d", path, code)
		}
		for _, it := range p.Items {
			got = append(got, it.ID)
		}
		if p.NextAfter == "" {
			break
		}
		path = "/v1/operator/review?limit=2&after=" + p.NextAfter
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("paged ids %v, want %v", got, ids)
	}

	var one linkage.ReviewItem
	if code := rs.call(t, "GET", "/v1/operator/review/"+ids[2], operatorToken, "", &one); code != 200 || one.ID != ids[2] ||
		one.Status != linkage.ReviewPending || one.PersonalID != "001090012342" || one.Explanation == nil || len(one.Explanation.Fields) != 2 {
		t.Errorf("get: %d %+v", code, one)
	}
	for _, id := range []string{"rv000000000999", "nonsense"} {
		var p problem
		if code := rs.call(t, "GET", "/v1/operator/review/"+id, operatorToken, "", &p); code != 404 || p.Field != "id" || p.Error == "" {
			t.Errorf("get %s: %d %+v", id, code, p)
		}
	}

	for query, field := range map[string]string{
		"status=maybe": "status", "limit=0": "limit", "limit=1001": "limit", "limit=ten": "limit",
		"after=rv12": "after", "after=" + strings.Repeat("x", 20): "after",
	} {
		var p problem
		if code := rs.call(t, "GET", "/v1/operator/review?"+query, operatorToken, "", &p); code != 400 || p.Field != field || p.Error == "" {
			t.Errorf("?%s: %d %+v, want 400 naming %s", query, code, p, field)
		}
	}
}

func TestReviewDecisions(t *testing.T) {
	rs := newReviewServer(t, true)
	ctx := context.Background()
	ids, err := rs.queue.Add(ctx, candidates(3)...)
	if err != nil {
		t.Fatal(err)
	}
	audited := func() int64 {
		n, err := rs.st.CountAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := audited()

	// Refused before anything is written: no token, bad bodies, unknown items.
	for _, tc := range []struct {
		path, token, body string
		code              int
		field             string
	}{
		{"/v1/operator/review/" + ids[0] + "/accept", "", `{"note":"x"}`, 401, "Authorization"},
		{"/v1/operator/review/" + ids[0] + "/accept", operatorToken, `{}`, 400, "note"},
		{"/v1/operator/review/" + ids[0] + "/accept", operatorToken, `{"note":"   "}`, 400, "note"},
		{"/v1/operator/review/" + ids[0] + "/accept", operatorToken, `{"note":"ok","extra":1}`, 400, ""},
		{"/v1/operator/review/" + ids[0] + "/accept", operatorToken, `{"note":`, 400, ""},
		{"/v1/operator/review/" + ids[0] + "/reject", operatorToken, `{"note":"` + strings.Repeat("a", 2001) + `"}`, 400, "note"},
		{"/v1/operator/review/" + ids[0] + "/reject", operatorToken, `{"note":"n","by":"` + strings.Repeat("b", 201) + `"}`, 400, "by"},
		{"/v1/operator/review/rv000000000999/accept", operatorToken, `{"note":"ok"}`, 404, "id"},
		{"/v1/operator/review/bogus/reject", operatorToken, `{"note":"ok"}`, 404, "id"},
	} {
		var p problem
		if code := rs.call(t, "POST", tc.path, tc.token, tc.body, &p); code != tc.code || p.Field != tc.field || p.Error == "" {
			t.Errorf("POST %s %s: %d %+v, want %d naming %q", tc.path, tc.body, code, p, tc.code, tc.field)
		}
	}
	if n := audited(); n != before {
		t.Fatalf("refused requests wrote %d audit entries", n-before)
	}

	var acc linkage.ReviewItem
	if code := rs.call(t, "POST", "/v1/operator/review/"+ids[0]+"/accept", operatorToken, `{"note":"giấy khai sinh khớp","by":"Lê Thu Hà"}`, &acc); code != 200 ||
		acc.Status != linkage.ReviewAccepted || acc.DecidedBy != "Lê Thu Hà" || acc.Note != "giấy khai sinh khớp" || acc.Decided.IsZero() {
		t.Fatalf("accept: %d %+v", code, acc)
	}
	var rej linkage.ReviewItem
	if code := rs.call(t, "POST", "/v1/operator/review/"+ids[1]+"/reject", operatorToken, `{"note":"other mother's name"}`, &rej); code != 200 ||
		rej.Status != linkage.ReviewRejected || rej.DecidedBy != "operator" {
		t.Fatalf("reject: %d %+v", code, rej)
	}
	// Decided once: accepting or rejecting again is a conflict and writes nothing.
	n := audited()
	for _, path := range []string{"/v1/operator/review/" + ids[0] + "/reject", "/v1/operator/review/" + ids[0] + "/accept", "/v1/operator/review/" + ids[1] + "/accept"} {
		var p problem
		if code := rs.call(t, "POST", path, operatorToken, `{"note":"again"}`, &p); code != 409 || p.Field != "id" || !strings.Contains(p.Error, "already") {
			t.Errorf("%s: %d %+v, want 409", path, code, p)
		}
	}
	if audited() != n {
		t.Error("a refused second decision was audited")
	}
	if it, _ := rs.queue.Get(ctx, ids[0]); it.Status != linkage.ReviewAccepted || it.Note != "giấy khai sinh khớp" {
		t.Errorf("the first decision must stay: %+v", it)
	}

	// Each decision is in the audit log, keyed by the citizen, never the number in clear.
	for _, want := range []struct {
		id, action, reason, citizen string
	}{{ids[0], "review.accept", "Lê Thu Hà: giấy khai sinh khớp", "001090012340"}, {ids[1], "review.reject", "operator: other mother's name", "001090012341"}} {
		es, err := rs.st.ListAudit(ctx, store.AuditQuery{RequestID: want.id})
		if err != nil || len(es) != 1 {
			t.Fatalf("audit of %s: %+v %v", want.id, es, err)
		}
		e := es[0]
		if e.Action != want.action || e.Actor != "operator" || e.Decision != "allow" || e.Reason != want.reason || e.Dataset != "tax.taxpayer" ||
			e.CitizenKey != rs.log.CitizenKey(want.citizen) || e.CitizenKey == want.citizen {
			t.Errorf("audit entry of %s: %+v", want.id, e)
		}
	}

	var pending page
	if code := rs.call(t, "GET", "/v1/operator/review?status=pending", operatorToken, "", &pending); code != 200 || len(pending.Items) != 1 || pending.Items[0].ID != ids[2] {
		t.Errorf("pending after two decisions: %d %+v", code, pending)
	}
	var accepted page
	if code := rs.call(t, "GET", "/v1/operator/review?status=accepted", operatorToken, "", &accepted); code != 200 || len(accepted.Items) != 1 || accepted.Items[0].ID != ids[0] {
		t.Errorf("accepted: %d %+v", code, accepted)
	}
}

func TestReviewWithoutQueue(t *testing.T) {
	rs := newReviewServer(t, false)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/operator/review", ""}, {"GET", "/v1/operator/review/rv000000000001", ""},
		{"POST", "/v1/operator/review/rv000000000001/accept", `{"note":"n"}`},
	} {
		var p problem
		if code := rs.call(t, r.method, r.path, operatorToken, r.body, &p); code != 503 || p.Error == "" {
			t.Errorf("%s %s: %d %+v", r.method, r.path, code, p)
		}
	}
}
