package console

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/policies"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Credentials of the fake bus.
const (
	opToken    = "operator-secret"
	agencyTok  = "lgsp_agency"       // thads-hcm, no auditor role
	auditorTok = "lgsp_inspectorate" // gov-inspectorate, auditor
	citizenTok = "eid-citizen"
)

// fakeAPI answers the REST routes the console calls, deciding by the
// bearer token the way the real API's roles do, and records the calls.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string
	// builtIn makes the agreements the binary's own (policies.dir unset).
	builtIn bool
	// bodies holds the last body sent to each "METHOD path".
	bodies map[string]string
}

func (f *fakeAPI) called(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	js := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if f.operatorRoutes(w, r, tok, js) { // console_manage_test.go
		return
	}
	staff := tok == opToken || tok == agencyTok || tok == auditorTok
	route := r.Method + " " + r.URL.Path
	switch {
	case route == "GET /v1/audit/checkpoint":
		js(200, map[string]any{"size": 10, "root": "00", "time": time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)})
	case route == "GET /v1/citizen/accesses":
		if tok != citizenTok {
			js(401, map[string]string{"error": "token not accepted"})
			return
		}
		js(200, map[string]any{"accesses": []map[string]any{{"seq": 7, "time": time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC), "agency": "thads-hcm",
			"action": "lookup", "dataset": "tax.taxpayer", "fields": []string{"tax_code"}, "purpose": "judgment_enforcement", "legal_basis": "Law 26/2008/QH12."}}})
	case !staff:
		js(401, map[string]string{"error": "send your agency's API token"})
	case route == "GET /v1/status":
		js(200, map[string]any{"records_in": 120, "published": 110, "dead_lettered": 10, "delivered": 90,
			"identity": map[string]int{"verified": 100, "mismatch": 3}, "population": 2000,
			"connectors": []map[string]any{{"name": "tax", "status": "running"}, {"name": "land", "status": "backoff"}}})
	case route == "GET /v1/connectors":
		js(200, []map[string]any{{"name": "tax", "status": "running", "position": "0a", "records_read": 5, "since": time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)}})
	case route == "GET /v1/agreements":
		js(200, []map[string]any{{"id": "thads-hcm-taxpayer-lookup", "dataset": "tax.taxpayer", "consumer": "thads-hcm", "title": "Taxpayer lookup",
			"mode": "lookup", "purposes": []string{"judgment_enforcement"}, "fields": []string{"tax_code"}, "valid_from": "2025-01-01", "valid_until": "2027-12-31"}})
	case route == "GET /v1/datasets":
		js(200, []map[string]any{{"name": "tax.taxpayer"}})
	case strings.HasPrefix(route, "POST /v1/connectors/"):
		if tok != opToken {
			js(403, map[string]string{"error": "denied: operator_required: this route needs the operator token"})
			return
		}
		var body struct{ Position, Reason string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body.Reason == "" {
			js(400, map[string]string{"error": "reason is required", "field": "reason"})
			return
		}
		js(200, map[string]any{"name": "tax"})
	case route == "GET /v1/audit" || route == "GET /v1/audit/export":
		if tok == agencyTok {
			js(403, map[string]string{"error": "denied: auditor_role_required: agency thads-hcm has no auditor role"})
			return
		}
		if route == "GET /v1/audit/export" {
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = io.WriteString(w, "{}\n")
			return
		}
		js(200, map[string]any{"entries": []map[string]any{{"Seq": 7, "Time": time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC), "Actor": "thads-hcm",
			"Action": "lookup", "Dataset": "tax.taxpayer", "Decision": "allow", "Fields": []string{"tax_code"}, "Hash": "AAEC"}}})
	default:
		js(404, map[string]string{"error": "no such route"})
	}
}

var testRegistry = func() *policies.Agencies {
	reg, err := policies.ParseAgencies("test", []byte(`agencies:
  - {id: thads-hcm, name: "Cục Thi hành án dân sự TP. Hồ Chí Minh (HCMC civil judgment enforcement)", kind: provincial, province: "079", state: active, contact: {name: x, email: x@x.vn}}
  - {id: gov-inspectorate, name: "Thanh tra Chính phủ (Government Inspectorate)", kind: ministry-level, state: active, roles: [auditor], contact: {name: x, email: x@x.vn}}
`))
	if err != nil {
		panic(err)
	}
	return reg
}()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	api   *fakeAPI
	con   *Console
	srv   *httptest.Server
	clock *clock
	reg   *prometheus.Registry
}

