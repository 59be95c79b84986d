package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
)

// person is a citizen of the tests (the state rows name them).
type person struct{ ID, FullName, DOB, Sex, BirthProvince string }

var citizen = person{ID: "079190001234", FullName: "Nguyễn Văn An", DOB: "1990-01-02", Sex: "M", BirthProvince: "079"}

// birthRow is a valid civil-status birth registration of p.
func birthRow(i int, p person) map[string]any {
	return map[string]any{
		"registration_no": fmt.Sprintf("001/2024/%d", i), "child_cccd": p.ID, "child_name": p.FullName, "child_dob": p.DOB,
		"child_sex": p.Sex, "birth_province": p.BirthProvince, "mother_cccd": nil, "mother_name": "Trần Thị Mai",
		"father_name": "Nguyễn Văn Hùng", "registered_on": "2024-05-02",
	}
}

// putState writes rows of dataset for p as the state follower would.
func (b *testBus) putState(t *testing.T, dataset, key string, p person, row map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(row)
	if err := b.st.ApplyState(context.Background(), []store.StateRow{{Dataset: dataset, Key: key, CitizenKey: b.log.CitizenKey(p.ID),
		Row: raw, EventID: "ev-" + key, Updated: time.Now(), Version: 1}}, nil); err != nil {
		t.Fatal(err)
	}
}

