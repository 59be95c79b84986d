package console

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const agreementYAML = `id: thads-hcm-taxpayer-lookup
dataset: tax.taxpayer
consumer: thads-hcm
title: Taxpayer lookup
mode: lookup
fields:
  - tax_code
`

// operatorRoutes answers the operator's routes of the fake API and the
// fake schema registry's; false for any other route.
func (f *fakeAPI) operatorRoutes(w http.ResponseWriter, r *http.Request, tok string, js func(int, any)) bool {
	route := r.Method + " " + r.URL.Path
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // for the routes of console_test.go
	f.mu.Lock()
	if f.bodies == nil {
		f.bodies = map[string]string{}
	}
	f.bodies[route] = string(body)
	builtIn := f.builtIn
	f.mu.Unlock()
	staff := tok == opToken || tok == agencyTok || tok == auditorTok
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/operator/"):
		if tok != opToken {
			js(403, map[string]string{"error": "denied: operator_required: operator endpoints need the operator token"})
			return true
		}
	case strings.HasPrefix(r.URL.Path, "/subjects") || strings.HasPrefix(r.URL.Path, "/compatibility/"):
		if !staff { // the registry's own answer, Confluent style
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error_code":401,"message":"Unauthorized: send the operator token or your agency's API token"}`)
			return true
		}
	default:
		return false
	}
	const id = "/v1/operator/agreements/thads-hcm-taxpayer-lookup"
	switch {
	case route == "GET /v1/operator/agreements":
		js(200, map[string]any{"managed": !builtIn, "digest": "abc", "agreements": []any{}})
	case route == "GET "+id:
		if !strings.Contains(r.Header.Get("Accept"), "yaml") {
			js(200, map[string]any{"id": "thads-hcm-taxpayer-lookup"})
			return true
		}
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = io.WriteString(w, agreementYAML)
	case route == "POST "+id+"/preview" || route == "PUT "+id:
		if builtIn {
			js(409, map[string]string{"error": "the agreements in force are the ones built into the binary; set policies.dir"})
			return true
		}
		if r.Header.Get("Content-Type") != "application/yaml" {
			js(415, map[string]string{"error": "Content-Type must be application/yaml"})
			return true
		}
		bad := strings.Contains(string(body), "sideways")
		switch {
		case r.Method == "PUT" && bad:
			js(422, map[string]string{"error": "nothing changed, the previous agreements stay in force:\nrequest body:5: mode: must be lookup, verify or stream"})
		case r.Method == "PUT":
			js(200, map[string]any{"file": "thads-hcm-taxpayer-lookup.yaml", "digest": "def", "agreements": 15})
		case bad:
			js(200, map[string]any{"valid": false, "changes": []any{}, "problems": []map[string]any{{"file": "request body", "line": 5, "field": "mode", "error": "must be lookup, verify or stream"}}})
		default:
			js(200, map[string]any{"valid": true, "problems": []any{}, "changes": []map[string]any{{"consumer": "thads-hcm", "dataset": "tax.taxpayer", "mode": "lookup",
				"gained": []string{"registered_on"}, "lost": []string{"status"}}}})
		}
	case route == "GET /v1/operator/tokens":
		js(200, []map[string]any{{"id": "tok1", "agency": "thads-hcm", "created": "2026-03-01T00:00:00Z"},
			{"id": "tok0", "agency": "thads-hcm", "created": "2026-01-01T00:00:00Z", "revoked": "2026-02-01T00:00:00Z"}})
	case route == "GET /v1/operator/certificates" || strings.HasSuffix(route, "/certificates"):
		js(409, map[string]string{"error": "mutual TLS is off: set api.tls.enabled"})
	case route == "POST /v1/operator/agencies/thads-hcm/tokens":
		js(201, map[string]string{"id": "tok2", "agency": "thads-hcm", "token": "lgsp_tok2.SECRET-ONCE"})
	case strings.HasPrefix(route, "POST /v1/operator/agencies/"):
		js(404, map[string]string{"error": "\"nobody\" is not a registered, active agency", "field": "agency"})
	case route == "DELETE /v1/operator/tokens/tok1":
		w.WriteHeader(204)
	case route == "POST /v1/operator/kafka/users/vss/password":
		js(200, map[string]string{"user": "vss", "password": "KAFKA-SECRET", "mechanism": "SCRAM-SHA-512"})
	case strings.HasPrefix(route, "POST /v1/operator/kafka/users/"):
		js(404, map[string]string{"error": "no such Kafka user", "field": "user"})
	case route == "GET /v1/operator/review":
		js(200, map[string]any{"items": []map[string]any{{"id": "r1", "source": "tax.taxpayer", "record_id": "event-a", "personal_id": "001090012345",
			"score": 7.5, "probability": 0.62, "status": "pending", "created": "2026-03-04T05:06:00Z"}}})
	case route == "GET /v1/operator/review/r1":
		js(200, map[string]any{"id": "r1", "source": "tax.taxpayer", "record_id": "event-a", "personal_id": "001090012345", "score": 7.5, "probability": 0.62,
			"status": "pending", "created": "2026-03-04T05:06:00Z", "explanation": map[string]any{"prior": -12.1, "total": 7.5,
				"fields": []map[string]any{{"field": "name", "level": "jaro_winkler", "weight": 11.2, "record": "Nguyễn Văn An", "candidate": "Nguyễn Văn Ấn"},
					{"field": "dob", "level": "exact", "weight": 9.3, "record": "1990-01-02", "candidate": "1990-01-02"},
					{"field": "old_id", "level": "missing", "weight": 0, "candidate": "012345678"}, {"field": "name_tf", "level": "frequency", "weight": -0.4}}}})
	case route == "POST /v1/operator/review/r1/accept" || route == "POST /v1/operator/review/r1/reject":
		if !strings.Contains(string(body), `"note":"`) || strings.Contains(string(body), `"note":""`) {
			js(400, map[string]string{"error": "note is required: say what the decision rests on (it is audited)", "field": "note"})
			return true
		}
		js(200, map[string]any{"id": "r1", "status": "accepted"})
	case route == "GET /subjects":
		js(200, []string{"tax.taxpayer-value"})
	case route == "GET /subjects/tax.taxpayer-value/versions":
		js(200, []int{1, 2})
	case route == "GET /subjects/tax.taxpayer-value/versions/1":
		js(200, map[string]any{"subject": "tax.taxpayer-value", "version": 1, "id": 3, "schemaType": "JSON", "schema": `{"type":"object","properties":{"tax_code":{"type":"string"}}}`})
	case route == "GET /subjects/tax.taxpayer-value/versions/2":
		js(200, map[string]any{"subject": "tax.taxpayer-value", "version": 2, "id": 7, "schemaType": "JSON", "schema": `{"type":"object","properties":{"tax_code":{"type":"string"},"status":{"type":"string"}}}`})
	case route == "POST /compatibility/subjects/tax.taxpayer-value/versions/latest":
		if r.URL.Query().Get("verbose") != "true" {
			js(400, map[string]string{"message": "verbose expected"})
			return true
		}
		if strings.Contains(string(body), "not json") {
			js(422, map[string]any{"error_code": 42201, "message": "Invalid schema: not JSON"})
			return true
		}
		js(200, map[string]any{"is_compatible": false, "messages": []string{"{errorType:'TYPE_CHANGED', description:'The type of tax_code changed from string to integer'}"}})
	default:
		js(404, map[string]string{"error": "no such route"})
	}
	return true
}

