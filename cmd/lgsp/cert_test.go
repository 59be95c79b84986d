package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
)

// lgsp cert issues (from a CSR or with a generated key), lists and revokes
// agencies' client certificates through a running bus with TLS on.
func TestCertCommand(t *testing.T) {
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic.Enabled, c.Synthetic.Population = false, 200
	c.API.TLS.Enabled = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	api := "https://" + bus.Addrs().API

	cert := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"cert"}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
	serialRE := regexp.MustCompile(`certificate ([0-9a-f]+) for`)

	// Generated key, written to files; the API address from the environment
	// as the bus would read it, the CA trusted from the data dir.
	t.Setenv("LGSP_API_ADDR", bus.Addrs().API)
	outDir := filepath.Join(t.TempDir(), "vss")
	code, out, errs := cert("issue", "--data-dir", dir, "--agency", "vss", "--system", "vss-hic", "--out", outDir)
	if code != 0 {
		t.Fatalf("issue: %d %s %s", code, out, errs)
	}
	generated := serialRE.FindStringSubmatch(out)[1]
	if st, err := os.Stat(filepath.Join(outDir, "vss-vss-hic.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(outDir, "vss-vss-hic.crt"), filepath.Join(outDir, "vss-vss-hic.key")); err != nil {
		t.Fatal(err)
	}
	if ca, _ := os.ReadFile(filepath.Join(outDir, "ca.crt")); !strings.Contains(string(ca), "BEGIN CERTIFICATE") {
		t.Fatal("no ca.crt")
	}

	// From the agency's CSR: only the certificate comes back, on stdout.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "gdt"}}, key)
	csrFile := filepath.Join(t.TempDir(), "gdt.csr")
	os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644)
	code, out, errs = cert("issue", "--data-dir", dir, "--api", api, "--agency", "gdt", "--csr", csrFile, "--validity", "720h")
	if code != 0 || !strings.HasPrefix(out, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("issue from CSR: %d %s %s", code, out, errs)
	}
	fromCSR := serialRE.FindStringSubmatch(errs)[1]

	code, out, errs = cert("revoke", "--data-dir", dir, "--api", api, "--serial", generated, "--reason", "test")
	if code != 0 || !strings.Contains(out, "revoked at") {
		t.Fatalf("revoke: %d %s %s", code, out, errs)
	}
	code, out, _ = cert("list", "--data-dir", dir, "--api", api)
	if code != 0 || !regexp.MustCompile(generated+`\s+vss\s+vss-hic\s+revoked`).MatchString(out) || !regexp.MustCompile(fromCSR+`\s+gdt\s+-\s+valid`).MatchString(out) {
		t.Fatalf("list: %d\n%s", code, out)
	}
	if code, out, _ = cert("list", "--data-dir", dir, "--api", api, "--agency", "gdt"); code != 0 || strings.Contains(out, generated) || !strings.Contains(out, fromCSR) {
		t.Fatalf("list --agency gdt: %d\n%s", code, out)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", nil, "usage"},
		{"issue without agency", []string{"issue", "--data-dir", dir, "--api", api}, "--agency is required"},
		{"generated key without --out", []string{"issue", "--data-dir", dir, "--api", api, "--agency", "gdt"}, "--out DIR"},
		{"unknown system", []string{"issue", "--data-dir", dir, "--api", api, "--agency", "gdt", "--system", "nope", "--out", t.TempDir()}, "not a registered system"},
		{"unknown serial", []string{"revoke", "--data-dir", dir, "--api", api, "--serial", "abc"}, "no certificate"},
		{"not a data dir", []string{"list", "--data-dir", t.TempDir(), "--api", api}, "no operator token"},
		{"bus not running", []string{"list", "--data-dir", dir, "--api", "https://127.0.0.1:1"}, "cannot reach the bus"},
	} {
		code, _, errs := cert(tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stderr %q", tc.name, code, errs)
		}
	}
}
