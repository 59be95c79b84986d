package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func openCA(t testing.TB, dir string) *CA {
	t.Helper()
	ca, err := Open(Options{Dir: dir, Generate: true})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func csrPEM(t testing.TB, key crypto.Signer, cn string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func leaf(t testing.TB, certPEM string) *x509.Certificate {
	t.Helper()
	c, err := parseCertPEM([]byte(certPEM))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// The CA is generated once, with its key readable by its owner only, and
// loaded (not replaced) on the next start; a key others can read stops it.
func TestGenerateOnceAndKeyPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ca := openCA(t, dir)
	if m := mode(t, filepath.Join(dir, CAKeyFile)); m != 0o600 {
		t.Fatalf("CA key mode %v, want 0600", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Fatalf("CA dir mode %v, want 0700", m)
	}
	if !ca.Certificate().IsCA || ca.Certificate().KeyUsage&x509.KeyUsageCRLSign == 0 {
		t.Fatalf("generated CA lacks CA:true or cRLSign")
	}
	again := openCA(t, dir)
	if !again.Certificate().Equal(ca.Certificate()) {
		t.Fatal("a second start replaced the CA")
	}
	if _, err := Open(Options{Dir: t.TempDir()}); err == nil {
		t.Fatal("a missing CA without Generate must be an error")
	}
	if err := os.Chmod(filepath.Join(dir, CAKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Options{Dir: dir, Generate: true}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable CA key: %v", err)
	}
}

// A CA can be given as files (serve); the key must match the certificate.
func TestConfiguredCAFiles(t *testing.T) {
	src := openCA(t, t.TempDir())
	other := openCA(t, t.TempDir())
	files := t.TempDir()
	certFile, keyFile, wrongKey := filepath.Join(files, "ca.pem"), filepath.Join(files, "ca-key.pem"), filepath.Join(files, "other-key.pem")
	os.WriteFile(certFile, src.CertificatePEM(), 0o644)
	for path, ca := range map[string]*CA{keyFile: src, wrongKey: other} {
		k, _ := encodeKey(ca.key)
		os.WriteFile(path, k, 0o600)
	}
	ca, err := Open(Options{Dir: t.TempDir(), CACert: certFile, CAKey: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Certificate().Equal(src.Certificate()) {
		t.Fatal("configured CA not used")
	}
	for name, o := range map[string]Options{
		"key of another CA": {CACert: certFile, CAKey: wrongKey},
		"missing files":     {CACert: filepath.Join(files, "none.pem"), CAKey: keyFile, Generate: true},
		"certificate only":  {CACert: certFile},
	} {
		o.Dir = t.TempDir()
		if _, err := Open(o); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
}

// An agency's own key signs a request; the certificate names the agency and
// system (CN, OU, URI SANs), never what the request's subject claimed, and
// verifies back to that identity.
func TestIssueFromCSRAndVerify(t *testing.T) {
	ca := openCA(t, t.TempDir())
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, tc := range []struct {
		name           string
		key            crypto.Signer
		agency, system string
	}{
		{"ecdsa, agency", ecKey, "thads-hcm", ""},
		{"ed25519, system", edKey, "vss", "vss-hic"},
		{"rsa", rsaKey, "gdt", "gdt-tms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is, err := ca.Issue(Request{Agency: tc.agency, System: tc.system, CSR: csrPEM(t, tc.key, "someone-else"), Validity: 48 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if is.KeyPEM != nil || is.KeyGenerated {
				t.Fatal("a CSR issue must not produce a key")
			}
			c := leaf(t, is.Certificate)
			if c.Subject.CommonName != tc.agency || !samePublic(tc.key.Public(), c.PublicKey) {
				t.Fatalf("subject %v, key from CSR %v", c.Subject, samePublic(tc.key.Public(), c.PublicKey))
			}
			wantURIs := AgencyURI(tc.agency, "").String()
			if tc.system != "" {
				wantURIs += " " + AgencyURI(tc.agency, tc.system).String()
				if len(c.Subject.OrganizationalUnit) != 1 || c.Subject.OrganizationalUnit[0] != tc.system {
					t.Fatalf("OU %v", c.Subject.OrganizationalUnit)
				}
			}
			var got []string
			for _, u := range c.URIs {
				got = append(got, u.String())
			}
			if strings.Join(got, " ") != wantURIs {
				t.Fatalf("URI SANs %v, want %s", got, wantURIs)
			}
			if d := c.NotAfter.Sub(c.NotBefore); d < 48*time.Hour || d > 48*time.Hour+2*time.Minute {
				t.Fatalf("validity %s", d)
			}
			id, err := ca.Verify([]*x509.Certificate{c})
			if err != nil {
				t.Fatal(err)
			}
			if id.Agency != tc.agency || id.System != tc.system || id.Serial != is.Serial || SerialString(c.SerialNumber) != is.Serial {
				t.Fatalf("identity %+v, issued %s", id, is.Serial)
			}
		})
	}
	recs, err := ca.List("")
	if err != nil || len(recs) != 3 {
		t.Fatalf("ledger: %d records, %v", len(recs), err)
	}
	serials := map[string]bool{}
	for _, r := range recs {
		serials[r.Serial] = true
	}
	if len(serials) != 3 {
		t.Fatal("serial numbers repeat")
	}
	if vss, _ := ca.List("vss"); len(vss) != 1 || vss[0].System != "vss-hic" {
		t.Fatalf("filter by agency: %+v", vss)
	}
	if m := mode(t, filepath.Join(ca.Dir(), LedgerFile)); m != 0o600 {
		t.Fatalf("ledger mode %v", m)
	}
}

// For development the bus may generate the key; it is returned once,
// matches the certificate, and the ledger says the bus made it.
func TestIssueGeneratedKey(t *testing.T) {
	ca := openCA(t, t.TempDir())
	is, err := ca.Issue(Request{Agency: "bank-vcb"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair([]byte(is.Certificate), is.KeyPEM)
	if err != nil {
		t.Fatalf("key does not match the certificate: %v", err)
	}
	if d := pair.Leaf.NotAfter.Sub(pair.Leaf.NotBefore); d < DefaultClientValidity {
		t.Fatalf("default validity %s", d)
	}
	r, err := ca.Get(is.Serial)
	if err != nil || !r.KeyGenerated || r.State(time.Now()) != "valid" {
		t.Fatalf("ledger %+v %v", r, err)
	}
	if raw, _ := os.ReadFile(filepath.Join(ca.Dir(), LedgerFile)); strings.Contains(string(raw), "PRIVATE KEY") {
		t.Fatal("the ledger holds the private key")
	}
}

func TestIssueRefusals(t *testing.T) {
	ca := openCA(t, t.TempDir())
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	good := csrPEM(t, ecKey, "x")
	tampered := csrPEM(t, ecKey, "x")
	b, _ := pem.Decode(tampered)
	b.Bytes[len(b.Bytes)-3] ^= 0xff // break the signature
	tampered = pem.EncodeToMemory(b)
	for _, tc := range []struct {
		name  string
		req   Request
		field string
	}{
		{"agency id with capitals", Request{Agency: "THADS", CSR: good}, "agency"},
		{"no agency", Request{CSR: good}, "agency"},
		{"system id with a slash", Request{Agency: "vss", System: "a/b", CSR: good}, "system"},
		{"validity under a minute", Request{Agency: "vss", CSR: good, Validity: time.Second}, "validity"},
		{"validity past the CA", Request{Agency: "vss", CSR: good, Validity: 20 * 365 * 24 * time.Hour}, "validity"},
		{"not PEM", Request{Agency: "vss", CSR: []byte("hello")}, "csr"},
		{"certificate instead of CSR", Request{Agency: "vss", CSR: ca.CertificatePEM()}, "csr"},
		{"bad signature", Request{Agency: "vss", CSR: tampered}, "csr"},
		{"RSA 1024", Request{Agency: "vss", CSR: csrPEM(t, weak, "x")}, "csr"},
	} {
		_, err := ca.Issue(tc.req)
		var re *RequestError
		if !errors.As(err, &re) || re.Field != tc.field {
			t.Errorf("%s: %v, want a RequestError on %s", tc.name, err, tc.field)
		}
	}
	if recs, _ := ca.List(""); len(recs) != 0 {
		t.Fatalf("refused requests left %d ledger records", len(recs))
	}
}

// Verify refuses what the bus CA did not issue for a client, what has
// expired, and what names no agency.
func TestVerifyRefuses(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	ca, err := Open(Options{Dir: t.TempDir(), Generate: true, Now: func() time.Time { return clock() }})
	if err != nil {
		t.Fatal(err)
	}
	other := openCA(t, t.TempDir())
	is, _ := ca.Issue(Request{Agency: "vss", Validity: time.Hour})
	foreign, _ := other.Issue(Request{Agency: "vss"})
	srv, err := ca.ServerCertificate("", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by the bus CA for client auth, but without the agency URI.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: mustSerial(t), Subject: pkix.Name{CommonName: "vss"},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca.cert, &k.PublicKey, ca.key)
	noURI, _ := x509.ParseCertificate(der)

	if _, err := ca.Verify([]*x509.Certificate{leaf(t, is.Certificate)}); err != nil {
		t.Fatalf("fresh certificate: %v", err)
	}
	for _, tc := range []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"another CA", leaf(t, foreign.Certificate), "not issued by the bus CA"},
		{"server certificate", srv.Leaf, "not for client authentication"},
		{"no agency URI", noURI, "does not name its agency"},
	} {
		if _, err := ca.Verify([]*x509.Certificate{tc.cert}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := ca.Verify(nil); err == nil {
		t.Error("no certificate verified")
	}
	clock = func() time.Time { return now.Add(2 * time.Hour) }
	if _, err := ca.Verify([]*x509.Certificate{leaf(t, is.Certificate)}); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired certificate: %v", err)
	}
	if r, _ := ca.Get(is.Serial); r.State(clock()) != "expired" {
		t.Fatalf("state %s", r.State(clock()))
	}
}

func mustSerial(t *testing.T) *big.Int {
	s, err := newSerial()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A revocation takes effect at once, in this instance and in another one
// sharing the directory, survives a restart, and is published as a signed
// X.509 revocation list. A damaged list refuses every certificate.
// The serial as openssl prints it (upper case, a leading zero byte) names
// the same certificate as the ledger's lower-case form.
func TestRevokeBySerialAsOpensslPrintsIt(t *testing.T) {
	a := openCA(t, t.TempDir())
	is, _ := a.Issue(Request{Agency: "thads-hcm"})
	if r, err := a.Revoke("00"+strings.ToUpper(is.Serial), "as openssl prints it"); err != nil || r.Serial != is.Serial || r.Revoked == nil {
		t.Fatalf("revoke by openssl's spelling of the serial: %+v %v", r, err)
	}
}

func TestRevoke(t *testing.T) {
	dir := t.TempDir()
	a := openCA(t, dir)
	b := openCA(t, dir) // a second bus instance on the same directory
	is, _ := a.Issue(Request{Agency: "thads-hcm"})
	keep, _ := a.Issue(Request{Agency: "thads-hcm"})
	c, k := leaf(t, is.Certificate), leaf(t, keep.Certificate)
	if _, err := b.Verify([]*x509.Certificate{c}); err != nil {
		t.Fatalf("other instance before revocation: %v", err)
	}
	r, err := a.Revoke(is.Serial, "laptop stolen")
	if err != nil || r.Revoked == nil || r.RevokeReason != "laptop stolen" {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	for name, ca := range map[string]*CA{"same instance": a, "other instance": b, "after restart": openCA(t, dir)} {
		if _, err := ca.Verify([]*x509.Certificate{c}); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Errorf("%s: revoked certificate: %v", name, err)
		}
		if _, err := ca.Verify([]*x509.Certificate{k}); err != nil {
			t.Errorf("%s: the other certificate: %v", name, err)
		}
	}
	again, err := a.Revoke(is.Serial, "again")
	if err != nil || !again.Revoked.Equal(*r.Revoked) || again.RevokeReason != "laptop stolen" {
		t.Fatalf("second revoke changed the record: %+v %v", again, err)
	}
	if _, err := a.Revoke("abc123", ""); !errors.Is(err, ErrUnknownSerial) {
		t.Fatalf("unknown serial: %v", err)
	}
	if got, _ := a.Get(is.Serial); got.State(time.Now()) != "revoked" {
		t.Fatalf("ledger state %s", got.State(time.Now()))
	}

	raw, err := os.ReadFile(filepath.Join(dir, CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := a.parseCRL(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || SerialString(crl.RevokedCertificateEntries[0].SerialNumber) != is.Serial {
		t.Fatalf("CRL entries %+v", crl.RevokedCertificateEntries)
	}
	a.Revoke(keep.Serial, "")
	raw2, _ := os.ReadFile(filepath.Join(dir, CRLFile))
	if crl2, err := a.parseCRL(raw2); err != nil || crl2.Number.Cmp(crl.Number) <= 0 || len(crl2.RevokedCertificateEntries) != 2 {
		t.Fatalf("second CRL: %v", err)
	}

	// A damaged list fails closed on the instance that reads it.
	fresh, _ := a.Issue(Request{Agency: "vss"})
	if err := os.WriteFile(filepath.Join(dir, CRLFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify([]*x509.Certificate{leaf(t, fresh.Certificate)}); err == nil || !strings.Contains(err.Error(), "every client certificate is refused") {
		t.Fatalf("damaged CRL: %v", err)
	}
	if _, err := Open(Options{Dir: dir, Generate: true}); err == nil {
		t.Fatal("a damaged CRL must stop the start")
	}
}

// The server certificate is issued once for the hosts and reused, issued
// again when the hosts change, and the TLS config accepts token callers
// (no certificate) and the bus CA's client certificates, refusing others
// and revoked ones at the handshake.
func TestServerTLS(t *testing.T) {
	ca := openCA(t, t.TempDir())
	s1, err := ca.ServerCertificate("", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Join(ca.Dir(), ServerKeyFile)); m != 0o600 {
		t.Fatalf("server key mode %v", m)
	}
	s2, _ := ca.ServerCertificate("", "", nil)
	if !s2.Leaf.Equal(s1.Leaf) {
		t.Fatal("server certificate not reused")
	}
	s3, _ := ca.ServerCertificate("", "", []string{"bus.example.gov.vn", "127.0.0.1"})
	if s3.Leaf.Equal(s1.Leaf) || s3.Leaf.DNSNames[0] != "bus.example.gov.vn" {
		t.Fatal("new hosts did not give a new certificate")
	}
	files := t.TempDir()
	cf, kf := filepath.Join(files, "c.pem"), filepath.Join(files, "k.pem")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s1.Leaf.Raw}), 0o644)
	k, _ := encodeKey(s1.PrivateKey.(crypto.Signer))
	os.WriteFile(kf, k, 0o600)
	if given, err := ca.ServerCertificate(cf, kf, nil); err != nil || !given.Leaf.Equal(s1.Leaf) {
		t.Fatalf("configured server certificate: %v", err)
	}

	var seen atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			id, err := ca.Verify(r.TLS.PeerCertificates)
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			seen.Store(id.Agency)
			io.WriteString(w, id.Agency)
			return
		}
		io.WriteString(w, "anonymous")
	}))
	srv.TLS = ca.ServerTLS(s1)
	srv.StartTLS()
	defer srv.Close()
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	is, _ := ca.Issue(Request{Agency: "thads-hcm"})
	mine, _ := tls.X509KeyPair([]byte(is.Certificate), is.KeyPEM)
	other := openCA(t, t.TempDir())
	fis, _ := other.Issue(Request{Agency: "thads-hcm"})
	foreign, _ := tls.X509KeyPair([]byte(fis.Certificate), fis.KeyPEM)
	client := func(cfg *tls.Config) *http.Client {
		cfg.RootCAs = ca.Pool()
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	get := func(c *http.Client) (string, error) {
		resp, err := c.Get(url)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	if body, err := get(client(&tls.Config{})); err != nil || body != "anonymous" {
		t.Fatalf("no client certificate: %q %v", body, err)
	}
	agencyClient := client(&tls.Config{Certificates: []tls.Certificate{mine}})
	if body, err := get(agencyClient); err != nil || body != "thads-hcm" {
		t.Fatalf("bus certificate: %q %v", body, err)
	}
	forced := client(&tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }})
	if _, err := get(forced); err == nil {
		t.Fatal("a certificate from another CA passed the handshake")
	}
	if _, err := ca.Revoke(is.Serial, "test"); err != nil {
		t.Fatal(err)
	}
	// The open connection is refused on its next request ...
	if body, err := get(agencyClient); err != nil || !strings.Contains(body, "revoked") {
		t.Fatalf("revoked, open connection: %q %v", body, err)
	}
	// ... and a new one at the handshake.
	if _, err := get(client(&tls.Config{Certificates: []tls.Certificate{mine}})); err == nil {
		t.Fatal("revoked certificate passed a new handshake")
	}
}

// BenchmarkVerify is the per-request cost of checking a client certificate
// (chain, validity, identity, revocation with the list's stat).
func BenchmarkVerify(b *testing.B) {
	ca := openCA(b, b.TempDir())
	is, _ := ca.Issue(Request{Agency: "thads-hcm"})
	other, _ := ca.Issue(Request{Agency: "vss"})
	ca.Revoke(other.Serial, "")
	c := leaf(b, is.Certificate)
	chain := []*x509.Certificate{c}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.Verify(chain); err != nil {
			b.Fatal(err)
		}
	}
}
