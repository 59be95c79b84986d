package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// operatorToken is the operator token the bus generated into its data dir,
// as an operator reads it in dev (cat lgsp-data/operator.token).
func operatorToken(t *testing.T, bus *runtime.Bus) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(bus.Addrs().DataDir, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

// agencyToken has the operator issue an API token to agency.
func agencyToken(t *testing.T, bus *runtime.Bus, agency string) string {
	t.Helper()
	code, out := call(t, "POST", "http://"+bus.Addrs().API+"/v1/operator/agencies/"+agency+"/tokens", operatorToken(t, bus), nil)
	if code != http.StatusCreated {
		t.Fatalf("issue a token for %s: %d %v", agency, code, out)
	}
	return out["token"].(string)
}

// sourceToken is an API token of the agency that owns source, which alone
// may push its records.
func sourceToken(t *testing.T, bus *runtime.Bus, source string) string {
	t.Helper()
	owner, ok := bus.Agencies().SourceOwner(source)
	if !ok {
		t.Fatalf("no agency owns source %s", source)
	}
	return agencyToken(t, bus, owner.ID)
}

// postAs is post with an Authorization bearer token.
func postAs(t *testing.T, url, token, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
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
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Every route asks for its credential over real HTTP: no credential is a
// 401, a valid one without the right a 403 naming the reason (and audited),
// the right one passes; a revoked token stops working at once, for ingest
// as for everything else.
func TestEveryRouteIsAuthenticated(t *testing.T) {
	bus := start(t, devConfig(t, t.TempDir()))
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	op := operatorToken(t, bus)
	moj := agencyToken(t, bus, "moj") // owns civil_status
	vss := agencyToken(t, bus, "vss") // owns insurance, consumer of births
	inspector := agencyToken(t, bus, "gov-inspectorate")
	p := citizens(t, bus.Store, 1)[0]
	birth, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, p)})
	ingest := api + "/v1/sources/civil_status/records"

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
		{"status without a token", "GET", api + "/v1/status", "", nil, 401, ""},
		{"status by an agency", "GET", api + "/v1/status", vss, nil, 200, ""},
		{"datasets by the operator", "GET", api + "/v1/datasets", op, nil, 200, ""},
		{"agreements without a token", "GET", api + "/v1/agreements", "", nil, 401, ""},
		{"connectors by an agency", "GET", api + "/v1/connectors", moj, nil, 200, ""},
		{"audit without a token", "GET", api + "/v1/audit", "", nil, 401, ""},
		{"audit by a consumer agency", "GET", api + "/v1/audit", vss, nil, 403, "auditor_role_required"},
		{"audit by the inspectorate", "GET", api + "/v1/audit", inspector, nil, 200, ""},
		{"audit by the operator", "GET", api + "/v1/audit", op, nil, 200, ""},
		{"export by a consumer agency", "GET", api + "/v1/audit/export", vss, nil, 403, "auditor_role_required"},
		{"connector reset by an agency", "POST", api + "/v1/connectors/tax/reset", moj, []byte(`{"position":"","reason":"x"}`), 403, "operator_required"},
		{"operator route by an agency", "GET", api + "/v1/operator/tokens", vss, nil, 403, "operator_required"},
		{"lookup by the operator", "POST", api + "/v1/lookup", op, []byte(`{}`), 403, "agency_required"},
		{"public key without a token", "GET", api + "/v1/audit/public-key", "", nil, 200, ""},
		{"health without a token", "GET", api + "/healthz", "", nil, 200, ""},
		{"metrics without a token", "GET", api + "/metrics", "", nil, 200, ""},
		{"OpenAPI without a token", "GET", api + "/openapi.json", "", nil, 200, ""},
		{"citizen view without its token", "GET", api + "/v1/citizen/accesses", vss, nil, 401, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, tt.path, bytes.NewReader(tt.body))
		req.Header.Set("Content-Type", "application/json")
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want || !strings.Contains(string(raw), tt.reason) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, resp.StatusCode, raw, tt.want, tt.reason)
		}
		if tt.want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: a 401 without WWW-Authenticate", tt.name)
		}
	}
	// The denials with a valid credential are in the audit log, by agency.
	es, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Decision: "deny", Limit: 100})
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
	var toks []struct{ ID string }
	req, _ := http.NewRequest("GET", api+"/v1/operator/tokens?agency=moj", nil)
	req.Header.Set("Authorization", "Bearer "+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&toks)
	resp.Body.Close()
	if len(toks) != 1 {
		t.Fatalf("moj tokens: %+v", toks)
	}
	if code, _ := call(t, "DELETE", api+"/v1/operator/tokens/"+toks[0].ID, op, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, raw := postAs(t, ingest, moj, "application/json", birth); code != 401 {
		t.Fatalf("push with a revoked token: %d %s", code, raw)
	}
	// The public audit endpoints answer without a credential and hold only
	// numbers, times, hashes and signatures: no personal data.
	if _, err := bus.Audit.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	hexOrNum := regexp.MustCompile(`^([0-9a-f]*|[A-Za-z0-9+/=]+|lgsp-audit-checkpoint/v1\n[0-9]+\n[0-9a-f]+\n[0-9]+\n|Ed25519|[0-9T:.+Z-]+)$`)
	for path, keys := range map[string]string{
		"/v1/audit/public-key":                          "algorithm public_key",
		"/v1/audit/checkpoint":                          "root seq signature signed_message size time",
		"/v1/audit/proofs/inclusion?seq=1":              "leaf_hash proof root seq size",
		"/v1/audit/proofs/consistency?first=1&second=2": "first first_root proof second second_root",
	} {
		code, out := call(t, "GET", api+path, "", nil)
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
	resp, err = http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `lgsp_api_denied_total{status="401"}`) {
		t.Error("401s are not counted in lgsp_api_denied_total")
	}
}