func newFixture(t testing.TB) *fixture {
	api := &fakeAPI{}
	clk := &clock{t: time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	con, err := New(Deps{API: api, Schemas: api, OperatorToken: opToken, Registry: func() *policies.Agencies { return testRegistry },
		AgencyToken: func(_ context.Context, tok string) (string, error) {
			switch tok {
			case agencyTok:
				return "thads-hcm", nil
			case auditorTok:
				return "gov-inspectorate", nil
			}
			return "", errors.New("invalid token")
		},
		CitizenToken: func(tok string) (string, error) {
			if tok == citizenTok {
				return "001099000001", nil
			}
			return "", errors.New("invalid token")
		},
		AuditSize: func() int64 { return 42 }, Metrics: reg, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(con)
	t.Cleanup(srv.Close)
	return &fixture{api: api, con: con, srv: srv, clock: clk, reg: reg}
}

// browser is a client with its own cookies that does not follow redirects.
type browser struct {
	t    testing.TB
	f    *fixture
	c    *http.Client
	lang Lang
}

func (f *fixture) browser(t testing.TB, l Lang) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, f: f, lang: l, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	u, _ := url.Parse(f.srv.URL + "/ui/")
	jar.SetCookies(u, []*http.Cookie{{Name: langCookie, Value: string(l), Path: "/ui/"}})
	return b
}

func (b *browser) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.f.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", page)
	}
	return m[1]
}

// signIn signs in with token and returns the session's CSRF token.
func (b *browser) signIn(token string) string {
	b.t.Helper()
	_, page, _ := b.do("GET", "/ui/signin", nil)
	code, _, h := b.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(b.t, page)}, "token": {token}})
	if code != http.StatusSeeOther {
		b.t.Fatalf("sign in: %d", code)
	}
	code, page, _ = b.do("GET", h.Get("Location"), nil)
	if code != 200 {
		b.t.Fatalf("first page %s: %d %s", h.Get("Location"), code, page)
	}
	return csrfOf(b.t, page)
}

// Every page renders in both languages with its title, the user's
// figures, and the security headers; a wrong role gets the refusal page.
func TestPagesInBothLanguages(t *testing.T) {
	f := newFixture(t)
	for _, l := range []Lang{Vietnamese, English} {
		for _, c := range []struct {
			name, token, path string
			code              int
			title             string
			want              []string
		}{
			{"sign-in", "", "/ui/signin", 200, "signin.title", []string{"signin.lead"}},
			{"overview", opToken, "/ui/overview", 200, "overview.title", []string{"records_in", "dead_lettered", "overview.backoff", "overview.checkpoint"}},
			{"connectors", opToken, "/ui/connectors", 200, "conn.title", []string{"conn.reset.reason"}},
			{"audit form", auditorTok, "/ui/audit", 200, "audit.title", []string{"audit.citizen"}},
			{"audit results", auditorTok, "/ui/audit?search=1&citizen=001099000001&csrf=", 200, "audit.title", []string{"audit.results", "proof.checking", "act.lookup"}},
			{"citizen", citizenTok, "/ui/me", 200, "me.title", []string{"me.lead", "act.lookup", "proof.checking"}},
			{"agency on the audit search", agencyTok, "/ui/audit?search=1&csrf=", 403, "refused.title", []string{"auditor_role_required"}},
			{"citizen on the overview", citizenTok, "/ui/overview", 403, "refused.title", []string{"refused.body"}},
			{"agreements", agencyTok, "/ui/agreements", 200, "agr.title", []string{"agr.consumer", "agr.readonly"}},
			{"no such page", opToken, "/ui/nowhere", 404, "notfound.title", nil},
		} {
			t.Run(string(l)+"/"+c.name, func(t *testing.T) {
				b := f.browser(t, l)
				path := c.path
				if c.token != "" {
					csrf := b.signIn(c.token)
					path = strings.Replace(path, "csrf=", "csrf="+url.QueryEscape(csrf), 1)
				}
				code, page, h := b.do("GET", path, nil)
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
				if c.name == "overview" && (!strings.Contains(page, `data-figure="records_in">120<`) || !strings.Contains(page, "04/03/2026 12:06")) {
					t.Errorf("overview figures or Vietnamese date missing: %s", page)
				}
				if c.name == "citizen" && !strings.Contains(page, agencyName(func() string { a, _ := testRegistry.Get("thads-hcm"); return a.Name }(), l)) {
					t.Errorf("citizen page lacks the agency's full name")
				}
				csp := h.Get("Content-Security-Policy")
				if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") || h.Get("X-Frame-Options") != "DENY" {
					t.Errorf("headers: %v", h)
				}
				if strings.Contains(page, " style=") || strings.Contains(page, "<script>") {
					t.Error("inline style or script on the page")
				}
			})
		}
	}
}

