package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/pki"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/prometheus/client_golang/prometheus"
)

// recordingAudit keeps appended entries, or fails every append.
type recordingAudit struct {
	AuditLog // only Append is used here
	mu       sync.Mutex
	entries  []store.AuditEntry
	fail     bool
}

func (a *recordingAudit) Append(_ context.Context, es []store.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("audit store down")
	}
	a.entries = append(a.entries, es...)
	return nil
}

const testOperator = "operator-token-of-at-least-32-characters"

func certServer(t *testing.T, ca *pki.CA, log *recordingAudit) http.Handler {
	t.Helper()
	reg, err := policies.ParseAgencies("test.yaml", []byte(`agencies:
  - {id: vss, name: VSS, kind: ministry-level, contact: {name: b, email: b@vss.gov.vn}, state: active, systems: [{id: vss-hic, name: HIC}]}
  - {id: thads-hcm, name: THADS, kind: provincial, contact: {name: c, email: c@thads.gov.vn}, state: active}
  - {id: old, name: Old, kind: ministry, contact: {name: d, email: d@old.gov.vn}, state: suspended}
`))
	if err != nil {
		t.Fatal(err)
	}
	return New(Deps{Metrics: prometheus.NewRegistry(), OperatorToken: testOperator, CA: ca, AuditLog: log,
		Registry: RegistryFunc(func() *policies.Agencies { return reg })})
}

func do(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testOperator)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	CheckedHandler(t, h).ServeHTTP(rec, req)
	var out map[string]any
	if strings.HasPrefix(strings.TrimSpace(rec.Body.String()), "{") {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	} else {
		out = map[string]any{"raw": rec.Body.String()}
	}
	return rec.Code, out
}

func jsonString(s string) string { b, _ := json.Marshal(s); return string(b) }

