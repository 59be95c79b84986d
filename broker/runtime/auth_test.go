package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/runtime"
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

// call sends body as JSON with a bearer token and decodes the JSON answer.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
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
