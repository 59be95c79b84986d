package registry

// The authenticated registry, over a real HTTP server, a real (SQLite)
// store, the bus's real token service and audit log: who may read, who
// may change, what a refusal looks like, and that every change and every
// refused change of an authenticated caller is in the audit log.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/rest"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/policies"
)

// testAgencies: a schema steward, a plain agency, and a suspended steward.
const testAgencies = `agencies:
  - {id: steward-agency, name: Schema steward, kind: ministry-level, contact: {name: a, email: a@example.gov.vn}, state: active, roles: [schema_steward]}
  - {id: plain-agency, name: Plain agency, kind: ministry-level, contact: {name: b, email: b@example.gov.vn}, state: active}
  - {id: gone-steward, name: Suspended steward, kind: ministry-level, contact: {name: c, email: c@example.gov.vn}, state: suspended, roles: [schema_steward]}
`

// testOperatorToken stands for the bus's operator token.
const testOperatorToken = "operator-token-0123456789abcdef0123456789abcdef"

// sharedSubject is a subject the bus bootstraps from the catalog (a JSON
// Schema envelope).
const sharedSubject = "civil_status.birth_registration.v1-value"

// authServers are the testBus's registry behind authentication: strict
// (every request needs a credential) and open for anonymous reads, on one
// audit log, with API tokens issued to the agencies of testAgencies and to
// one that the agency registry does not list.
type authServers struct {
	strict, anon string
	log          *audit.Log
	st           store.AuditStore
	tokens       map[string]string // agency → API token
	metrics      *prometheus.Registry
}

func newAuthServers(t *testing.T, b *testBus) *authServers {
	t.Helper()
	ctx := context.Background()
	ags, err := policies.ParseAgencies("test-agencies.yaml", []byte(testAgencies))
	if err != nil {
		t.Fatal(err)
	}
	toks := credentials.New(b.st)
	a := &authServers{st: b.st, tokens: map[string]string{}, metrics: prometheus.NewRegistry()}
	for _, ag := range []string{"steward-agency", "plain-agency", "gone-steward", "unlisted-agency"} {
		if _, a.tokens[ag], err = toks.Issue(ctx, ag); err != nil {
			t.Fatal(err)
		}
	}
	if a.log, err = audit.Open(ctx, b.st, []byte("0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	auth := TokenAuth{OperatorToken: testOperatorToken, Verify: toks.Verify, Agency: ags.Get}
	strict := httptest.NewServer(b.reg.Handler(WithAuth(auth, a.log), WithMetrics(a.metrics)))
	anon := httptest.NewServer(b.reg.Handler(WithAuth(auth, a.log), WithAnonymousRead(true), WithMetrics(a.metrics)))
	t.Cleanup(strict.Close)
	t.Cleanup(anon.Close)
	a.strict, a.anon = strict.URL, anon.URL
	return a
}

// caller sets a request's credential.
type caller struct {
	name string
	set  func(*http.Request)
}

func basic(user, pass string) caller {
	return caller{"basic " + user, func(r *http.Request) { r.SetBasicAuth(user, pass) }}
}

func bearer(name, token string) caller {
	return caller{"bearer " + name, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }}
}

var nobody = caller{"no credential", func(*http.Request) {}}

type authResponse struct {
	status int
	header http.Header
	body   string
	code   int // error_code, when the body is an error
}

func send(t *testing.T, base string, who caller, method, path, body string) authResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ContentType)
	who.set(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e errorResponse
	_ = json.Unmarshal(raw, &e)
	return authResponse{resp.StatusCode, resp.Header, string(raw), e.ErrorCode}
}

