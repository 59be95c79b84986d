// Package pki owns the bus's own certificate authority for mutual TLS.
//
// The CA is generated on first start into a directory of the data dir (dev)
// or loaded from configured PEM files (serve). It issues client certificates
// that name a registered agency, and optionally one of its systems, in the
// subject (CN = agency id, OU = system) and in URI SANs
// (lgsp://agency/<id>, lgsp://agency/<id>/system/<system>); the agency
// preferably sends a certificate signing request so its private key never
// leaves it. Every issued certificate is kept in a ledger (issued.json);
// revocation writes a revocation list signed by the CA (crl.pem, standard
// X.509, usable by a TLS proxy too) that [CA.Verify] consults on every
// handshake and every request, so a revoked certificate stops working at
// once, also on connections opened before it was revoked and on other bus
// instances sharing the directory. The package also gives the API listener
// its server certificate and TLS configuration. Only the standard library's
// crypto is used; keys are ECDSA P-256.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
)

// Files inside the CA directory.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	LedgerFile     = "issued.json"
	CRLFile        = "crl.pem"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
	lockFile       = ".lock"
)

// DefaultClientValidity is how long a client certificate is valid unless
// the request or the options say otherwise.
const DefaultClientValidity = 365 * 24 * time.Hour

// caValidity is the lifetime of a generated CA.
const caValidity = 10 * 365 * 24 * time.Hour