// template_escape is how html/template writes a text.
func template_escape(s string) string {
	return strings.NewReplacer("'", "&#39;", `"`, "&#34;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// Every text the templates ask for exists in both languages.
func TestEveryTemplateTextIsTranslated(t *testing.T) {
	re := regexp.MustCompile(`\.T "([^"]+)"`)
	entries, _ := templateFS.ReadDir("templates")
	for _, e := range entries {
		raw, _ := templateFS.ReadFile("templates/" + e.Name())
		for _, m := range re.FindAllStringSubmatch(string(raw), -1) {
			if tr, ok := messages[m[1]]; !ok || tr[0] == "" || tr[1] == "" {
				t.Errorf("%s: no translation for %q", e.Name(), m[1])
			}
		}
	}
	for _, k := range []string{"signin.failed", "signin.slow", "signin.expired", "signin.out", "csrf.title", "csrf.body", "refused.title", "refused.body",
		"error.title", "error.body", "notfound.title", "notfound.body", "conn.reset.done", "conn.reset.failed", "act.lookup", "act.verify", "act.deliver", "allow", "deny"} {
		if _, ok := messages[k]; !ok {
			t.Errorf("no translation for %q", k)
		}
	}
}

// Every form refuses a missing or wrong CSRF token, and nothing reaches the API.
func TestFormsRequireCSRF(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, method, path string
		form               url.Values
	}{
		{"sign out", "POST", "/ui/signout", url.Values{}},
		{"connector reset", "POST", "/ui/connectors/tax/reset", url.Values{"position": {""}, "reason": {"because"}}},
		{"audit search", "GET", "/ui/audit?search=1&citizen=001099000001", nil},
		{"audit export", "GET", "/ui/audit/export?format=ndjson", nil},
		{"agreement preview", "POST", "/ui/agreements/thads-hcm-taxpayer-lookup/preview", url.Values{"yaml": {"id: x\n"}}},
		{"agreement apply", "POST", "/ui/agreements/thads-hcm-taxpayer-lookup/apply", url.Values{"yaml": {"id: x\n"}}},
		{"token issue", "POST", "/ui/agencies/thads-hcm/tokens", url.Values{}},
		{"token revoke", "POST", "/ui/tokens/tok1/revoke", url.Values{}},
		{"certificate issue", "POST", "/ui/agencies/thads-hcm/certificates", url.Values{"system": {"x"}}},
		{"kafka password", "POST", "/ui/kafka/password", url.Values{"user": {"vss"}}},
		{"schema check", "POST", "/ui/schemas/tax.taxpayer-value/check", url.Values{"schema": {"{}"}, "type": {"JSON"}}},
		{"review accept", "POST", "/ui/review/r1/accept", url.Values{"note": {"checked"}}},
		{"review reject", "POST", "/ui/review/r1/reject", url.Values{"note": {"checked"}}},
	} {
		for _, bad := range []string{"", "wrong-token"} {
			t.Run(c.name+"/"+bad, func(t *testing.T) {
				b := f.browser(t, Vietnamese)
				b.signIn(opToken)
				f.api.mu.Lock()
				before := len(f.api.calls)
				f.api.mu.Unlock()
				path, form := c.path, c.form
				if form != nil {
					form = url.Values{}
					for k, v := range c.form {
						form[k] = v
					}
					if bad != "" {
						form.Set("csrf", bad)
					}
				} else if bad != "" {
					path += "&csrf=" + bad
				}
				code, page, _ := b.do(c.method, path, form)
				if code != http.StatusForbidden || !strings.Contains(page, text(Vietnamese, "csrf.body")) {
					t.Fatalf("%d %s", code, page)
				}
				f.api.mu.Lock()
				for _, call := range f.api.calls[before:] {
					if strings.HasPrefix(call, "POST ") || strings.HasPrefix(call, "PUT ") || strings.HasPrefix(call, "DELETE ") || call == "GET /v1/audit" || call == "GET /v1/audit/export" {
						t.Errorf("the API was called: %s", call)
					}
				}
				f.api.mu.Unlock()
				if c.name == "sign out" { // still signed in
					if code, _, _ := b.do("GET", "/ui/overview", nil); code != 200 {
						t.Errorf("signed out without a CSRF token: %d", code)
					}
				}
			})
		}
	}
	// The sign-in form too: without its token no credential is even checked.
	b := f.browser(t, English)
	for _, form := range []url.Values{{"token": {opToken}}, {"token": {opToken}, "csrf": {"forged"}}} {
		if code, page, h := b.do("POST", "/ui/signin", form); code != http.StatusForbidden || h.Get("Set-Cookie") != "" && strings.Contains(h.Get("Set-Cookie"), sessionCookie+"=") {
			t.Errorf("sign-in without CSRF: %d %s", code, page)
		}
	}
	// With the right token, the reset goes to the API.
	b = f.browser(t, English)
	csrf := b.signIn(opToken)
	code, _, h := b.do("POST", "/ui/connectors/tax/reset", url.Values{"csrf": {csrf}, "position": {""}, "reason": {"because"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/connectors?reset=tax" || f.api.called("POST /v1/connectors/tax/reset") != 1 {
		t.Fatalf("reset with CSRF: %d %v", code, h)
	}
	// The API's own validation answers an empty reason, on the page.
	if code, page, _ := b.do("POST", "/ui/connectors/tax/reset", url.Values{"csrf": {csrf}, "position": {""}, "reason": {""}}); code != 400 || !strings.Contains(page, "reason is required") {
		t.Errorf("empty reason: %d", code)
	}
}

// A session cookie that is altered, expired or signed out opens nothing.
func TestSessionCookie(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, Vietnamese)
	b.signIn(opToken)
	u, _ := url.Parse(f.srv.URL + "/ui/")
	var value string
	for _, ck := range b.c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			value = ck.Value
		}
	}
	id, sig, _ := strings.Cut(value, ".")
	flip := func(s string) string {
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	for name, v := range map[string]string{"id changed": flip(id) + "." + sig, "signature changed": id + "." + flip(sig),
		"no signature": id, "signature of another key": func() string { o := newFixture(t); return o.con.sign("session", id) }()} {
		t.Run(name, func(t *testing.T) {
			o := f.browser(t, Vietnamese)
			o.c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: v, Path: "/ui/"}})
			code, _, h := o.do("GET", "/ui/overview", nil)
			if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ui/signin") {
				t.Fatalf("tampered cookie: %d %v", code, h)
			}
			if code, _, _ := o.do("POST", "/ui/connectors/tax/reset", url.Values{"reason": {"x"}}); code != http.StatusUnauthorized {
				t.Errorf("tampered cookie on a form: %d", code)
			}
		})
	}
	if f.api.called("POST") != 0 {
		t.Error("a tampered session reached the API")
	}
	if strings.Contains(value, opToken) {
		t.Error("the session cookie carries the credential")
	}
	// Idle for longer than SessionIdle: the session has ended.
	f.clock.add(31 * time.Minute)
	if code, _, _ := b.do("GET", "/ui/overview", nil); code != http.StatusSeeOther {
		t.Errorf("an idle session still works: %d", code)
	}
}