// Agencies look up and verify under their agreements with their own API
// tokens; everything outside an agreement is refused with the reason, and
// every decision is in the audit log. (From the runtime's test of the same
// name: the state is written here as the state follower writes it.)
func TestLookupAndVerifyUnderAgreements(t *testing.T) {
	b := newTestBus(t)
	p := citizen
	b.putState(t, "tax.taxpayer", "8012345678", p, map[string]any{"tax_code": "8012345678", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
		"address": "12 Lê Lợi, Quận 1", "tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04"})
	b.putState(t, "insurance.health_insurance_card", "GD4797920001234", p, map[string]any{"card_no": "GD4797920001234", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
		"beneficiary_group": "GD", "benefit_level": 4, "hospital_code": "79-001", "valid_from": "2026-01-01", "valid_to": "2026-12-31"})

	// Tokens: only the operator issues them.
	if code, _ := b.call(t, "POST", "/v1/operator/agencies/thads-hcm/tokens", "", nil); code != 401 {
		t.Fatalf("token without operator: %d", code)
	}
	issue := func(agency string) (string, string) {
		code, out := b.call(t, "POST", "/v1/operator/agencies/"+agency+"/tokens", b.operator, nil)
		if code != 201 {
			t.Fatalf("issue %s: %d %v", agency, code, out)
		}
		return out["id"].(string), out["token"].(string)
	}
	_, thads := issue("thads-hcm")
	bankID, bank := issue("bank-vcb")
	_, gdt := issue("gdt")
	if code, _ := b.call(t, "POST", "/v1/operator/agencies/nobody/tokens", b.operator, nil); code != 404 {
		t.Fatalf("token for an unregistered agency: %d", code)
	}

	lookup := func(token string, body map[string]any) (int, map[string]any) {
		return b.call(t, "POST", "/v1/lookup", token, body)
	}
	base := map[string]any{"dataset": "tax.taxpayer", "citizen": p.ID, "purpose": "judgment_enforcement", "case_reference": "THA-2026/123"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	code, out := lookup(thads, base)
	recs, _ := out["records"].([]any)
	if code != 200 || len(recs) != 1 {
		t.Fatalf("lookup: %d %v", code, out)
	}
	got := recs[0].(map[string]any)
	if _, leaked := got["cccd"]; leaked || got["dob"] != p.DOB[:4] || got["tax_code"] != "8012345678" {
		t.Fatalf("lookup released %v (cccd must be absent, dob year only)", got)
	}
	denials := []struct {
		name   string
		token  string
		body   map[string]any
		code   int
		reason string
	}{
		{"no token", "", base, 401, ""},
		{"bad token", "lgsp_" + strings.Repeat("x", 43), base, 401, ""},
		{"no purpose", thads, with("purpose", nil), 403, "missing_purpose"},
		{"unknown purpose", thads, with("purpose", "marketing"), 403, "purpose_not_allowed"},
		{"no case reference", thads, with("case_reference", nil), 403, "case_reference_required"},
		{"field outside the agreement", thads, with("fields", []string{"tax_code", "cccd"}), 403, "field_not_allowed"},
		{"agency without a lookup agreement", gdt, with("purpose", "tax_administration"), 403, "no_agreement"},
		{"malformed citizen", thads, with("citizen", "12ab"), 400, ""},
	}
	for _, d := range denials {
		code, out := lookup(d.token, d.body)
		if code != d.code || (d.reason != "" && !strings.Contains(out["error"].(string), d.reason)) {
			t.Errorf("%s: %d %v", d.name, code, out)
		}
	}

	verify := func(claims map[string]any) (int, map[string]any) {
		return b.call(t, "POST", "/v1/verify", bank, map[string]any{"dataset": "insurance.health_insurance_card", "citizen": p.ID, "purpose": "identity_verification", "claims": claims})
	}
	if code, out := verify(map[string]any{"card_no": "GD4797920001234", "full_name": p.FullName}); code != 200 || out["match"] != true || len(out) != 2 {
		t.Fatalf("verify true: %d %v", code, out)
	}
	if code, out := verify(map[string]any{"card_no": "GD0000000000000"}); code != 200 || out["match"] != false {
		t.Fatalf("verify false: %d %v", code, out)
	}
	if code, out := verify(map[string]any{"hospital_code": "79-001"}); code != 403 {
		t.Fatalf("verify of a field outside the agreement: %d %v", code, out)
	}

	// Every decision was audited, allowed and denied, under the citizen's key.
	es, err := b.st.SearchAudit(context.Background(), store.AuditSearch{CitizenKey: b.log.CitizenKey(p.ID), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range es {
		counts[e.Action+"/"+e.Decision]++
	}
	if counts["lookup/allow"] != 1 || counts["lookup/deny"] != 5 || counts["verify/allow"] != 2 || counts["verify/deny"] != 1 {
		t.Fatalf("audited decisions %v", counts)
	}

	// Revocation takes effect at once.
	if code, _ := b.call(t, "DELETE", "/v1/operator/tokens/"+bankID, b.operator, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := verify(map[string]any{"card_no": "GD4797920001234"}); code != 401 {
		t.Fatalf("revoked token still works: %d", code)
	}
}

// Every route asks for its credential over real HTTP: no credential is a
// 401, a valid one without the right a 403 naming the reason (and audited),
// the right one passes; a revoked token stops working at once, for ingest
// as for everything else. (From the runtime's TestEveryRouteIsAuthenticated.)
func TestEveryRouteIsAuthenticated(t *testing.T) {
	b := newTestBus(t)
	op := b.operator
	moj := b.agencyToken(t, "moj") // owns civil_status
	vss := b.agencyToken(t, "vss") // owns insurance, consumer of births
	inspector := b.agencyToken(t, "gov-inspectorate")
	birth, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, citizen)})
	ingest := "/v1/sources/civil_status/records"

	tests := []struct {
		name, method, path, token string
		body                      []byte
		want                      int
		reason                    string
	}{
		{"ingest without a token", "POST", ingest, "", birth, 401, ""},
		{"ingest with a malformed token", "POST", ingest, "lgsp_nope", birth, 401, ""},
		{"ingest by another agency", "POST", ingest, vss, birth, 403, "not_source_owner"},
		{"ingest by the operator", "POST", ingest, op, birth, 403, "not_source_owner"},
		{"ingest by the owner", "POST", ingest, moj, birth, 200, ""},
		{"status without a token", "GET", "/v1/status", "", nil, 401, ""},
		{"status by an agency", "GET", "/v1/status", vss, nil, 200, ""},
		{"datasets by the operator", "GET", "/v1/datasets", op, nil, 200, ""},
		{"agreements without a token", "GET", "/v1/agreements", "", nil, 401, ""},
		{"connectors by an agency", "GET", "/v1/connectors", moj, nil, 200, ""},
		{"audit without a token", "GET", "/v1/audit", "", nil, 401, ""},
		{"audit by a consumer agency", "GET", "/v1/audit", vss, nil, 403, "auditor_role_required"},
		{"audit by the inspectorate", "GET", "/v1/audit", inspector, nil, 200, ""},
		{"audit by the operator", "GET", "/v1/audit", op, nil, 200, ""},
		{"export by a consumer agency", "GET", "/v1/audit/export", vss, nil, 403, "auditor_role_required"},
		{"connector reset by an agency", "POST", "/v1/connectors/tax/reset", moj, []byte(`{"position":"","reason":"x"}`), 403, "operator_required"},
		{"operator route by an agency", "GET", "/v1/operator/tokens", vss, nil, 403, "operator_required"},
		{"lookup by the operator", "POST", "/v1/lookup", op, []byte(`{}`), 403, "agency_required"},
		{"public key without a token", "GET", "/v1/audit/public-key", "", nil, 200, ""},
		{"health without a token", "GET", "/healthz", "", nil, 200, ""},
		{"metrics without a token", "GET", "/metrics", "", nil, 200, ""},
		{"OpenAPI without a token", "GET", "/openapi.json", "", nil, 200, ""},
		{"citizen view without its token", "GET", "/v1/citizen/accesses", vss, nil, 401, ""},
	}
	for _, tt := range tests {
		code, raw, hdr := b.sendH(t, tt.method, tt.path, tt.token, "application/json", tt.body)
		if code != tt.want || !strings.Contains(string(raw), tt.reason) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, raw, tt.want, tt.reason)
		}
		if tt.want == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: a 401 without WWW-Authenticate", tt.name)
		}
	}
	// The denials with a valid credential are in the audit log, by agency.
	es, err := b.st.SearchAudit(context.Background(), store.AuditSearch{Decision: "deny", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	denied := map[string]int{}
	for _, e := range es {
		denied[e.Actor+" "+e.Action+" "+strings.SplitN(e.Reason, ":", 2)[0]]++
	}
	for _, want := range []string{"vss ingest not_source_owner", "operator ingest not_source_owner", "vss audit.search auditor_role_required",
		"moj connector.reset operator_required", "vss operator operator_required", "operator lookup agency_required"} {
		if denied[want] != 1 {
			t.Errorf("denial %q audited %d times; all: %v", want, denied[want], denied)
		}
	}

	// Revoked: the next push is refused at once.
	code, raw := b.send(t, "GET", "/v1/operator/tokens?agency=moj", op, "", nil)
	var toks []struct{ ID string }
	if err := json.Unmarshal(raw, &toks); err != nil || code != 200 || len(toks) != 1 {
		t.Fatalf("moj tokens: %d %s", code, raw)
	}
	if code, _ := b.call(t, "DELETE", "/v1/operator/tokens/"+toks[0].ID, op, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, raw := b.send(t, "POST", ingest, moj, "application/json", birth); code != 401 {
		t.Fatalf("push with a revoked token: %d %s", code, raw)
	}
	// The public audit endpoints answer without a credential and hold only
	// numbers, times, hashes and signatures: no personal data.
	if _, err := b.log.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	hexOrNum := regexp.MustCompile(`^([0-9a-f]*|[A-Za-z0-9+/=]+|lgsp-audit-checkpoint/v1\n[0-9]+\n[0-9a-f]+\n[0-9]+\n|Ed25519|[0-9T:.+Z-]+)$`)
	for path, keys := range map[string]string{
		"/v1/audit/public-key":                          "algorithm public_key",
		"/v1/audit/checkpoint":                          "root seq signature signed_message size time",
		"/v1/audit/proofs/inclusion?seq=1":              "leaf_hash proof root seq size",
		"/v1/audit/proofs/consistency?first=1&second=2": "first first_root proof second second_root",
	} {
		code, out := b.call(t, "GET", path, "", nil)
		var got []string
		for k, v := range out {
			got = append(got, k)
			vals, _ := v.([]any)
			if vals == nil {
				vals = []any{v}
			}
			for _, v := range vals {
				if s, ok := v.(string); ok && !hexOrNum.MatchString(s) {
					t.Errorf("%s: %s holds %q, not a hash, number or time", path, k, s)
				}
			}
		}
		sort.Strings(got)
		if code != 200 || strings.Join(got, " ") != keys {
			t.Errorf("%s: %d with keys %v, want %s", path, code, got, keys)
		}
	}

	// A call that never authenticated is counted, not audited.
	if _, m := b.send(t, "GET", "/metrics", "", "", nil); !strings.Contains(string(m), `lgsp_api_denied_total{status="401"}`) {
		t.Error("401s are not counted in lgsp_api_denied_total")
	}
}

// Bad input over HTTP gets a clear 4xx naming the problem, and the API
// keeps publishing the valid records sent around it. (From the runtime's
// TestBadInputIsRejectedClearly: the pipeline is the real one, Kafka a
// recording producer.)
func TestBadInputIsRejectedClearly(t *testing.T) {
	b := newTestBus(t)
	url := "/v1/sources/civil_status/records"
	token := b.sourceToken(t, "civil_status")
	good := func(i int) []byte {
		p := citizen
		p.ID = fmt.Sprintf("0791900%05d", i)
		raw, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(i, p)})
		return raw
	}
	tests := []struct {
		name, url, ctype string
		body             []byte
		code             int
		want             string
	}{
		{"malformed JSON", url, "application/json", []byte(`{"records": [`), 400, "malformed JSON"},
		{"empty body", url, "application/json", nil, 400, "empty body"},
		{"wrong content type", url, "text/csv", good(1), 415, "Content-Type"},
		{"unknown source", "/v1/sources/nobody/records", "application/json", good(1), 404, "unknown source"},
		{"too large", url, "application/json", bytes.Repeat([]byte(" "), 9<<20), 413, "limit"},
		{"not an object", url, "application/json", []byte(`[1,2]`), 400, "JSON object"},
		{"no dataset", url, "application/json", []byte(`{"after":{}}`), 400, "no dataset"},
		{"unknown dataset", url, "application/json", []byte(`{"dataset":"x.y","after":{"a":1}}`), 422, "dead-lettered"},
		{"row over the size limit", url, "application/json", []byte(`{"dataset":"civil_status.birth_registration","after":{"child_name":"` + strings.Repeat("a", 300<<10) + `"}}`), 422, "dead-lettered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, raw := b.send(t, "POST", tt.url, token, tt.ctype, tt.body)
			if code != tt.code || !strings.Contains(string(raw), tt.want) {
				t.Fatalf("got %d %s, want %d containing %q", code, raw, tt.code, tt.want)
			}
			var p map[string]any
			if err := json.Unmarshal(raw, &p); err != nil || p["error"] == nil {
				t.Fatalf("error body is not JSON with an error: %s", raw)
			}
		})
	}
	// The API still works after all that.
	if code, raw := b.send(t, "POST", url, token, "application/json", good(2)); code != 200 {
		t.Fatalf("valid record after bad input: %d %s", code, raw)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, raw := b.send(t, "GET", path, "", "", nil); code != 200 {
			t.Fatalf("%s: %d %s", path, code, raw)
		}
	}
}