// theAttack is the security review's attack on a shared subject: open its
// compatibility, register a forgery as latest, delete the bus's own
// version, and lock the forgery in; plus the other changes of the API.
var theAttack = []struct{ method, path, body string }{
	{"PUT", "/config/" + sharedSubject, `{"compatibility":"NONE"}`},
	{"POST", "/subjects/" + sharedSubject + "/versions", `{"schemaType":"JSON","schema":"{\"type\":\"integer\"}"}`},
	{"DELETE", "/subjects/" + sharedSubject + "/versions/1", ""},
	{"PUT", "/config/" + sharedSubject, `{"compatibility":"FULL_TRANSITIVE"}`},
	{"PUT", "/config", `{"compatibility":"NONE"}`},
	{"DELETE", "/config/" + sharedSubject, ""},
	{"PUT", "/mode/" + sharedSubject, `{"mode":"READONLY"}`},
	{"PUT", "/mode", `{"mode":"IMPORT"}`},
	{"DELETE", "/mode", ""},
	{"DELETE", "/subjects/" + sharedSubject, ""},
}

// unauthorizedBody is the one answer to every missing or wrong credential.
const unauthorizedBody = `{"error_code":40101,"message":"Unauthorized: send the operator token or your agency's API token, ` +
	`as HTTP Basic (basic.auth.user.info=<agency id or \"operator\">:<token>) or as a bearer token (bearer.auth.token=<token>)"}`

func want401(t *testing.T, what string, got authResponse) {
	t.Helper()
	if got.status != http.StatusUnauthorized || got.body != unauthorizedBody {
		t.Errorf("%s: %d %s, want 401 %s", what, got.status, got.body, unauthorizedBody)
	}
	if h := got.header.Values("WWW-Authenticate"); !slices.Equal(h, []string{`Basic realm="lgsp-registry"`, `Bearer realm="lgsp-registry"`}) {
		t.Errorf("%s: WWW-Authenticate %q", what, h)
	}
}