// The new operator pages in both languages, and the refusal a wrong role
// gets from the API (or the registry) for each.
func TestOperatorPagesInBothLanguages(t *testing.T) {
	f := newFixture(t)
	for _, l := range []Lang{Vietnamese, English} {
		for _, c := range []struct {
			name, token, path string
			code              int
			title             string
			want              []string
		}{
			{"agreements, operator", opToken, "/ui/agreements", 200, "agr.title", []string{"agr.editable", "agr.edit"}},
			{"agreement edit", opToken, "/ui/agreements/thads-hcm-taxpayer-lookup/edit", 200, "agr.edit.title", []string{"agr.yaml", "agr.preview", "consumer: thads-hcm"}},
			{"agency on agreement edit", agencyTok, "/ui/agreements/thads-hcm-taxpayer-lookup/edit", 403, "refused.title", []string{"operator_required"}},
			{"agencies", opToken, "/ui/agencies", 200, "cred.title", []string{"cred.issue", "cred.revoke", "kafka.rotate", "cert.off", "agstate.active", "auditor"}},
			{"agency on agencies", auditorTok, "/ui/agencies", 403, "refused.title", []string{"operator_required"}},
			{"schemas", opToken, "/ui/schemas", 200, "schemas.title", []string{"tax.taxpayer-value"}},
			{"schema versions", agencyTok, "/ui/schemas/tax.taxpayer-value", 200, "schema.title", []string{"schema.compare", "schema.check", "schema.changedlines"}},
			{"citizen on schemas", citizenTok, "/ui/schemas", 403, "refused.title", []string{"Unauthorized"}},
			{"review queue", opToken, "/ui/review", 200, "review.title", []string{"review.pending", "event-a", "62.0 %"}},
			{"review item", opToken, "/ui/review/r1", 200, "review.item.title", []string{"review.record", "review.candidate", "001090012345", "level.exact", "level.missing", "11.20",
				"review.recval", "review.candval", "Nguyễn Văn An", "Nguyễn Văn Ấn", "review.noval", "review.accept", "review.reject"}},
			{"agency on review", agencyTok, "/ui/review/r1", 403, "refused.title", []string{"operator_required"}},
		} {
			t.Run(string(l)+"/"+c.name, func(t *testing.T) {
				b := f.browser(t, l)
				b.signIn(c.token)
				code, page, h := b.do("GET", c.path, nil)
				if code != c.code {
					t.Fatalf("%d, want %d: %s", code, c.code, page)
				}
				if !strings.Contains(page, `<html lang="`+string(l)+`">`) || !strings.Contains(page, "<h1>"+text(l, c.title)+"</h1>") {
					t.Errorf("title %q missing in %s", text(l, c.title), page)
				}
				for _, w := range c.want {
					if want := text(l, w); !strings.Contains(page, template_escape(want)) {
						t.Errorf("page lacks %q", want)
					}
				}
				if strings.Contains(page, " style=") || strings.Contains(page, "<script>") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") {
					t.Error("inline style or script, or no CSP")
				}
				if c.code == 200 && strings.Count(page, "<form") != strings.Count(page, `name="csrf"`)+strings.Count(page, `method="get"`) {
					t.Errorf("a POST form without its CSRF token: %s", page)
				}
				if missing := unlabelled(page); len(missing) > 0 {
					t.Errorf("controls without a label: %v", missing)
				}
			})
		}
	}
	// The agency's navigation offers schemas but none of the operator's pages.
	b := f.browser(t, English)
	b.signIn(agencyTok)
	_, page, _ := b.do("GET", "/ui/agreements", nil)
	if !strings.Contains(page, `href="/ui/schemas"`) || strings.Contains(page, `href="/ui/review"`) || strings.Contains(page, "/edit") {
		t.Errorf("agency navigation: %s", page)
	}
}