// The session cookie's attributes.
func TestSessionCookieAttributes(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, English)
	_, page, _ := b.do("GET", "/ui/signin", nil)
	_, _, h := b.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(t, page)}, "token": {citizenTok}})
	var set string
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") {
			set = c
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Max-Age=28800", "Path=/ui/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, citizenTok) {
		t.Error("the cookie carries the credential")
	}
	f.con.d.TLS = true
	_, page, _ = b.do("GET", "/ui/signin", nil)
	_, _, h = b.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(t, page)}, "token": {citizenTok}})
	if !strings.Contains(strings.Join(h.Values("Set-Cookie"), "\n"), "Secure") {
		t.Error("no Secure cookie with TLS on")
	}
}

// A wrong credential: one message whatever it is, counted; repeated
// failures from one address are slowed, then allowed again.
func TestSignInFailures(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, Vietnamese)
	var pages []string
	for i, tok := range []string{"lgsp_unknown", "lgsp_agency-that-does-not-exist", "nonsense"} {
		_, page, _ := b.do("GET", "/ui/signin", nil)
		code, page, _ := b.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(t, page)}, "token": {tok}})
		if code != http.StatusUnauthorized || !strings.Contains(page, text(Vietnamese, "signin.failed")) {
			t.Fatalf("attempt %d: %d %s", i, code, page)
		}
		pages = append(pages, csrfRE.ReplaceAllString(page, ""))
	}
	if pages[0] != pages[1] || pages[1] != pages[2] {
		t.Error("failed sign-ins differ: the page hints at what was wrong")
	}
	_, page, _ := b.do("GET", "/ui/signin", nil)
	code, page, h := b.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(t, page)}, "token": {opToken}})
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" || !strings.Contains(page, text(Vietnamese, "signin.slow")) {
		t.Fatalf("after 3 failures: %d %v", code, h)
	}
	if got := testutil.ToFloat64(f.con.failures); got != 4 {
		t.Errorf("failures counted: %v", got)
	}
	if n, err := testutil.GatherAndCount(f.reg, "lgsp_console_signin_failures_total"); err != nil || n != 1 {
		t.Errorf("metric not exported: %d %v", n, err)
	}
	f.clock.add(2 * time.Second)
	_, page, _ = b.do("GET", "/ui/signin", nil)
	if code, _, _ := b.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(t, page)}, "token": {opToken}}); code != http.StatusSeeOther {
		t.Errorf("after waiting: %d", code)
	}
}

