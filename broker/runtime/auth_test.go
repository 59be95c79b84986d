package runtime_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