var controlRE = regexp.MustCompile(`<(input|textarea|select)[^>]*\bid="([^"]+)"`)

// unlabelled lists the ids of visible controls no <label for> names.
func unlabelled(page string) []string {
	var out []string
	for _, m := range controlRE.FindAllStringSubmatch(page, -1) {
		if strings.Contains(m[0], `type="hidden"`) {
			continue
		}
		if !strings.Contains(page, `<label for="`+m[2]+`"`) {
			out = append(out, m[2])
		}
	}
	return out
}

// Editing an agreement: the preview shows the diff and an apply form
// carrying exactly the previewed text; applying goes through the PUT; an
// invalid text shows its problems by line and nothing is applied.
func TestAgreementEdit(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, English)
	csrf := b.signIn(opToken)
	edited := strings.Replace(agreementYAML, "  - tax_code\n", "  - tax_code\n  - registered_on\n", 1)

	code, page, _ := b.do("POST", "/ui/agreements/thads-hcm-taxpayer-lookup/preview", url.Values{"csrf": {csrf}, "yaml": {strings.ReplaceAll(edited, "\n", "\r\n")}})
	if code != 200 || !strings.Contains(page, text(English, "agr.diff")) || !strings.Contains(page, "HCMC civil judgment enforcement") ||
		!strings.Contains(page, text(English, "agr.gained")+`: <code>registered_on</code>`) || !strings.Contains(page, text(English, "agr.lost")+`: <code>status</code>`) {
		t.Fatalf("preview: %d %s", code, page)
	}
	if f.api.called("PUT ") != 0 {
		t.Fatal("the preview applied the change")
	}
	f.api.mu.Lock()
	sent := f.api.bodies["POST /v1/operator/agreements/thads-hcm-taxpayer-lookup/preview"]
	f.api.mu.Unlock()
	if sent != edited {
		t.Errorf("previewed text %q, want %q (CRLF made LF)", sent, edited)
	}
	if !strings.Contains(page, `<input type="hidden" name="yaml" value="`+template_escape(edited)+`">`) && !strings.Contains(page, `name="yaml" value="id: thads-hcm-taxpayer-lookup&#10;`) {
		t.Errorf("the apply form does not carry the previewed text: %s", page)
	}
	code, _, h := b.do("POST", "/ui/agreements/thads-hcm-taxpayer-lookup/apply", url.Values{"csrf": {csrf}, "yaml": {edited}})
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/agreements?changed=thads-hcm-taxpayer-lookup" {
		t.Fatalf("apply: %d %v", code, h)
	}
	f.api.mu.Lock()
	put := f.api.bodies["PUT /v1/operator/agreements/thads-hcm-taxpayer-lookup"]
	f.api.mu.Unlock()
	if put != edited {
		t.Errorf("PUT body %q", put)
	}
	_, page, _ = b.do("GET", h.Get("Location"), nil)
	if !strings.Contains(page, text(English, "agr.changed")) {
		t.Errorf("no confirmation after apply: %s", page)
	}

	// Invalid: the problems by line, no apply form, nothing applied.
	bad := strings.Replace(agreementYAML, "mode: lookup", "mode: sideways", 1)
	puts := f.api.called("PUT ")
	code, page, _ = b.do("POST", "/ui/agreements/thads-hcm-taxpayer-lookup/preview", url.Values{"csrf": {csrf}, "yaml": {bad}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, text(English, "agr.line")+" 5</a> <code>mode</code>: must be lookup") || strings.Contains(page, `id="apply"`) {
		t.Errorf("invalid preview: %d %s", code, page)
	}
	// Applied anyway (a stale form): the API refuses, the form shows why.
	code, page, _ = b.do("POST", "/ui/agreements/thads-hcm-taxpayer-lookup/apply", url.Values{"csrf": {csrf}, "yaml": {bad}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, text(English, "agr.notapplied")) || !strings.Contains(page, "line 5") {
		t.Errorf("invalid apply: %d %s", code, page)
	}
	if f.api.called("PUT ") != puts+1 {
		t.Errorf("PUT calls: %d", f.api.called("PUT ")-puts)
	}

	// Built-in agreements: the page says so and offers no editor.
	f.api.mu.Lock()
	f.api.builtIn = true
	f.api.mu.Unlock()
	for _, path := range []string{"/ui/agreements", "/ui/agreements/thads-hcm-taxpayer-lookup/edit"} {
		code, page, _ := b.do("GET", path, nil)
		if code != 200 || !strings.Contains(page, "policies.dir (LGSP_POLICIES_DIR)") || strings.Contains(page, "<textarea") || strings.Contains(page, "/edit\"") {
			t.Errorf("%s with built-in agreements: %d %s", path, code, page)
		}
	}
	code, page, _ = b.do("POST", "/ui/agreements/thads-hcm-taxpayer-lookup/preview", url.Values{"csrf": {csrf}, "yaml": {edited}})
	if code != http.StatusConflict || !strings.Contains(page, `id="builtin"`) {
		t.Errorf("preview with built-in agreements: %d %s", code, page)
	}
}

// Credentials: a secret is shown once, on the answer to the form, never
// cached; revoking redirects; the API's refusals are shown on the page.
func TestCredentialForms(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, Vietnamese)
	csrf := b.signIn(opToken)
	code, page, h := b.do("POST", "/ui/agencies/thads-hcm/tokens", url.Values{"csrf": {csrf}})
	if code != http.StatusCreated || !strings.Contains(page, "lgsp_tok2.SECRET-ONCE") || !strings.Contains(page, text(Vietnamese, "secret.once")) || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("issue: %d %v %s", code, h, page)
	}
	if _, page, _ := b.do("GET", "/ui/agencies", nil); strings.Contains(page, "SECRET-ONCE") {
		t.Error("the secret is shown again")
	}
	code, _, h = b.do("POST", "/ui/tokens/tok1/revoke", url.Values{"csrf": {csrf}})
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/agencies?revoked=tok1" || f.api.called("DELETE /v1/operator/tokens/tok1") != 1 {
		t.Fatalf("revoke: %d %v", code, h)
	}
	code, page, _ = b.do("POST", "/ui/kafka/password", url.Values{"csrf": {csrf}, "user": {"vss"}})
	if code != 200 || !strings.Contains(page, "KAFKA-SECRET") || !strings.Contains(page, "SCRAM-SHA-512") {
		t.Errorf("rotate: %d %s", code, page)
	}
	for _, c := range []struct {
		path string
		form url.Values
		code int
		want string
	}{
		{"/ui/kafka/password", url.Values{"user": {"ghost"}}, 404, "no such Kafka user"},
		{"/ui/kafka/password", url.Values{"user": {" "}}, 400, text(Vietnamese, "kafka.user")},
		{"/ui/agencies/thads-hcm/certificates", url.Values{"system": {"x"}}, 409, "mutual TLS is off"},
		{"/ui/agencies/nobody/tokens", url.Values{}, 404, "is not a registered, active agency"},
	} {
		c.form.Set("csrf", csrf)
		code, page, _ := b.do("POST", c.path, c.form)
		if code != c.code || !strings.Contains(page, text(Vietnamese, "cred.failed")) || !strings.Contains(page, template_escape(c.want)) {
			t.Errorf("%s %v: %d %s", c.path, c.form, code, page)
		}
	}
	// An agency cannot issue itself a token through the console.
	a := f.browser(t, English)
	acsrf := a.signIn(auditorTok)
	if code, page, _ := a.do("POST", "/ui/agencies/gov-inspectorate/tokens", url.Values{"csrf": {acsrf}}); code != 403 || strings.Contains(page, "SECRET") {
		t.Errorf("agency issuing a token: %d", code)
	}
}

