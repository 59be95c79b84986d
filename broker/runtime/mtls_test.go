package runtime_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/pki"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// tlsCall is call over a given client; err is a transport error (a refused
// handshake), not an HTTP status.
func tlsCall(t *testing.T, c *http.Client, method, url, token string, body any) (int, map[string]any, error) {
	t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, url, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

func tlsClient(roots *x509.CertPool, cfg *tls.Config) *http.Client {
	cfg.RootCAs = roots
	return &http.Client{Transport: apiCheck.Transport(&http.Transport{TLSClientConfig: cfg}), Timeout: 30 * time.Second}
}

// With api.tls on, an agency calls with a client certificate of the bus CA
// (issued from its own CSR) and no token, under its agreement; revocation
// refuses it at once, a certificate of another CA gets nothing, tokens keep
// working over HTTPS, and a suspended agency's certificate is refused after
// a restart on the same CA.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	c := devConfig(t, dir)
	c.API.TLS.Enabled = true
	bus := start(t, c)
	closed := false
	defer func() {
		if !closed {
			bus.Close(context.Background())
		}
	}()
	base := "https://" + bus.Addrs().API
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "pki", pki.CAKeyFile)); st == nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("CA key file: %v", st)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	op, _ := os.ReadFile(filepath.Join(dir, "operator.token"))
	operator := strings.TrimSpace(string(op))
	plain := tlsClient(roots, &tls.Config{})

	if resp, err := http.Get("http://" + bus.Addrs().API + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS listener: %s", resp.Status)
		}
	}

	// The agency's key stays with it: the operator gets only its CSR.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "thads-hcm"}}, key)
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	issue := func(agency string, body map[string]any) map[string]any {
		t.Helper()
		code, out, err := tlsCall(t, plain, "POST", base+"/v1/operator/agencies/"+agency+"/certificates", operator, body)
		if err != nil || code != 201 {
			t.Fatalf("issue for %s: %d %v %v", agency, code, out, err)
		}
		return out
	}
	out := issue("thads-hcm", map[string]any{"csr": csr})
	serial := out["serial"].(string)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	mine, err := tls.X509KeyPair([]byte(out["certificate"].(string)), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	spare := issue("thads-hcm", map[string]any{"generate": true}) // used after the restart below
	spareCert, _ := tls.X509KeyPair([]byte(spare["certificate"].(string)), []byte(spare["private_key"].(string)))

	lookup := map[string]any{"dataset": "tax.taxpayer", "citizen": citizens(t, bus.Store, 1)[0].ID, "purpose": "judgment_enforcement", "case_reference": "THA-2026/7"}
	agency := tlsClient(roots, &tls.Config{Certificates: []tls.Certificate{mine}})
	code, res, err := tlsCall(t, agency, "POST", base+"/v1/lookup", "", lookup)
	if err != nil || code != 200 || res["agreement"] != "thads-hcm-taxpayer-lookup" {
		t.Fatalf("lookup with the client certificate: %d %v %v", code, res, err)
	}
	noCase := map[string]any{"dataset": "tax.taxpayer", "citizen": lookup["citizen"], "purpose": "judgment_enforcement"}
	if code, res, _ := tlsCall(t, agency, "POST", base+"/v1/lookup", "", noCase); code != 403 || !strings.Contains(res["error"].(string), "case_reference_required") {
		t.Fatalf("the agreement still applies to certificate callers: %d %v", code, res)
	}

	// Tokens still work over HTTPS, and nothing at all is a 401.
	code, tok, _ := tlsCall(t, plain, "POST", base+"/v1/operator/agencies/thads-hcm/tokens", operator, nil)
	if code != 201 {
		t.Fatalf("token: %d %v", code, tok)
	}
	if code, res, err := tlsCall(t, plain, "POST", base+"/v1/lookup", tok["token"].(string), lookup); err != nil || code != 200 {
		t.Fatalf("token over TLS: %d %v %v", code, res, err)
	}
	if code, _, _ := tlsCall(t, plain, "POST", base+"/v1/lookup", "", lookup); code != 401 {
		t.Fatalf("no credential: %d", code)
	}

	// A certificate of another CA: offered politely it is not sent (the
	// server names its CA), forced it fails the handshake.
	otherCA, err := pki.Open(pki.Options{Dir: t.TempDir(), Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	fis, _ := otherCA.Issue(pki.Request{Agency: "thads-hcm"})
	foreign, _ := tls.X509KeyPair([]byte(fis.Certificate), fis.KeyPEM)
	if code, _, err := tlsCall(t, tlsClient(roots, &tls.Config{Certificates: []tls.Certificate{foreign}}), "POST", base+"/v1/lookup", "", lookup); err != nil || code != 401 {
		t.Fatalf("foreign certificate offered: %d %v", code, err)
	}
	forced := tlsClient(roots, &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }})
	if _, _, err := tlsCall(t, forced, "POST", base+"/v1/lookup", "", lookup); err == nil {
		t.Fatal("a certificate of another CA passed the handshake")
	}

	// Revocation: the open connection is refused on its next request, a
	// new connection at the handshake.
	if code, res, _ := tlsCall(t, plain, "POST", base+"/v1/operator/certificates/"+serial+"/revoke", operator, map[string]any{"reason": "test"}); code != 200 || res["state"] != "revoked" {
		t.Fatalf("revoke: %d %v", code, res)
	}
	if code, res, err := tlsCall(t, agency, "POST", base+"/v1/lookup", "", lookup); err != nil || code != 401 || !strings.Contains(res["error"].(string), "revoked") {
		t.Fatalf("revoked certificate on an open connection: %d %v %v", code, res, err)
	}
	if _, _, err := tlsCall(t, tlsClient(roots, &tls.Config{Certificates: []tls.Certificate{mine}}), "POST", base+"/v1/lookup", "", lookup); err == nil {
		t.Fatal("a revoked certificate passed a new handshake")
	}

	// The audit log holds the issues, the revocation and the certificate
	// caller's decisions under its agency.
	es, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range es {
		switch {
		case e.RequestID == serial || e.RequestID == spare["serial"]:
			counts[e.Action+" "+e.RequestID]++
		case e.Action == "lookup" && e.Actor == "thads-hcm":
			counts["lookup/"+e.Decision]++
		}
	}
	if counts["credential.issue "+serial] != 1 || counts["credential.revoke "+serial] != 1 || counts["credential.issue "+spare["serial"].(string)] != 1 ||
		counts["lookup/allow"] != 2 || counts["lookup/deny"] != 1 {
		t.Fatalf("audited %v", counts)
	}

	// Restart with the agency suspended: same CA, its valid certificate now
	// gets 403, and no new one is issued.
	bus.Close(context.Background())
	closed = true
	ags, err := os.ReadFile("../../policies/agencies/agencies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(ags)
	at := strings.Index(s, "id: thads-hcm")
	st := at + strings.Index(s[at:], "state: active")
	agFile := filepath.Join(dir, "agencies.yaml")
	os.WriteFile(agFile, []byte(s[:st]+"state: suspended"+s[st+len("state: active"):]), 0o644)
	c.Policies.AgenciesFile = agFile
	bus2 := start(t, c)
	defer bus2.Close(context.Background())
	base = "https://" + bus2.Addrs().API
	if again, _ := os.ReadFile(filepath.Join(dir, "pki", pki.CACertFile)); !bytes.Equal(again, caPEM) {
		t.Fatal("the CA changed across a restart")
	}
	sc := tlsClient(roots, &tls.Config{Certificates: []tls.Certificate{spareCert}})
	if code, res, err := tlsCall(t, sc, "POST", base+"/v1/lookup", "", lookup); err != nil || code != 403 || !strings.Contains(res["error"].(string), "agency_not_active") {
		t.Fatalf("suspended agency's certificate: %d %v %v", code, res, err)
	}
	if code, _, _ := tlsCall(t, plain, "POST", base+"/v1/operator/agencies/thads-hcm/certificates", operator, map[string]any{"generate": true}); code != 404 {
		t.Fatalf("certificate for a suspended agency: %d", code)
	}
	if code, _, err := tlsCall(t, tlsClient(roots, &tls.Config{Certificates: []tls.Certificate{mine}}), "GET", base+"/healthz", "", nil); err == nil {
		t.Fatalf("revoked certificate accepted after a restart: %d", code)
	}
}

// The api.tls settings come from the environment like every other, and
// inconsistent ones are refused before anything starts.
func TestTLSConfig(t *testing.T) {
	t.Setenv("LGSP_API_TLS_ENABLED", "true")
	t.Setenv("LGSP_API_TLS_HOSTS", "bus.example.gov.vn,10.0.0.5")
	t.Setenv("LGSP_API_TLS_CLIENT_VALIDITY", "720h")
	c := config.Defaults()
	if err := config.ApplyEnv(&c); err != nil {
		t.Fatal(err)
	}
	if tc := c.API.TLS; !tc.Enabled || len(tc.Hosts) != 2 || tc.ClientValidity != 720*time.Hour {
		t.Fatalf("from the environment: %+v", tc)
	}
	if err := c.Validate("dev"); err != nil {
		t.Fatalf("dev generates the CA: %v", err)
	}
	for _, tc := range []struct {
		name, mode, want string
		edit             func(*config.TLS)
	}{
		{"serve without a CA", "serve", "api.tls.ca_cert", func(*config.TLS) {}},
		{"CA cert without key", "dev", "api.tls.ca_cert", func(t *config.TLS) { t.CACert = "ca.pem" }},
		{"server key without cert", "dev", "api.tls.cert", func(t *config.TLS) { t.Key = "k.pem" }},
		{"validity under an hour", "dev", "api.tls.client_validity", func(t *config.TLS) { t.ClientValidity = time.Minute }},
	} {
		cc := c
		cc.Kafka.Brokers, cc.Store.URL = []string{"kafka:9092"}, "postgres://u@h/db"
		tc.edit(&cc.API.TLS)
		if err := cc.Validate(tc.mode); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	c.DataDir = t.TempDir()
	if got := runtime.APIURL(c); !strings.HasPrefix(got, "https://localhost:") {
		t.Fatalf("API URL with TLS on: %s", got)
	}
	c.API.TLS.Enabled = false
	if got := runtime.APIURL(c); !strings.HasPrefix(got, "http://localhost:") {
		t.Fatalf("API URL with TLS off and no CA: %s", got)
	}
}