func TestAttackRefusedWithoutAStewardsCredential(t *testing.T) {
	bus := newTestBus(t)
	a := newAuthServers(t, bus)
	ctx := context.Background()
	busID := bus.ids["civil_status.birth_registration"]
	plain, gone, unlisted := a.tokens["plain-agency"], a.tokens["gone-steward"], a.tokens["unlisted-agency"]

	// Whatever is wrong with the credential, the answer is the same 401:
	// it never tells whether an agency or token exists.
	unauthenticated := []struct {
		base string
		who  caller
	}{
		{a.strict, nobody},
		{a.anon, nobody}, // anonymous reads never allow a change
		{a.strict, bearer("garbage", "lgsp_nonsense")},
		{a.strict, bearer("empty", "")},
		{a.strict, basic("operator", "wrong")},
		{a.strict, basic("plain-agency", a.tokens["steward-agency"])}, // another agency's token
		{a.strict, basic("steward-agency", testOperatorToken)},        // the operator token under an agency's name
		{a.strict, basic("no-such-agency", plain)},
		{a.strict, caller{"not base64", func(r *http.Request) { r.Header.Set("Authorization", "Basic %%%") }}},
		{a.strict, caller{"no colon", func(r *http.Request) {
			r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("operator")))
		}}},
		{a.strict, caller{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }}},
	}
	n401 := 0
	for _, u := range unauthenticated {
		for _, step := range theAttack {
			want401(t, u.who.name+": "+step.method+" "+step.path, send(t, u.base, u.who, step.method, step.path, step.body))
			n401++
		}
	}

	// Authenticated agencies without the steward role: 403, audited.
	forbidden := []struct {
		who    caller
		actor  string
		reason string
	}{
		{bearer("plain-agency", plain), "plain-agency", ReasonStewardRequired},
		{basic("plain-agency", plain), "plain-agency", ReasonStewardRequired},
		{bearer("gone-steward", gone), "gone-steward", ReasonAgencyNotActive},
		{basic("unlisted-agency", unlisted), "unlisted-agency", ReasonAgencyNotActive},
	}
	for _, f := range forbidden {
		for _, step := range theAttack {
			got := send(t, a.strict, f.who, step.method, step.path, step.body)
			if got.status != http.StatusForbidden || got.code != codeForbidden || !strings.Contains(got.body, f.reason) {
				t.Errorf("%s: %s %s: %d %s, want 403 40301 %s", f.who.name, step.method, step.path, got.status, got.body, f.reason)
			}
		}
	}

	// Nothing changed: the shared subject still has only the bus's version,
	// under the default compatibility.
	if s, err := bus.reg.Latest(ctx, sharedSubject); err != nil || s.ID != busID || s.Version != 1 {
		t.Fatalf("latest %s after the refused attack = %+v, %v; want the bus's id %d", sharedSubject, s, err, busID)
	}
	if lvl, err := bus.reg.Compatibility(ctx, sharedSubject, true); err != nil || lvl != "BACKWARD" {
		t.Fatalf("compatibility after the refused attack = %s, %v", lvl, err)
	}
	if m, err := bus.reg.Mode(ctx, "", true); err != nil || m != "READWRITE" {
		t.Fatalf("mode after the refused attack = %s, %v", m, err)
	}

	// Every refusal of an authenticated caller is in the audit log; the
	// 401s are counted, not audited.
	for _, f := range forbidden {
		entries, err := a.st.ListAudit(ctx, store.AuditQuery{Actor: f.actor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var deny int
		for _, e := range entries {
			if e.Decision == "deny" && e.Dataset == "schema_registry" && strings.HasPrefix(e.Reason, f.reason+": ") &&
				strings.HasPrefix(e.Action, "schema.") && (e.RequestID == sharedSubject || e.RequestID == "(global)") {
				deny++
			}
		}
		if want := 2 * len(theAttack); f.actor == "plain-agency" && deny != want {
			t.Errorf("%s: %d deny entries, want %d: %+v", f.actor, deny, want, entries)
		} else if f.actor != "plain-agency" && deny != len(theAttack) {
			t.Errorf("%s: %d deny entries, want %d", f.actor, deny, len(theAttack))
		}
	}
	if n, err := a.st.CountAudit(ctx); err != nil || n != int64(4*len(theAttack)) {
		t.Errorf("audit log has %d entries (%v), want only the %d refusals", n, err, 4*len(theAttack))
	}
	if got := deniedCount(t, a.metrics, "401"); got != float64(n401) {
		t.Errorf("lgsp_registry_denied_total{status=401} = %v, want %d", got, n401)
	}
	if got := deniedCount(t, a.metrics, "403"); got != float64(4*len(theAttack)) {
		t.Errorf("lgsp_registry_denied_total{status=403} = %v, want %d", got, 4*len(theAttack))
	}
}

func deniedCount(t *testing.T, reg *prometheus.Registry, status string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "lgsp_registry_denied_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == status {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// The operator and a schema steward may make the same changes; each is in
// the audit log before it is made, naming who, what and which subject.
func TestOperatorAndStewardChangesAreAudited(t *testing.T) {
	bus := newTestBus(t)
	a := newAuthServers(t, bus)
	ctx := context.Background()
	op, steward := basic("operator", testOperatorToken), bearer("steward-agency", a.tokens["steward-agency"])
	steps := []struct {
		who    caller
		actor  string
		action string
	}{
		{op, "operator", "schema.config"},
		{steward, "steward-agency", "schema.register"},
		{bearer("operator", testOperatorToken), "operator", "schema.delete"},
		{basic("steward-agency", a.tokens["steward-agency"]), "steward-agency", "schema.config"},
	}
	for i, s := range steps {
		step := theAttack[i]
		if got := send(t, a.strict, s.who, step.method, step.path, step.body); got.status != http.StatusOK {
			t.Fatalf("%s: %s %s: %d %s", s.who.name, step.method, step.path, got.status, got.body)
		}
	}
	latest, err := bus.reg.Latest(ctx, sharedSubject)
	if err != nil || latest.Schema != `{"type":"integer"}` || latest.Version != 2 {
		t.Fatalf("latest after the steward's changes = %+v, %v", latest, err)
	}
	entries, err := a.st.ListAudit(ctx, store.AuditQuery{RequestID: sharedSubject})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(steps) {
		t.Fatalf("%d audit entries for %s, want %d: %+v", len(entries), sharedSubject, len(steps), entries)
	}
	for i, e := range entries {
		s := steps[i]
		if e.Actor != s.actor || e.Action != s.action || e.Decision != "allow" || e.Dataset != "schema_registry" ||
			!strings.HasPrefix(e.Reason, theAttack[i].method+" "+theAttack[i].path+": ") {
			t.Errorf("audit entry %d = %+v, want %s %s allow", i, e, s.actor, s.action)
		}
	}
	if !strings.Contains(entries[0].Reason, `set compatibility "NONE"`) || !strings.Contains(entries[1].Reason, "register a JSON schema of 18 bytes") ||
		!strings.Contains(entries[2].Reason, "delete version 1") || !strings.Contains(entries[3].Reason, `"FULL_TRANSITIVE"`) {
		t.Errorf("the entries do not say what changed: %+v", entries)
	}
}

// Reads need any valid credential (or none, where anonymous reads are
// on); a suspended or unlisted agency reads nothing. A plain agency may
// "register" a schema the subject already has: Confluent serializers do
// so with auto.register.schemas, and it changes nothing.
func TestReadsNeedACredential(t *testing.T) {
	bus := newTestBus(t)
	a := newAuthServers(t, bus)
	ctx := context.Background()
	busID := bus.ids["civil_status.birth_registration"]
	latest, err := bus.reg.Latest(ctx, sharedSubject)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := json.Marshal(map[string]string{"schemaType": "JSON", "schema": latest.Schema})
	reads := []struct{ method, path, body string }{
		{"GET", "/subjects", ""},
		{"GET", "/subjects/" + sharedSubject + "/versions/latest", ""},
		{"GET", fmt.Sprintf("/schemas/ids/%d", busID), ""},
		{"GET", "/config/" + sharedSubject + "?defaultToGlobal=true", ""},
		{"GET", "/mode", ""},
		{"POST", "/subjects/" + sharedSubject, string(same)},
		{"POST", "/compatibility/subjects/" + sharedSubject + "/versions/latest", string(same)},
	}
	for _, who := range []caller{basic("plain-agency", a.tokens["plain-agency"]), bearer("plain-agency", a.tokens["plain-agency"]),
		basic("operator", testOperatorToken), bearer("steward-agency", a.tokens["steward-agency"])} {
		for _, r := range reads {
			if got := send(t, a.strict, who, r.method, r.path, r.body); got.status != http.StatusOK {
				t.Errorf("%s: %s %s: %d %s", who.name, r.method, r.path, got.status, got.body)
			}
		}
	}
	for _, r := range reads {
		want401(t, "strict, no credential: "+r.path, send(t, a.strict, nobody, r.method, r.path, r.body))
		want401(t, "anonymous reads, wrong credential: "+r.path, send(t, a.anon, bearer("wrong", "lgsp_x"), r.method, r.path, r.body))
		if got := send(t, a.anon, nobody, r.method, r.path, r.body); got.status != http.StatusOK {
			t.Errorf("anonymous read %s %s: %d %s", r.method, r.path, got.status, got.body)
		}
		for _, who := range []caller{bearer("gone-steward", a.tokens["gone-steward"]), bearer("unlisted-agency", a.tokens["unlisted-agency"])} {
			if got := send(t, a.strict, who, r.method, r.path, r.body); got.status != http.StatusForbidden || got.code != codeForbidden {
				t.Errorf("%s: %s %s: %d %s, want 403", who.name, r.method, r.path, got.status, got.body)
			}
		}
	}
	before, _ := a.st.CountAudit(ctx)
	got := send(t, a.strict, bearer("plain-agency", a.tokens["plain-agency"]), "POST", "/subjects/"+sharedSubject+"/versions", string(same))
	if got.status != http.StatusOK || got.body != fmt.Sprintf(`{"id":%d}`, busID) {
		t.Errorf("a plain agency registering the subject's own schema: %d %s, want the id %d", got.status, got.body, busID)
	}
	if after, _ := a.st.CountAudit(ctx); after != before {
		t.Errorf("a registration that changed nothing was audited: %d → %d entries", before, after)
	}
	want401(t, "anonymous registration of an existing schema", send(t, a.anon, nobody, "POST", "/subjects/"+sharedSubject+"/versions", string(same)))
}

// Every route is classified: a route that is not a read is in
// changeRoutes (and so needs the operator or a steward, and is audited).
// A route added later without thought fails here.
func TestEveryRouteIsClassified(t *testing.T) {
	e := New(newMemStore()).Handler().(*echo.Echo)
	reads := map[string]bool{"POST /subjects/:subject": true, "POST /compatibility/subjects/:subject/versions": true,
		"POST /compatibility/subjects/:subject/versions/:version": true}
	seen := map[string]bool{}
	for _, r := range e.Routes() {
		k := r.Method + " " + r.Path
		seen[k] = true
		if _, change := changeRoutes[k]; change == (r.Method == http.MethodGet || reads[k]) {
			t.Errorf("route %s: change=%v; classify it in changeRoutes or as a read", k, change)
		}
	}
	for k := range changeRoutes {
		if !seen[k] {
			t.Errorf("changeRoutes lists %s, which is no route", k)
		}
	}
}

// Every route that takes a body is bounded, authenticated or not: a body
// one byte over the limit is 413 for the operator, and no route crashes.
func TestEveryBodyIsBounded(t *testing.T) {
	bus := newTestBus(t)
	a := newAuthServers(t, bus)
	big := `{"schema":"` + strings.Repeat("x", maxBody) + `"}`
	e := New(newMemStore()).Handler().(*echo.Echo)
	n := 0
	for _, r := range e.Routes() {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			continue
		}
		path := strings.NewReplacer(":subject", "big-value", ":version", "latest", ":id", "1").Replace(r.Path)
		got := send(t, a.strict, basic("operator", testOperatorToken), r.Method, path, big)
		if got.status != http.StatusRequestEntityTooLarge || got.code != ErrSchemaTooLarge.Code {
			t.Errorf("%s %s with %d bytes: %d %.200s", r.Method, path, len(big), got.status, got.body)
		}
		want401(t, "no credential, big body: "+path, send(t, a.strict, nobody, r.Method, path, big))
		n++
	}
	if n < 7 {
		t.Fatalf("only %d routes take a body", n)
	}
}

// TokenAuth's mapping of credentials to callers, without HTTP.
func TestTokenAuth(t *testing.T) {
	bus := newTestBus(t)
	ags, err := policies.ParseAgencies("test-agencies.yaml", []byte(testAgencies))
	if err != nil {
		t.Fatal(err)
	}
	toks := credentials.New(bus.st)
	ctx := context.Background()
	_, stw, err := toks.Issue(ctx, "steward-agency")
	if err != nil {
		t.Fatal(err)
	}
	_, plain, _ := toks.Issue(ctx, "plain-agency")
	auth := TokenAuth{OperatorToken: testOperatorToken, Verify: toks.Verify, Agency: ags.Get}
	for _, tc := range []struct {
		cred Credential
		want Principal
		err  error
	}{
		{Credential{Secret: testOperatorToken}, Principal{Name: "operator", Operator: true, Active: true}, nil},
		{Credential{Basic: true, User: "operator", Secret: testOperatorToken}, Principal{Name: "operator", Operator: true, Active: true}, nil},
		{Credential{Basic: true, User: "steward-agency", Secret: testOperatorToken}, Principal{}, ErrUnauthenticated},
		{Credential{Secret: stw}, Principal{Name: "steward-agency", Active: true, Steward: true}, nil},
		{Credential{Basic: true, User: "steward-agency", Secret: stw}, Principal{Name: "steward-agency", Active: true, Steward: true}, nil},
		{Credential{Basic: true, User: "operator", Secret: stw}, Principal{}, ErrUnauthenticated},
		{Credential{Basic: true, User: "plain-agency", Secret: plain}, Principal{Name: "plain-agency", Active: true}, nil},
		{Credential{Secret: plain + "x"}, Principal{}, ErrUnauthenticated},
		{Credential{}, Principal{}, ErrUnauthenticated},
	} {
		got, err := auth.Authenticate(ctx, tc.cred)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("Authenticate(%+v) = %+v, %v; want %+v, %v", tc.cred, got, err, tc.want, tc.err)
		}
	}
	// A store that cannot be asked is not a wrong credential: the client
	// is told to retry (503), not that its token is bad.
	down := TokenAuth{Verify: func(context.Context, string) (string, string, error) { return "", "", errors.New("connection refused") }}
	if _, err := down.Authenticate(ctx, Credential{Secret: plain}); err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a failing token store: %v", err)
	}
}