// Schemas: two versions side by side, and a pasted schema checked with the
// registry's verbose messages.
func TestSchemaPages(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, English)
	csrf := b.signIn(agencyTok)
	code, page, _ := b.do("GET", "/ui/schemas/tax.taxpayer-value?a=1&b=2", nil)
	if code != 200 || !strings.Contains(page, `class="d-added"`) || !strings.Contains(page, "(id 3)") || !strings.Contains(page, "(id 7)") {
		t.Fatalf("versions: %d %s", code, page)
	}
	code, page, _ = b.do("POST", "/ui/schemas/tax.taxpayer-value/check", url.Values{"csrf": {csrf}, "type": {"JSON"}, "schema": {`{"type":"object"}`}})
	if code != 200 || !strings.Contains(page, text(English, "schema.incompatible")) || !strings.Contains(page, "TYPE_CHANGED") || !strings.Contains(page, `<option selected>JSON</option>`) {
		t.Errorf("check: %d %s", code, page)
	}
	f.api.mu.Lock()
	sent := f.api.bodies["POST /compatibility/subjects/tax.taxpayer-value/versions/latest"]
	f.api.mu.Unlock()
	if sent != `{"schema":"{\"type\":\"object\"}","schemaType":"JSON"}` {
		t.Errorf("sent to the registry: %s", sent)
	}
	code, page, _ = b.do("POST", "/ui/schemas/tax.taxpayer-value/check", url.Values{"csrf": {csrf}, "type": {"JSON"}, "schema": {"not json"}})
	if code != 422 || !strings.Contains(page, "Invalid schema: not JSON") {
		t.Errorf("unreadable schema: %d %s", code, page)
	}
}