func TestCertificateEndpoints(t *testing.T) {
	ca, err := pki.Open(pki.Options{Dir: t.TempDir(), Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	log := &recordingAudit{}
	h := certServer(t, ca, log)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "vss"}}, key)
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))

	code, out := do(t, h, "POST", "/v1/operator/agencies/vss/certificates", `{"csr":`+jsonString(csr)+`,"system":"vss-hic","validity":"720h"}`)
	if code != 201 || out["agency"] != "vss" || out["system"] != "vss-hic" || out["state"] != "valid" || out["private_key"] != nil || out["ca_certificate"] != string(ca.CertificatePEM()) {
		t.Fatalf("issue from CSR: %d %v", code, out)
	}
	fromCSR := out["serial"].(string)
	code, out = do(t, h, "POST", "/v1/operator/agencies/thads-hcm/certificates", `{"generate":true}`)
	if code != 201 || out["key_generated"] != true {
		t.Fatalf("generate: %d %v", code, out)
	}
	generated := out["serial"].(string)
	if _, err := tls.X509KeyPair([]byte(out["certificate"].(string)), []byte(out["private_key"].(string))); err != nil {
		t.Fatalf("generated key and certificate: %v", err)
	}

	for _, tc := range []struct {
		name, path, body string
		code             int
		field            string
	}{
		{"neither csr nor generate", "/v1/operator/agencies/vss/certificates", `{}`, 400, "csr"},
		{"empty body", "/v1/operator/agencies/vss/certificates", ``, 400, "csr"},
		{"both csr and generate", "/v1/operator/agencies/vss/certificates", `{"generate":true,"csr":` + jsonString(csr) + `}`, 400, "csr"},
		{"garbage csr", "/v1/operator/agencies/vss/certificates", `{"csr":"hello"}`, 400, "csr"},
		{"system of another agency", "/v1/operator/agencies/thads-hcm/certificates", `{"generate":true,"system":"vss-hic"}`, 400, "system"},
		{"bad validity", "/v1/operator/agencies/vss/certificates", `{"generate":true,"validity":"a year"}`, 400, "validity"},
		{"unknown field", "/v1/operator/agencies/vss/certificates", `{"generate":true,"cn":"x"}`, 400, ""},
		{"oversized body", "/v1/operator/agencies/vss/certificates", `{"csr":"` + strings.Repeat("A", 70<<10) + `"}`, 413, ""},
		{"unregistered agency", "/v1/operator/agencies/nobody/certificates", `{"generate":true}`, 404, "agency"},
		{"suspended agency", "/v1/operator/agencies/old/certificates", `{"generate":true}`, 404, "agency"},
		{"unknown serial", "/v1/operator/certificates/abc/revoke", ``, 404, "serial"},
	} {
		code, out := do(t, h, "POST", tc.path, tc.body)
		if code != tc.code || (tc.field != "" && out["field"] != tc.field) || out["error"] == "" {
			t.Errorf("%s: %d %v", tc.name, code, out)
		}
	}

	code, out = do(t, h, "POST", "/v1/operator/certificates/"+generated+"/revoke", `{"reason":"key leaked"}`)
	if code != 200 || out["state"] != "revoked" || out["revoke_reason"] != "key leaked" {
		t.Fatalf("revoke: %d %v", code, out)
	}
	if code, out = do(t, h, "POST", "/v1/operator/certificates/"+generated+"/revoke", ``); code != 200 || out["revoke_reason"] != "key leaked" {
		t.Fatalf("revoke again: %d %v", code, out)
	}
	req := httptest.NewRequest("GET", "/v1/operator/certificates", nil)
	req.Header.Set("Authorization", "Bearer "+testOperator)
	rec := httptest.NewRecorder()
	CheckedHandler(t, h).ServeHTTP(rec, req)
	var list []map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || rec.Code != 200 || len(list) != 2 {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	states := map[string]string{}
	for _, c := range list {
		states[c["serial"].(string)] = c["state"].(string)
		if c["private_key"] != nil || c["certificate"] != nil {
			t.Fatalf("list shows key material: %v", c)
		}
	}
	if states[fromCSR] != "valid" || states[generated] != "revoked" {
		t.Fatalf("states %v", states)
	}

	// Issue and revoke are audited once each; refusals leave no entry.
	var got []string
	for _, e := range log.entries {
		got = append(got, e.Action+" "+e.RequestID)
	}
	want := []string{"credential.issue " + fromCSR, "credential.issue " + generated, "credential.revoke " + generated}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("audit %v, want %v", got, want)
	}

	// A certificate whose issue cannot be audited does not stay valid, and
	// a revocation that cannot be audited does not happen.
	log.fail = true
	if code, _ := do(t, h, "POST", "/v1/operator/agencies/vss/certificates", `{"generate":true}`); code != 503 {
		t.Fatalf("unaudited issue: %d", code)
	}
	recs, _ := ca.List("vss")
	if recs[0].State(recs[0].Issued) != "revoked" {
		t.Fatalf("unaudited certificate left %s", recs[0].State(recs[0].Issued))
	}
	if code, _ := do(t, h, "POST", "/v1/operator/certificates/"+fromCSR+"/revoke", ``); code != 503 {
		t.Fatalf("unaudited revoke: %d", code)
	}
	if r, _ := ca.Get(fromCSR); r.Revoked != nil {
		t.Fatal("an unaudited revocation happened")
	}

	// Only the operator manages certificates.
	req = httptest.NewRequest("GET", "/v1/operator/certificates", nil)
	rec = httptest.NewRecorder()
	CheckedHandler(t, h).ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("no operator token: %d", rec.Code)
	}
}

func TestCertificateEndpointsWithTLSOff(t *testing.T) {
	h := certServer(t, nil, &recordingAudit{})
	for _, r := range []struct{ method, path string }{
		{"POST", "/v1/operator/agencies/vss/certificates"}, {"GET", "/v1/operator/certificates"}, {"POST", "/v1/operator/certificates/ab/revoke"},
	} {
		if code, out := do(t, h, r.method, r.path, `{"generate":true}`); code != 409 || !strings.Contains(out["error"].(string), "LGSP_API_TLS_ENABLED") {
			t.Errorf("%s %s: %d %v", r.method, r.path, code, out)
		}
	}
}