// franz-go's sr client with sr.BasicAuth and sr.BearerToken registers and
// fetches as the operator and as a steward; a plain agency reads but
// cannot register; without credentials nothing, unless anonymous reads are
// on.
func TestFranzGoClientWithCredentials(t *testing.T) {
	bus := newTestBus(t)
	a := newAuthServers(t, bus)
	ctx := context.Background()
	client := func(base string, opts ...sr.ClientOpt) *sr.Client {
		cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(base)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	for _, tc := range []struct {
		name string
		opt  sr.ClientOpt
	}{
		{"operator basic", sr.BasicAuth("operator", testOperatorToken)},
		{"operator bearer", sr.BearerToken(testOperatorToken)},
		{"steward basic", sr.BasicAuth("steward-agency", a.tokens["steward-agency"])},
		{"steward bearer", sr.BearerToken(a.tokens["steward-agency"])},
	} {
		cl := client(a.strict, tc.opt)
		subject := strings.ReplaceAll(tc.name, " ", "-") + "-value"
		s, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: sexAvro})
		if err != nil || s.Version != 1 {
			t.Fatalf("%s: CreateSchema = %+v, %v", tc.name, s, err)
		}
		got, err := cl.SchemaByID(ctx, s.ID)
		if err != nil || !strings.Contains(got.Schema, "vn.gov.lgsp.common") {
			t.Fatalf("%s: SchemaByID = %+v, %v", tc.name, got, err)
		}
		if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFull}, subject); len(res) != 1 || res[0].Err != nil {
			t.Fatalf("%s: SetCompatibility: %+v", tc.name, res)
		}
	}
	for _, opt := range []sr.ClientOpt{sr.BasicAuth("plain-agency", a.tokens["plain-agency"]), sr.BearerToken(a.tokens["plain-agency"])} {
		cl := client(a.strict, opt)
		if got, err := cl.SchemaByVersion(ctx, sharedSubject, -1); err != nil || got.ID != bus.ids["civil_status.birth_registration"] {
			t.Fatalf("plain agency reading %s: %+v, %v", sharedSubject, got, err)
		}
		_, err := cl.CreateSchema(ctx, sharedSubject, sr.Schema{Schema: `{"type":"integer"}`, Type: sr.TypeJSON})
		if status, code, _ := srErr(t, err); status != http.StatusForbidden || code != codeForbidden {
			t.Fatalf("plain agency registering: %d %d %v", status, code, err)
		}
		res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, sharedSubject)
		if len(res) != 1 {
			t.Fatalf("SetCompatibility answered %d results", len(res))
		}
		if status, code, _ := srErr(t, res[0].Err); status != http.StatusForbidden || code != codeForbidden {
			t.Fatalf("plain agency setting compatibility: %d %d %v", status, code, res[0].Err)
		}
	}
	_, err := client(a.strict).SchemaByVersion(ctx, sharedSubject, -1)
	if status, code, _ := srErr(t, err); status != http.StatusUnauthorized || code != codeUnauthorized {
		t.Fatalf("reading without credentials: %d %d %v", status, code, err)
	}
	if _, err := client(a.anon).SchemaByVersion(ctx, sharedSubject, -1); err != nil {
		t.Fatalf("reading without credentials, anonymous reads on: %v", err)
	}
	_, err = client(a.anon).CreateSchema(ctx, "anonymous-value", sr.Schema{Schema: sexAvro})
	if status, code, _ := srErr(t, err); status != http.StatusUnauthorized || code != codeUnauthorized {
		t.Fatalf("registering without credentials, anonymous reads on: %d %d %v", status, code, err)
	}
}