// Dev stays easy: the ready banner says where the operator token is (never
// the token itself).
func TestBannerNamesTheOperatorToken(t *testing.T) {
	var banner syncBuffer
	c := devConfig(t, t.TempDir())
	bus, err := runtime.Start(context.Background(), runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c), Status: &banner, StatusEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	path := filepath.Join(bus.Addrs().DataDir, "operator.token")
	if !strings.Contains(banner.String(), "operator token   "+path) || strings.Contains(banner.String(), operatorToken(t, bus)) {
		t.Fatalf("banner:\n%s", banner.String())
	}
}

// The agency registry is reloaded with the agreements: a suspended agency's
// valid token gets 403 agency_not_active from then on, on every route.
func TestSuspendedAgencyIsRefusedAfterReload(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile("../../policies/agencies/agencies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "agencies.yaml")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	c := devConfig(t, dir)
	c.Policies.AgenciesFile = file
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	op := operatorToken(t, bus)
	moj := agencyToken(t, bus, "moj")
	if code, _ := call(t, "GET", api+"/v1/datasets", moj, nil); code != 200 {
		t.Fatalf("active agency: %d", code)
	}
	suspended := strings.Replace(string(raw), "email: cntt@moj.gov.vn}\n    state: active", "email: cntt@moj.gov.vn}\n    state: suspended", 1)
	if suspended == string(raw) {
		t.Fatal("the moj entry was not found in the registry")
	}
	if err := os.WriteFile(file, []byte(suspended), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := call(t, "POST", api+"/v1/operator/agreements/reload", op, nil); code != 200 {
		t.Fatalf("reload: %d %v", code, out)
	}
	p := citizens(t, bus.Store, 1)[0]
	birth, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, p)})
	for _, path := range []string{"/v1/datasets", "/v1/sources/civil_status/records"} {
		code, out := postOrGet(t, api+path, moj, birth)
		if code != 403 || !strings.Contains(out, "agency_not_active") {
			t.Errorf("%s by a suspended agency: %d %s", path, code, out)
		}
	}
	// A broken registry changes nothing.
	if err := os.WriteFile(file, []byte("agencies:\n  - id: X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, "POST", api+"/v1/operator/agreements/reload", op, nil); code != 422 {
		t.Fatalf("reload of a broken registry: %d", code)
	}
	if a, ok := bus.Agencies().Get("moj"); !ok || a.State != "suspended" {
		t.Fatalf("a failed reload changed the registry: %+v", a)
	}
}

// postOrGet POSTs body to the ingest route and GETs anything else.
func postOrGet(t *testing.T, url, token string, body []byte) (int, string) {
	t.Helper()
	if strings.Contains(url, "/records") {
		code, raw := postAs(t, url, token, "application/json", body)
		return code, string(raw)
	}
	code, out := call(t, "GET", url, token, nil)
	raw, _ := json.Marshal(out)
	return code, string(raw)
}
