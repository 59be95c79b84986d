package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/prometheus/client_golang/prometheus"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const testRegistry = `
agencies:
  - {id: mae, name: MAE, kind: ministry, contact: {name: a, email: a@mae.gov.vn}, state: active, sources: [land]}
  - {id: vss, name: VSS, kind: ministry-level, contact: {name: b, email: b@vss.gov.vn}, state: active, sources: [insurance]}
  - {id: gov-inspectorate, name: GI, kind: ministry-level, contact: {name: c, email: c@gi.gov.vn}, state: active, roles: [auditor]}
  - {id: moj, name: MOJ, kind: ministry, contact: {name: d, email: d@moj.gov.vn}, state: suspended, sources: [civil_status], roles: [auditor]}
`

// authFixture is a handlers value over a real SQLite store (tokens and the
// audit log) with one token per test agency.
type authFixture struct {
	h      *handlers
	e      *echo.Echo
	tokens map[string]string // caller kind → bearer
	audit  *audit.Log
	st     *sqlitestore.Store
}

func newAuthFixture(t testing.TB) *authFixture {
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
	reg, err := policies.ParseAgencies("test.yaml", []byte(testRegistry))
	if err != nil {
		t.Fatal(err)
	}
	toks := credentials.New(st)
	f := &authFixture{tokens: map[string]string{"anonymous": "", "bad token": "lgsp_" + strings.Repeat("x", 43), "operator": strings.Repeat("o", 64)}, audit: log, st: st}
	for kind, agency := range map[string]string{"owner of land": "mae", "other agency": "vss", "auditor agency": "gov-inspectorate", "suspended agency": "moj", "unregistered agency": "gone"} {
		_, secret, err := toks.Issue(ctx, agency)
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[kind] = secret
	}
	d := Deps{Tokens: toks, OperatorToken: f.tokens["operator"], Registry: RegistryFunc(func() *policies.Agencies { return reg }),
		Sources:  map[string]bool{"land": true, "insurance": true, "civil_status": true},
		AuditLog: log, Metrics: prometheus.NewRegistry()}
	f.e = New(d)
	f.h = &handlers{d: d, denied: deniedCounter(nil)}
	return f
}

// kinds are the callers of the decision matrix, in column order.
var kinds = []string{"anonymous", "bad token", "operator", "owner of land", "other agency", "auditor agency", "suspended agency", "unregistered agency"}

// decide runs the authorize middleware of a route for one caller and says
// what happened: "ok" when the handler would run, else the status and the
// reason code.
func (f *authFixture) decide(t *testing.T, method, path, kind string) string {
	t.Helper()
	req := httptest.NewRequest(method, strings.NewReplacer(":source", "land", ":", "").Replace(path), nil)
	if tok := f.tokens[kind]; tok != "" {
		req.Header.Set(echo.HeaderAuthorization, "Bearer "+tok)
	}
	c := f.e.NewContext(req, httptest.NewRecorder())
	c.SetPath(path)
	var names, values []string
	for _, seg := range strings.Split(path, "/") {
		if name, ok := strings.CutPrefix(seg, ":"); ok {
			names = append(names, name)
			values = append(values, map[bool]string{true: "land", false: "x"}[name == "source"])
		}
	}
	c.SetParamNames(names...)
	c.SetParamValues(values...)
	reached := false
	err := f.h.authorizeRoute(func(c echo.Context) error {
		reached = true
		if r, _ := ruleFor(method, path); r.Role == RolePublic || r.Role == RoleCitizen {
			return nil // no credential is read for these
		}
		if cl := callerOf(c); cl.Operator != (kind == "operator") {
			t.Errorf("%s %s as %s: handler sees caller %+v", method, path, kind, cl)
		}
		return nil
	})(c)
	if reached {
		return "ok"
	}
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		t.Fatalf("%s %s as %s: %v", method, path, kind, err)
	}
	if he.Code != http.StatusForbidden {
		return fmt.Sprint(he.Code)
	}
	reason := regexp.MustCompile(`^denied: ([a-z_]+):`).FindStringSubmatch(he.Message.(Problem).Error)
	if reason == nil {
		t.Fatalf("%s %s as %s: a 403 without a reason code: %v", method, path, kind, he.Message)
	}
	return "403 " + reason[1]
}

// The decision matrix: which caller may call which route. Every served
// route is in it (a new route shows up as a difference), and it is the
// golden file testdata/route_decisions.golden.
func TestRouteDecisionMatrix(t *testing.T) {
	f := newAuthFixture(t)
	var routes []string
	for _, r := range f.e.Routes() {
		if strings.HasPrefix(r.Name, "github.com/labstack/echo") || r.Method == "echo_route_any" {
			continue
		}
		routes = append(routes, r.Method+" "+r.Path)
	}
	sort.Slice(routes, func(i, j int) bool {
		pi, pj := strings.SplitN(routes[i], " ", 2)[1], strings.SplitN(routes[j], " ", 2)[1]
		if pi != pj {
			return pi < pj
		}
		return routes[i] < routes[j]
	})
	var b strings.Builder
	b.WriteString("# Who may call which route (broker/api/auth.go). ok: the handler runs;\n")
	b.WriteString("# 401: no valid credential; 403 <reason>: a valid one without the right.\n")
	b.WriteString("# Regenerate with: go test ./broker/api -run TestRouteDecisionMatrix -update\n\n")
	fmt.Fprintf(&b, "%-50s %-8s", "route", "role")
	for _, k := range kinds {
		fmt.Fprintf(&b, " | %s", k)
	}
	b.WriteString("\n")
	denied := 0
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		rule, _ := ruleFor(method, path)
		fmt.Fprintf(&b, "%-50s %-8s", r, rule.Role)
		for _, k := range kinds {
			out := f.decide(t, method, path, k)
			if strings.HasPrefix(out, "403") {
				denied++
			}
			fmt.Fprintf(&b, " | %s", out)
		}
		b.WriteString("\n")
	}
	golden(t, "route_decisions.golden", []byte(b.String()))

	// Every 403 is in the audit log, naming the caller and the reason.
	es, err := f.st.SearchAudit(context.Background(), store.AuditSearch{Decision: "deny", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != denied {
		t.Fatalf("%d denials audited, %d in the matrix", len(es), denied)
	}
	for _, e := range es {
		if e.Actor == "" || e.Action == "" || !strings.Contains(e.Reason, ": ") {
			t.Fatalf("denial audited without caller, action or reason: %+v", e)
		}
	}
}

// The rules themselves: the public routes are exactly the ones that reveal
// no personal data, everything under /v1/operator/ is the operator's, and
// a route nobody gave a rule is closed rather than open.
func TestRouteRules(t *testing.T) {
	var public []string
	for k, r := range routeRoles {
		if r.Role == RolePublic {
			public = append(public, k)
		}
	}
	sort.Strings(public)
	// The console's routes (/, /ui/*) are public here: the console signs its
	// users in itself and fetches every page's data from this API with the
	// session's credential, so these rules decide it all the same.
	want := "GET /,GET /healthz,GET /metrics,GET /openapi.json,GET /readyz,GET /ui/*,GET /v1/audit/checkpoint,GET /v1/audit/proofs/consistency,GET /v1/audit/proofs/inclusion,GET /v1/audit/public-key,POST /ui/*"
	if got := strings.Join(public, ","); got != want {
		t.Errorf("public routes\n got %s\nwant %s", got, want)
	}
	tests := []struct {
		method, path string
		role         Role
		ok           bool
	}{
		{"GET", "/v1/operator/anything/new", RoleOperator, true},
		{"GET", "/v1/operator/*", RoleOperator, true},
		{"GET", "/v1/something-new", RoleOperator, true},
		{"GET", "", "", false},              // no route: echo answers 404
		{"DELETE", "/v1/status", "", false}, // another method of a route: echo answers 405
		{"POST", "/v1/lookup", RoleAgency, true},
	}
	for _, tt := range tests {
		r, ok := ruleFor(tt.method, tt.path)
		if ok != tt.ok || r.Role != tt.role {
			t.Errorf("%s %s: %v %v, want %v %v", tt.method, tt.path, r.Role, ok, tt.role, tt.ok)
		}
	}
}

// Over HTTP, a refused call is a JSON problem; a 401 carries
// WWW-Authenticate and never says whether the agency exists.
func TestUnauthenticatedAnswer(t *testing.T) {
	f := newAuthFixture(t)
	srv := httptest.NewServer(f.e)
	defer srv.Close()
	var bodies []string
	for _, tok := range []string{"", "lgsp_" + strings.Repeat("y", 43), f.tokens["bad token"]} {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/audit", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Bearer realm="lgsp"` {
			t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, buf.String())
		}
		bodies = append(bodies, buf.String())
	}
	if bodies[1] != bodies[2] {
		t.Errorf("two unknown tokens get different answers:\n%s\n%s", bodies[1], bodies[2])
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./broker/api -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; if the change is intended, run go test ./broker/api -run %s -update and review the diff\n--- got:\n%s\n--- want:\n%s", path, t.Name(), got, want)
	}
}

// BenchmarkAuthorize is the cost the middleware adds to a call: the
// operator token (a constant-time compare) and an agency token (a SHA-256
// and a lookup in the SQLite token store).
func BenchmarkAuthorize(b *testing.B) {
	f := newAuthFixture(b)
	for _, kind := range []string{"operator", "other agency"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", "/v1/status", nil)
				req.Header.Set(echo.HeaderAuthorization, "Bearer "+f.tokens[kind])
				c := f.e.NewContext(req, httptest.NewRecorder())
				c.SetPath("/v1/status")
				if err := f.h.authorizeRoute(func(echo.Context) error { return nil })(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