// confluent-kafka-go's schemaregistry client, configured as its users
// configure it (basic.auth.user.info / bearer.auth.token).
func TestConfluentClientWithCredentials(t *testing.T) {
	bus := newTestBus(t)
	a := newAuthServers(t, bus)
	client := func(cfg *schemaregistry.Config) schemaregistry.Client {
		cl, err := schemaregistry.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	restCode := func(err error) int {
		var re *rest.Error
		if !errors.As(err, &re) {
			t.Fatalf("error %v (%T) is not a *rest.Error", err, err)
		}
		return re.Code
	}
	info := schemaregistry.SchemaInfo{Schema: personJSON, SchemaType: "JSON",
		References: []schemaregistry.Reference{{Name: "cccd.json", Subject: cccdSubject, Version: 1}}}
	// The reference must exist first; the operator registers it.
	if _, err := client(schemaregistry.NewConfigWithBasicAuthentication(a.strict, "operator", testOperatorToken)).
		Register(cccdSubject, schemaregistry.SchemaInfo{Schema: cccdJSON, SchemaType: "JSON"}, false); err != nil {
		t.Fatalf("operator (basic) registering: %v", err)
	}
	// bearer.auth.logical.cluster and identity.pool.id are Confluent
	// Cloud's; the client insists on them and the bus ignores them.
	steward := client(schemaregistry.NewConfigWithBearerAuthentication(a.strict, a.tokens["steward-agency"], "lgsp", "lgsp"))
	id, err := steward.Register("tax.person-json-value", info, false)
	if err != nil {
		t.Fatalf("steward (bearer) registering: %v", err)
	}
	if got, err := steward.GetLatestSchemaMetadata("tax.person-json-value"); err != nil || got.ID != id {
		t.Fatalf("steward reading: %+v, %v", got, err)
	}
	for _, cfg := range []*schemaregistry.Config{
		schemaregistry.NewConfigWithBasicAuthentication(a.strict, "plain-agency", a.tokens["plain-agency"]),
		schemaregistry.NewConfigWithBearerAuthentication(a.strict, a.tokens["plain-agency"], "lgsp", "lgsp"),
	} {
		plain := client(cfg)
		if got, err := plain.GetBySubjectAndID("tax.person-json-value", id); err != nil || got.Schema == "" {
			t.Fatalf("plain agency reading: %+v, %v", got, err)
		}
		if _, err := plain.Register(sharedSubject, schemaregistry.SchemaInfo{Schema: `{"type":"integer"}`, SchemaType: "JSON"}, false); restCode(err) != codeForbidden {
			t.Fatalf("plain agency registering: %v", err)
		}
		if _, err := plain.UpdateCompatibility(sharedSubject, schemaregistry.None); restCode(err) != codeForbidden {
			t.Fatalf("plain agency setting compatibility: %v", err)
		}
	}
	if _, err := client(schemaregistry.NewConfig(a.strict)).GetLatestSchemaMetadata(sharedSubject); restCode(err) != codeUnauthorized {
		t.Fatalf("reading without credentials: %v", err)
	}
	if _, err := client(schemaregistry.NewConfig(a.anon)).GetLatestSchemaMetadata(sharedSubject); err != nil {
		t.Fatalf("reading without credentials, anonymous reads on: %v", err)
	}
}