// The connectors are listed to any agency, one by name, and the operator
// moves one's position: every malformed reset is a 400 naming the problem,
// an unknown connector a 404, a reset is audited before it is done, and a
// failure of the runtime is a 503 that does not leak its cause.
func TestConnectorsListAndReset(t *testing.T) {
	b := newTestBus(t)
	moj := b.agencyToken(t, "moj")
	code, raw := b.send(t, "GET", "/v1/connectors", moj, "", nil)
	var list []map[string]any
	if json.Unmarshal(raw, &list) != nil || code != 200 || len(list) != 1 || list[0]["name"] != "tax" || list[0]["records_acked"] != float64(100) {
		t.Fatalf("list: %d %s", code, raw)
	}
	if code, out := b.call(t, "GET", "/v1/connectors/tax", moj, nil); code != 200 || out["position"] != "0000000000000063" {
		t.Fatalf("one: %d %v", code, out)
	}
	if code, out := b.call(t, "GET", "/v1/connectors/nobody", moj, nil); code != 404 || out["field"] != "name" {
		t.Fatalf("unknown: %d %v", code, out)
	}

	reset := func(name, body string) (int, []byte) {
		return b.send(t, "POST", "/v1/connectors/"+name+"/reset", b.operator, "application/json", []byte(body))
	}
	for body, field := range map[string]string{
		`{"position":"zz","reason":"x"}`:                 "position",
		`{"reason":"x"}`:                                 "position",
		`{"position":"","reason":""}`:                    "reason",
		`{"position":"","reason":"x","extra":1}`:         "",
		`{"position":"0000000000000031","reason":"   "}`: "reason",
		`not json`: "",
	} {
		code, raw := reset("tax", body)
		var p Problem
		if json.Unmarshal(raw, &p) != nil || code != 400 || p.Error == "" || p.Field != field {
			t.Errorf("%s: %d %s, want 400 naming %q", body, code, raw, field)
		}
	}
	if code, _ := reset("nobody", `{"position":"","reason":"x"}`); code != 404 {
		t.Errorf("unknown connector: %d", code)
	}
	if len(b.conns.resets) != 0 {
		t.Fatalf("a refused reset reached the runtime: %v", b.conns.resets)
	}

	// Back to position 49: the runtime is asked, the answer is the new state.
	code, raw = reset("tax", `{"position":"0000000000000031","reason":"ministry re-sent corrected rows 50-99"}`)
	var st map[string]any
	if json.Unmarshal(raw, &st) != nil || code != 200 || st["position"] != "0000000000000031" || st["resets"] != float64(1) {
		t.Fatalf("reset: %d %s", code, raw)
	}
	if strings.Join(b.conns.resets, " ") != "tax@0000000000000031" {
		t.Fatalf("runtime asked %v", b.conns.resets)
	}
	entries, err := b.st.ListAudit(context.Background(), store.AuditQuery{RequestID: "tax@0000000000000031"})
	if err != nil || len(entries) != 1 || entries[0].Action != "connector.reset" || !strings.Contains(entries[0].Reason, "corrected") {
		t.Fatalf("reset not audited: %+v %v", entries, err)
	}

	// The runtime fails: 503, the attempt audited, the cause only in the log.
	b.conns.err = errDriver
	code, raw = reset("tax", `{"position":"","reason":"from the start"}`)
	if code != 503 || strings.Contains(string(raw), "secret_internal_table") || !strings.Contains(string(raw), "reference") {
		t.Fatalf("failed reset: %d %s", code, raw)
	}
	if entries, _ := b.st.ListAudit(context.Background(), store.AuditQuery{RequestID: "tax@"}); len(entries) != 1 {
		t.Fatalf("the failed attempt is not audited: %+v", entries)
	}
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

// Agreements are managed through the API: what the handler checks itself
// (content type, empty body, a JSON body against the schema) never reaches
// the runtime; what the runtime refuses is answered with the right status
// and its text (400 syntax, 422 invalid, 404 unknown, 409 built in, 503
// with a reference); a JSON body reaches the runtime as YAML; a created
// agreement is a 201. Reload and Kafka passwords likewise.
func TestAgreementChanges(t *testing.T) {
	b := newTestBus(t)
	op := b.operator
	url := "/v1/operator/agreements/thads-hcm-taxpayer-stream"
	set := b.engine.Current()

	code, raw := b.send(t, "GET", "/v1/operator/agreements", op, "", nil)
	var list struct {
		Managed    bool
		Digest     string
		Agreements []map[string]any
	}
	if json.Unmarshal(raw, &list) != nil || code != 200 || list.Digest != set.Digest() || len(list.Agreements) != set.Len() {
		t.Fatalf("list: %d %s", code, raw)
	}
	if code, raw := b.send(t, "GET", "/v1/operator/agreements/thads-hcm-taxpayer-lookup", op, "", nil); code != 200 || !strings.Contains(string(raw), `"consumer":"thads-hcm"`) {
		t.Fatalf("one agreement: %d %s", code, raw)
	}
	if code, _ := b.send(t, "GET", url, op, "", nil); code != 404 {
		t.Fatalf("an agreement not in force: %d", code)
	}

	// What the runtime's folder would answer for these bodies.
	folder := policies.NewFolder(t.TempDir())
	refusal := func(body string) error {
		_, _, err := folder.Put("thads-hcm-taxpayer-stream", "request body", []byte(body))
		if err == nil {
			t.Fatalf("the folder accepts %q", body)
		}
		return err
	}
	bad := []struct {
		name, ctype, body string
		runtime           error // what the runtime answers, nil: the handler refuses alone
		code              int
		want              string
	}{
		{"schema", "application/json", strings.Replace(thadsStream, `"stream"`, `"sideways"`, 1), nil, 422, "request body:8: mode:"},
		{"malformed JSON", "application/json", `{"id": `, nil, 400, "request body"},
		{"wrong content type", "text/plain", thadsStream, nil, 415, "Content-Type"},
		{"empty", "application/yaml", "", nil, 400, "empty body"},
		{"not YAML", "application/yaml", "id: [unclosed\n", refusal("id: [unclosed\n"), 400, "YAML syntax"},
		{"id not the URL's", "application/json", strings.Replace(thadsStream, `"thads-hcm-taxpayer-stream"`, `"another-one"`, 1),
			&InvalidError{Err: refusal(strings.Replace(thadsStream, `"thads-hcm-taxpayer-stream"`, `"another-one"`, 1))}, 422, `change is for "thads-hcm-taxpayer-stream"`},
		{"unregistered consumer", "application/json", strings.Replace(thadsStream, `"thads-hcm"`, `"nobody"`, 1),
			&InvalidError{Err: fmt.Errorf(`agreement thads-hcm-taxpayer-stream: consumer "nobody" is not a registered agency`)}, 422, `"nobody" is not a registered agency`},
		{"the runtime fails", "application/json", thadsStream, errDriver, 503, "nothing changed"},
	}
	for _, tc := range bad {
		b.changes.calls, b.changes.err = nil, tc.runtime
		code, raw := b.send(t, "PUT", url, op, tc.ctype, []byte(tc.body))
		var problem struct{ Error string }
		if json.Unmarshal(raw, &problem) != nil || code != tc.code || !strings.Contains(problem.Error, tc.want) || strings.Contains(problem.Error, "secret_internal_table") {
			t.Errorf("%s: %d %s, want %d %q", tc.name, code, raw, tc.code, tc.want)
		}
		if reached := len(b.changes.calls) > 0; reached != (tc.runtime != nil) {
			t.Errorf("%s: the runtime was asked: %v", tc.name, b.changes.calls)
		}
	}
	b.changes.err = nil
	thads := b.agencyToken(t, "thads-hcm")
	b.changes.calls = nil
	if code, _ := b.send(t, "PUT", url, thads, "application/json", []byte(thadsStream)); code != 403 || len(b.changes.calls) != 0 {
		t.Fatalf("an agency changed an agreement: %d", code)
	}

	// Created from JSON: the runtime gets the YAML file; 201 with what it did.
	b.changes.change = AgreementChange{File: "thads-hcm-taxpayer-stream.yaml", Created: true, Digest: "d1", Agreements: set.Len() + 1,
		KafkaCredentialsIssued: map[string]string{"thads-hcm": "pw"}}
	code, raw = b.send(t, "PUT", url, op, "application/json", []byte(thadsStream))
	var put struct {
		File    string
		Created bool
		Digest  string
		Issued  map[string]string `json:"kafka_credentials_issued"`
	}
	if json.Unmarshal(raw, &put) != nil || code != 201 || !put.Created || put.File != "thads-hcm-taxpayer-stream.yaml" || put.Issued["thads-hcm"] != "pw" {
		t.Fatalf("put: %d %s", code, raw)
	}
	if got := string(b.changes.bodies[len(b.changes.bodies)-1]); !strings.Contains(got, "consumer: thads-hcm\n") || strings.Contains(got, "{") {
		t.Fatalf("the runtime got %q, not YAML", got)
	}
	// Replaced from YAML: 200, the body as sent.
	b.changes.change.Created = false
	yamlBody := "id: thads-hcm-taxpayer-stream\n# kept\ndataset: tax.taxpayer\n"
	if code, raw := b.send(t, "PUT", url, op, "application/yaml", []byte(yamlBody)); code != 200 || string(b.changes.bodies[len(b.changes.bodies)-1]) != yamlBody {
		t.Fatalf("replace: %d %s", code, raw)
	}

	// Delete: 200, 404 for an unknown one, 409 when built in.
	b.changes.calls = nil
	if code, raw := b.send(t, "DELETE", url, op, "", nil); code != 200 || strings.Join(b.changes.calls, " ") != "delete:thads-hcm-taxpayer-stream" {
		t.Fatalf("delete: %d %s %v", code, raw, b.changes.calls)
	}
	for err, want := range map[error]int{fmt.Errorf("folder: %w", policies.ErrNoSuchAgreement): 404, ErrAgreementsBuiltIn: 409, errDriver: 503} {
		b.changes.err = err
		if code, raw := b.send(t, "DELETE", url, op, "", nil); code != want || strings.Contains(string(raw), "secret_internal_table") {
			t.Errorf("delete failing with %v: %d %s, want %d", err, code, raw, want)
		}
	}

	// Reload: the change, or 422 naming the file and line; 401 without the operator.
	b.changes.err, b.changes.change = nil, AgreementChange{Digest: "d2", Agreements: 16}
	if code, out := b.call(t, "POST", "/v1/operator/agreements/reload", op, nil); code != 200 || out["agreements"] != float64(16) || out["digest"] != "d2" {
		t.Fatalf("reload: %d %v", code, out)
	}
	_, _, loadErr := policies.NewFolder(t.TempDir()).Put("broken-one", "broken.yaml", []byte("id: broken-one\ndataset: tax.taxpayer\nconsumer: moha\nmode: sideways\n"))
	b.changes.err = &InvalidError{Err: loadErr}
	if code, out := b.call(t, "POST", "/v1/operator/agreements/reload", op, nil); code != 422 || !strings.Contains(out["error"].(string), "broken.yaml:") {
		t.Fatalf("broken reload: %d %v", code, out)
	}
	if code, _ := b.call(t, "POST", "/v1/operator/agreements/reload", "", nil); code != 401 {
		t.Fatalf("reload without operator token: %d", code)
	}

	// Kafka passwords: a new one, 404 for an unknown user, 409 without kafka.auth.
	if code, out := b.call(t, "POST", "/v1/operator/kafka/users/vss/password", op, nil); code != 200 || out["password"] == "" || out["user"] != "vss" {
		t.Fatalf("rotate: %d %v", code, out)
	}
	if code, _ := b.call(t, "POST", "/v1/operator/kafka/users/bank-vcb/password", op, nil); code != 404 {
		t.Fatalf("a password for a user without a stream: %d", code)
	}
	b.kafka.err = ErrKafkaAuthOff
	if code, _ := b.call(t, "POST", "/v1/operator/kafka/users/vss/password", op, nil); code != 409 {
		t.Fatalf("a password without kafka.auth: %d", code)
	}
}

// Without an AgreementAdmin the agreements are built into the binary: every
// change is a 409 that says how to manage them, and the list says so.
func TestBuiltInAgreements(t *testing.T) {
	set, err := policies.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	e := New(Deps{OperatorToken: "op", Engine: policies.NewEngine(set)})
	for _, r := range []struct{ method, path string }{{"PUT", "/v1/operator/agreements/x"}, {"DELETE", "/v1/operator/agreements/x"},
		{"POST", "/v1/operator/agreements/reload"}, {"POST", "/v1/operator/agreements/x/preview"}} {
		rec := httptestDo(t, e, r.method, r.path, "op", "application/yaml", "id: x\n")
		if rec.code != http.StatusConflict || !strings.Contains(rec.body, "policies.dir") {
			t.Errorf("%s %s: %d %s", r.method, r.path, rec.code, rec.body)
		}
	}
	rec := httptestDo(t, e, "GET", "/v1/operator/agreements", "op", "", "")
	if rec.code != 200 || !strings.Contains(rec.body, `"managed":false`) {
		t.Fatalf("list: %d %s", rec.code, rec.body)
	}
}

type answered struct {
	code int
	body string
}

// httptestDo calls h in process, every answer checked against openapi.json.
func httptestDo(t *testing.T, h http.Handler, method, path, token, ctype, body string) answered {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	CheckedHandler(t, h).ServeHTTP(rec, req)
	return answered{rec.Code, rec.Body.String()}
}

// An auditor checks, with nothing but the REST API and a stock RFC 6962
// verifier, that entries are in the signed log and the log only grew.
// (From the runtime's test of the same name, where the entries came from
// deliveries; here they are appended to the same audit log.)
func TestAuditProofsOverREST(t *testing.T) {
	b := newTestBus(t)
	ctx := context.Background()
	for i := range 12 {
		if err := b.log.Append(ctx, []store.AuditEntry{{Time: time.Now(), Actor: "vss", Action: "deliver", Dataset: "civil_status.birth_registration",
			Decision: "allow", RequestID: fmt.Sprintf("ev-%d", i), CitizenKey: b.log.CitizenKey(citizen.ID)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.log.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	get := func(path string, v any) int {
		t.Helper()
		code, raw := b.send(t, "GET", path, "", "", nil)
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s: %d %s", path, code, raw)
		}
		return code
	}
	unhex := func(s string) []byte {
		t.Helper()
		v, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	var pk struct {
		PublicKey string `json:"public_key"`
	}
	get("/v1/audit/public-key", &pk)
	var cp struct {
		Size      int64  `json:"size"`
		Root      string `json:"root"`
		Signature string `json:"signature"`
		Signed    string `json:"signed_message"`
	}
	if code := get("/v1/audit/checkpoint", &cp); code != 200 {
		t.Fatalf("checkpoint: %d", code)
	}
	sig, _ := base64.StdEncoding.DecodeString(cp.Signature)
	if !ed25519.Verify(unhex(pk.PublicKey), []byte(cp.Signed), sig) {
		t.Fatal("checkpoint signature does not verify with the published key")
	}

	var inc struct {
		Leaf  string   `json:"leaf_hash"`
		Root  string   `json:"root"`
		Proof []string `json:"proof"`
	}
	if code := get(fmt.Sprintf("/v1/audit/proofs/inclusion?seq=3&size=%d", cp.Size), &inc); code != 200 {
		t.Fatalf("inclusion: %d", code)
	}
	if inc.Root != cp.Root {
		t.Fatalf("inclusion root %s, checkpoint root %s", inc.Root, cp.Root)
	}
	var proof [][]byte
	for _, p := range inc.Proof {
		proof = append(proof, unhex(p))
	}
	if err := audit.VerifyInclusion(2, int(cp.Size), unhex(inc.Leaf), proof, unhex(cp.Root)); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}

	var cons struct {
		FirstRoot  string   `json:"first_root"`
		SecondRoot string   `json:"second_root"`
		Proof      []string `json:"proof"`
	}
	if code := get(fmt.Sprintf("/v1/audit/proofs/consistency?first=2&second=%d", cp.Size), &cons); code != 200 {
		t.Fatalf("consistency: %d", code)
	}
	proof = nil
	for _, p := range cons.Proof {
		proof = append(proof, unhex(p))
	}
	if err := audit.VerifyConsistency(2, int(cp.Size), unhex(cons.FirstRoot), unhex(cp.Root), proof); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}

	for url, want := range map[string]int{
		"/v1/audit/proofs/inclusion?seq=999999":             404,
		"/v1/audit/proofs/inclusion?seq=abc":                400,
		"/v1/audit/proofs/inclusion":                        400,
		"/v1/audit/proofs/consistency?first=3&second=2":     400,
		"/v1/audit/proofs/consistency?first=1&second=99999": 404,
		"/v1/audit?limit=0":                                 400,
		"/v1/audit?citizen=12ab":                            400,
	} {
		code, p := b.call(t, http.MethodGet, url, b.operator, nil) // the proofs are public, the search needs an auditor
		if code != want || p["error"] == nil {
			t.Errorf("%s: %d %v, want %d with an error", url, code, p, want)
		}
	}
}

// A push retried with the same Idempotency-Key gets the first answer,
// marked as replayed, and ingests nothing again; another key ingests again
// under other event ids; an over-long key is refused.
func TestPushIdempotency(t *testing.T) {
	b := newTestBus(t)
	token := b.sourceToken(t, "civil_status")
	body, _ := json.Marshal(map[string]any{"records": []any{
		map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, citizen)},
		map[string]any{"dataset": "civil_status.birth_registration", "after": map[string]any{"child_name": "no number"}},
	}})
	push := func(key string) (int, []byte, http.Header, int) {
		t.Helper()
		req, _ := http.NewRequest("POST", b.url+"/v1/sources/civil_status/records", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw bytes.Buffer
		_, _ = raw.ReadFrom(resp.Body)
		n := 0
		for _, m := range b.prod.take() {
			if !strings.HasPrefix(m.Topic, "feedback.") {
				n++
			}
		}
		return resp.StatusCode, raw.Bytes(), resp.Header, n
	}
	code, first, hdr, n := push("batch-2026-12-07")
	if code != 422 || n != 2 || hdr.Get("Idempotent-Replayed") != "" || !strings.Contains(string(first), `"idempotency_key":"batch-2026-12-07"`) {
		t.Fatalf("first push: %d %s, %d messages", code, first, n)
	}
	code, again, hdr, n := push("batch-2026-12-07")
	if code != 422 || n != 0 || hdr.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again, first) {
		t.Fatalf("retry: %d %s (replayed %q), %d messages; want the first answer and nothing ingested", code, again, hdr.Get("Idempotent-Replayed"), n)
	}
	code, other, _, n := push("")
	if code != 422 || n != 2 || bytes.Equal(other, first) {
		t.Fatalf("push without a key: %d %s, %d messages", code, other, n)
	}
	var a, c struct {
		Results []struct {
			EventID string `json:"event_id"`
		}
	}
	_ = json.Unmarshal(first, &a)
	_ = json.Unmarshal(other, &c)
	if len(a.Results) != 2 || len(c.Results) != 2 || a.Results[0].EventID == c.Results[0].EventID {
		t.Fatalf("event ids of two different pushes: %v %v", a.Results, c.Results)
	}
	if code, raw, _, n := push(strings.Repeat("k", 201)); code != 400 || n != 0 || !strings.Contains(string(raw), "Idempotency-Key") {
		t.Fatalf("over-long key: %d %s, %d messages", code, raw, n)
	}
}

// /readyz answers 503 when a check fails, naming the check but not its
// cause, and shows the instance's role; /v1/status and /v1/datasets answer
// from the instance and the catalog.
func TestReadinessStatusAndDatasets(t *testing.T) {
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	role := map[string]any{"instance": "i-1", "connectors": []string{"tax"}, "signs_checkpoints": true, "members": []string{"i-1", "i-2"}}
	e := New(Deps{Catalog: cat, SchemaIDs: map[string]int{"tax.taxpayer": 7}, OperatorToken: "op",
		Instance: InstanceFuncs{StatusFunc: func() any {
			return map[string]any{"records_in": 5, "published": 4, "dead_lettered": 1, "delivered": 3, "connectors": []any{},
				"population": 0, "instance": "i-1", "signs_checkpoints": true, "flow": metrics.New(func() float64 { return 0 }).Flow()}
		}, RoleFunc: func() any { return role }},
		Ready: map[string]func(context.Context) error{"store": func(context.Context) error { return nil }, "kafka": func(context.Context) error { return errDriver }}})
	rec := httptestDo(t, e, "GET", "/readyz", "", "", "")
	var ready struct {
		Ready  bool
		Checks map[string]string
		Role   map[string]any
	}
	if json.Unmarshal([]byte(rec.body), &ready) != nil || rec.code != 503 || ready.Ready || ready.Checks["kafka"] != "unavailable" || ready.Checks["store"] != "ok" ||
		ready.Role["instance"] != "i-1" || strings.Contains(rec.body, "secret_internal_table") {
		t.Fatalf("readyz: %d %s", rec.code, rec.body)
	}
	if rec := httptestDo(t, e, "GET", "/v1/status", "op", "", ""); rec.code != 200 || !strings.Contains(rec.body, `"records_in":5`) {
		t.Fatalf("status: %d %s", rec.code, rec.body)
	}
	rec = httptestDo(t, e, "GET", "/v1/datasets", "op", "", "")
	var dss []struct {
		Name, Topic, Subject, Format, Owner string
		SchemaID                            int `json:"schema_id"`
	}
	if json.Unmarshal([]byte(rec.body), &dss) != nil || rec.code != 200 || len(dss) != len(cat.Datasets()) {
		t.Fatalf("datasets: %d %s", rec.code, rec.body)
	}
	for _, d := range dss {
		if d.Name == "tax.taxpayer" && (d.SchemaID != 7 || d.Topic != "tax.taxpayer.v1" || d.Owner != "tax") {
			t.Fatalf("tax.taxpayer listed as %+v", d)
		}
	}
}

// An agency's /v1/status shows every dataset's counts but only its own
// deliveries; the operator's shows every agency's.
func TestStatusShowsAnAgencyOnlyItsDeliveries(t *testing.T) {
	b := newTestBus(t)
	b.flow = metrics.Flow{Since: time.Now(), WindowSeconds: metrics.RateWindow,
		Datasets: []metrics.DatasetFlow{{Dataset: "tax.taxpayer", In: 9, Published: 9, Delivered: 7}},
		Deliveries: []metrics.DeliveryFlow{{Agency: "vss", Dataset: "tax.taxpayer", Delivered: 3},
			{Agency: "moj", Dataset: "tax.taxpayer", Delivered: 4}},
		Agencies: []metrics.AgencyFlow{{Agency: "vss", Delivered: 3}, {Agency: "moj", Delivered: 4}}}
	agencies := func(token string) (datasets int, deliveries, totals []string) {
		code, body := b.call(t, "GET", "/v1/status", token, nil)
		if code != 200 {
			t.Fatalf("status: %d %v", code, body)
		}
		f := body["flow"].(map[string]any)
		for _, d := range f["deliveries"].([]any) {
			deliveries = append(deliveries, d.(map[string]any)["agency"].(string))
		}
		for _, a := range f["agencies"].([]any) {
			totals = append(totals, a.(map[string]any)["agency"].(string))
		}
		return len(f["datasets"].([]any)), deliveries, totals
	}
	if n, d, a := agencies(b.agencyToken(t, "vss")); n != 1 || fmt.Sprint(d) != "[vss]" || fmt.Sprint(a) != "[vss]" {
		t.Fatalf("vss sees %d datasets, deliveries of %v, totals of %v", n, d, a)
	}
	if n, d, a := agencies(b.operator); n != 1 || fmt.Sprint(d) != "[vss moj]" || fmt.Sprint(a) != "[vss moj]" {
		t.Fatalf("operator sees %d datasets, deliveries of %v, totals of %v", n, d, a)
	}
}