// A credential the API stops accepting ends the session on the next page.
func TestRevokedCredentialEndsSession(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, English)
	b.signIn(agencyTok)
	f.con.d.AgencyToken = func(context.Context, string) (string, error) { return "", errors.New("revoked") }
	// The API no longer takes the token: it answers 401.
	f.con.SetAPI(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"token revoked"}`)
	}))
	code, _, h := b.do("GET", "/ui/overview", nil)
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/signin?expired=1" {
		t.Fatalf("revoked credential: %d %v", code, h)
	}
	if code, _, _ := b.do("GET", "/ui/overview", nil); code != http.StatusSeeOther {
		t.Errorf("the session survived: %d", code)
	}
}

func TestAgencyNameAndDates(t *testing.T) {
	for _, c := range []struct {
		full string
		l    Lang
		want string
	}{
		{"Thanh tra Chính phủ (Government Inspectorate)", Vietnamese, "Thanh tra Chính phủ"},
		{"Thanh tra Chính phủ (Government Inspectorate)", English, "Government Inspectorate"},
		{"Bộ Công an", English, "Bộ Công an"},
	} {
		if got := agencyName(c.full, c.l); got != c.want {
			t.Errorf("%q in %s: %q", c.full, c.l, got)
		}
	}
	if got := formatTime(time.Date(2026, 12, 31, 17, 5, 0, 0, time.UTC)); got != "01/01/2027 00:05" {
		t.Errorf("date: %s", got)
	}
}

// The overview page, rendered from the API's answers.
// The live figures of the overview's script.
func TestLiveStatus(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, English)
	b.signIn(opToken)
	code, raw, h := b.do("GET", "/ui/live/status", nil)
	var figs map[string]any
	if code != 200 || h.Get("Content-Type") != "application/json" || json.Unmarshal([]byte(raw), &figs) != nil {
		t.Fatalf("%d %s", code, raw)
	}
	if in, _ := figs["records_in"].(map[string]any); in["value"] != float64(120) || in["width"] != float64(300) || figs["audit_size"] != float64(42) || figs["backoff"] != float64(1) {
		t.Errorf("figures: %v", figs)
	}
	// Without a session: a 401 the script stops on, not a sign-in page.
	if code, _, _ := f.browser(t, English).do("GET", "/ui/live/status", nil); code != http.StatusUnauthorized {
		t.Errorf("live figures without a session: %d", code)
	}
}