// Options say where the CA lives.
type Options struct {
	// Dir keeps the ledger, the revocation list and the generated server
	// certificate, and the generated CA unless CACert/CAKey name other files.
	// It is created with mode 0700.
	Dir string
	// CACert and CAKey are PEM files of an existing CA (certificate; PKCS#8,
	// EC or PKCS#1 key). Empty: <Dir>/ca.crt and <Dir>/ca.key.
	CACert, CAKey string
	// Generate creates the CA (key file mode 0600) when its files do not
	// exist yet (dev). Without it a missing CA is an error.
	Generate bool
	// ClientValidity is the default lifetime of issued client certificates
	// (default DefaultClientValidity).
	ClientValidity time.Duration
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// CA is the bus's certificate authority. It is safe for concurrent use.
type CA struct {
	o       Options
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
	pool    *x509.CertPool

	mu sync.Mutex // one issue or revocation at a time in this process

	vmu      sync.Mutex
	verified map[[32]byte]Identity // SHA-256 of a leaf whose chain verified → its identity

	rmu      sync.RWMutex
	revoked  map[string]time.Time // serial → revocation time; only grows
	crlStamp stamp                // of the crl.pem last read
}

// stamp identifies a version of a file cheaply.
type stamp struct {
	size int64
	mod  time.Time
}

// Open loads the CA, generating it first if allowed and absent, and reads
// the ledger and the revocation list.
func Open(o Options) (*CA, error) {
	if o.Dir == "" {
		return nil, errors.New("pki: no directory for the CA's ledger and revocation list")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ClientValidity == 0 {
		o.ClientValidity = DefaultClientValidity
	}
	own := o.CACert == "" && o.CAKey == ""
	if (o.CACert == "") != (o.CAKey == "") {
		return nil, errors.New("pki: give both the CA certificate and the CA key file, or neither")
	}
	if own {
		o.CACert, o.CAKey = filepath.Join(o.Dir, CACertFile), filepath.Join(o.Dir, CAKeyFile)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("pki: create %s: %w", o.Dir, err)
	}
	ca := &CA{o: o, revoked: map[string]time.Time{}, verified: map[[32]byte]Identity{}}
	_, err := os.Stat(o.CACert)
	switch {
	case errors.Is(err, fs.ErrNotExist) && own && o.Generate:
		if err := ca.generate(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("pki: CA certificate %s: %w", o.CACert, err)
	default:
		if err := ca.load(own); err != nil {
			return nil, err
		}
	}
	ca.pool = x509.NewCertPool()
	ca.pool.AddCert(ca.cert)

	recs, err := ca.readLedger()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		if r.Revoked != nil {
			ca.revoked[r.Serial] = *r.Revoked
		}
	}
	if err := ca.refreshCRL(); err != nil {
		return nil, err
	}
	if err := ca.renewCRL(); err != nil {
		return nil, err
	}
	return ca, nil
}

// Certificate is the CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertificatePEM is the CA certificate in PEM, what agencies trust for the
// bus's server certificate.
func (ca *CA) CertificatePEM() []byte { return bytes.Clone(ca.certPEM) }

// Pool holds the CA certificate alone.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

// Dir is where the ledger and the revocation list live.
func (ca *CA) Dir() string { return ca.o.Dir }

func (ca *CA) generate() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := newSerial()
	if err != nil {
		return err
	}
	now := ca.o.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// A name of its own, so that clients choosing a certificate by the
		// CA names a server accepts never confuse two buses' CAs.
		Subject:               pkix.Name{CommonName: "LGSP bus CA " + fmt.Sprintf("%032x", serial)[:8], Organization: []string{"LGSP bus"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("pki: create CA: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	// The key first: a certificate without its key would be a broken CA.
	if err := writeAtomic(ca.o.CAKey, keyPEM, 0o600); err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := writeAtomic(ca.o.CACert, certPEM, 0o644); err != nil {
		return err
	}
	ca.cert, _ = x509.ParseCertificate(der)
	ca.certPEM, ca.key = certPEM, key
	return nil
}

// load reads the CA files; a key the bus generated itself must still be
// readable by its owner only.
func (ca *CA) load(own bool) error {
	certPEM, err := os.ReadFile(ca.o.CACert)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return fmt.Errorf("pki: CA certificate %s: %w", ca.o.CACert, err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 || cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return fmt.Errorf("pki: %s is not a usable CA certificate (needs basic constraints CA:true and the keyCertSign and cRLSign key usages)", ca.o.CACert)
	}
	if own {
		st, err := os.Stat(ca.o.CAKey)
		if err != nil {
			return fmt.Errorf("pki: CA key: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return fmt.Errorf("pki: CA key %s is readable by others (mode %v); run chmod 600 on it, and issue new certificates if it may have leaked", ca.o.CAKey, st.Mode().Perm())
		}
	}
	keyPEM, err := os.ReadFile(ca.o.CAKey)
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return fmt.Errorf("pki: CA key %s: %w", ca.o.CAKey, err)
	}
	if !samePublic(key.Public(), cert.PublicKey) {
		return fmt.Errorf("pki: CA key %s does not belong to the certificate %s", ca.o.CAKey, ca.o.CACert)
	}
	ca.cert, ca.certPEM, ca.key = cert, certPEM, key
	return nil
}

func samePublic(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

// newSerial is a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return s.Add(s, big.NewInt(1)), nil
}

// SerialString is how a serial number is written in the ledger, the API and
// the audit log: lowercase hex.
func SerialString(s *big.Int) string { return s.Text(16) }

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func parseCertPEM(raw []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(b.Bytes)
}

func parseKeyPEM(raw []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(raw)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", b.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	}
	return nil, fmt.Errorf("unsupported key type %T", k)
}

// writeAtomic replaces path with data: a reader sees the old or the new
// file, never half of one.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	if err := atomicfile.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	return nil
}

// lock serialises ledger changes in this process and, through a lock file,
// with other bus instances sharing the directory.
func (ca *CA) lock() (unlock func(), err error) {
	ca.mu.Lock()
	path := filepath.Join(ca.o.Dir, lockFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(path); ca.mu.Unlock() }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			ca.mu.Unlock()
			return nil, fmt.Errorf("pki: lock %s: %w", path, err)
		}
		if st, serr := os.Stat(path); serr == nil && time.Since(st.ModTime()) > 30*time.Second {
			os.Remove(path) // left behind by a process that died while holding it
			continue
		}
		if time.Now().After(deadline) {
			ca.mu.Unlock()
			return nil, fmt.Errorf("pki: %s is held by another bus instance; retry (delete it if no instance is issuing or revoking)", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