// Review: accept with a note goes to the API; no note, the API's reason.
func TestReviewDecision(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, Vietnamese)
	csrf := b.signIn(opToken)
	code, page, _ := b.do("POST", "/ui/review/r1/accept", url.Values{"csrf": {csrf}, "note": {""}, "by": {"clerk 7"}})
	if code != 400 || !strings.Contains(page, "note is required") || !strings.Contains(page, text(Vietnamese, "review.failed")) {
		t.Errorf("no note: %d %s", code, page)
	}
	code, _, h := b.do("POST", "/ui/review/r1/reject", url.Values{"csrf": {csrf}, "note": {"another person: the paper file differs"}, "by": {"clerk 7"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/review?decided=r1" {
		t.Fatalf("reject: %d %v", code, h)
	}
	f.api.mu.Lock()
	sent := f.api.bodies["POST /v1/operator/review/r1/reject"]
	f.api.mu.Unlock()
	if sent != `{"by":"clerk 7","note":"another person: the paper file differs"}` {
		t.Errorf("sent: %s", sent)
	}
	if code, _, _ := b.do("POST", "/ui/review/r1/delete", url.Values{"csrf": {csrf}, "note": {"x"}}); code != 404 {
		t.Errorf("unknown decision: %d", code)
	}
}

// The review item puts, per field, the record's value next to the
// candidate's and the field's agreement and weight, in one row; a side
// without the value says so, and a term comparing no values shows none.
func TestReviewItemFieldValues(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, English)
	b.signIn(opToken)
	code, page, _ := b.do("GET", "/ui/review/r1", nil)
	if code != 200 {
		t.Fatalf("%d %s", code, page)
	}
	none := `<span class="hint">` + text(English, "review.noval") + `</span>`
	for _, c := range []struct{ field, rec, cand, level, weight string }{
		{"name", "Nguyễn Văn An", "Nguyễn Văn Ấn", "jaro_winkler", ">&#43;11.20<"},
		{"dob", "1990-01-02", "1990-01-02", text(English, "level.exact"), ">&#43;9.30<"},
		{"old_id", none, "012345678", text(English, "level.missing"), ">&#43;0.00<"},
		{"name_tf", "", "", "frequency", ">-0.40<"},
	} {
		row := regexp.MustCompile(`(?s)<tr data-field="` + c.field + `">(.*?)</tr>`).FindStringSubmatch(page)
		if row == nil {
			t.Errorf("no row for %s in %s", c.field, page)
			continue
		}
		want := `<td class="rec">` + c.rec + `</td><td class="cand">` + c.cand + `</td><td>` + c.level + `</td>`
		if !strings.Contains(row[1], want) || !strings.Contains(row[1], c.weight) {
			t.Errorf("row %s: %s, want %s and %s", c.field, row[1], want, c.weight)
		}
	}
}

func TestSideBySide(t *testing.T) {
	kinds := func(rows []diffRow) string {
		var s []string
		for _, r := range rows {
			s = append(s, r.Kind[:1]+r.Left+r.Right)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		a, b []string
		want string
	}{
		{[]string{"x", "y"}, []string{"x", "y"}, "sxx syy"},
		{[]string{"x", "y"}, []string{"x", "z", "y"}, "sxx az syy"},
		{[]string{"x", "y", "z"}, []string{"x", "z"}, "sxx ry szz"},
		{[]string{"x", "y", "z"}, []string{"x", "w", "z"}, "sxx cyw szz"},
		{nil, []string{"a"}, "aa"},
		{[]string{"a"}, nil, "ra"},
	} {
		if got := kinds(sideBySide(c.a, c.b)); got != c.want {
			t.Errorf("%v → %v: %q, want %q", c.a, c.b, got, c.want)
		}
	}
	rows := sideBySide([]string{"x", "y"}, []string{"x", "w", "y"})
	if rows[1].LeftNo != 0 || rows[1].RightNo != 2 || rows[2].LeftNo != 2 || rows[2].RightNo != 3 {
		t.Errorf("line numbers: %+v", rows)
	}
}
