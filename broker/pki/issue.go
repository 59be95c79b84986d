package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// maxVerified bounds the cache of certificates whose signature checked out.
const maxVerified = 10_000

// URIScheme is the scheme of the URI SANs that carry an agency's identity.
const URIScheme = "lgsp"

// idPattern is the agency (and system) id syntax of the agency registry.
var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,79}$`)

// RequestError is an issue request the CA refuses; Field names the part.
type RequestError struct {
	Field, Problem string
}

func (e *RequestError) Error() string { return "pki: " + e.Field + ": " + e.Problem }

// ErrUnknownSerial is a serial number the ledger does not hold.
var ErrUnknownSerial = errors.New("pki: no certificate with this serial number in the ledger; GET /v1/operator/certificates lists them")

// Request asks for a client certificate.
type Request struct {
	// Agency is the registered agency the certificate authenticates.
	Agency string
	// System optionally narrows it to one of the agency's systems.
	System string
	// CSR is a PEM CERTIFICATE REQUEST made with the agency's own key; its
	// signature proves the key is theirs, its subject is ignored (the bus
	// decides what the certificate says). Nil: the bus generates the key
	// and returns it once (dev convenience; the ledger records that).
	CSR []byte
	// Validity is the lifetime (0: the CA's default).
	Validity time.Duration
}

// Record is one issued client certificate in the ledger.
type Record struct {
	Serial       string     `json:"serial"`
	Agency       string     `json:"agency"`
	System       string     `json:"system,omitempty"`
	NotBefore    time.Time  `json:"not_before"`
	NotAfter     time.Time  `json:"not_after"`
	Fingerprint  string     `json:"fingerprint_sha256"`
	Issued       time.Time  `json:"issued"`
	KeyGenerated bool       `json:"key_generated"` // the bus made the private key, so it was once outside the agency
	Revoked      *time.Time `json:"revoked,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
	Certificate  string     `json:"certificate"` // PEM
}

// State is "revoked", "expired" or "valid" at now.
func (r Record) State(now time.Time) string {
	switch {
	case r.Revoked != nil:
		return "revoked"
	case now.After(r.NotAfter):
		return "expired"
	}
	return "valid"
}

// Issued is a new certificate.
type Issued struct {
	Record
	// KeyPEM is the private key when the bus generated it; shown once.
	KeyPEM []byte
}

// Identity is who a verified client certificate authenticates.
type Identity struct {
	Agency, System, Serial string
	NotAfter               time.Time
}

// AgencyURI is the URI SAN naming an agency, or one of its systems.
func AgencyURI(agency, system string) *url.URL {
	u := &url.URL{Scheme: URIScheme, Host: "agency", Path: "/" + agency}
	if system != "" {
		u.Path += "/system/" + system
	}
	return u
}

// Issue signs a client certificate for r and records it in the ledger.
func (ca *CA) Issue(r Request) (Issued, error) {
	if !idPattern.MatchString(r.Agency) {
		return Issued{}, &RequestError{"agency", "must be 2 to 80 lowercase letters, digits and '-'"}
	}
	if r.System != "" && !idPattern.MatchString(r.System) {
		return Issued{}, &RequestError{"system", "must be 2 to 80 lowercase letters, digits and '-'"}
	}
	if r.Validity == 0 {
		r.Validity = ca.o.ClientValidity
	}
	if r.Validity < time.Minute {
		return Issued{}, &RequestError{"validity", fmt.Sprintf("must be at least 1m, got %s", r.Validity)}
	}
	now := ca.o.Now()
	notBefore, notAfter := now.Add(-time.Minute), now.Add(r.Validity)
	if notAfter.After(ca.cert.NotAfter) {
		return Issued{}, &RequestError{"validity", fmt.Sprintf("ends after the CA itself (%s); ask for a shorter validity or renew the CA", ca.cert.NotAfter.Format(time.DateOnly))}
	}
	var pub crypto.PublicKey
	var keyPEM []byte
	if r.CSR != nil {
		csr, err := parseCSR(r.CSR)
		if err != nil {
			return Issued{}, err
		}
		pub = csr.PublicKey
	} else {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Issued{}, err
		}
		if keyPEM, err = encodeKey(key); err != nil {
			return Issued{}, err
		}
		pub = key.Public()
	}
	serial, err := newSerial()
	if err != nil {
		return Issued{}, err
	}
	subject := pkix.Name{CommonName: r.Agency, Organization: []string{"LGSP member agency"}}
	uris := []*url.URL{AgencyURI(r.Agency, "")}
	if r.System != "" {
		subject.OrganizationalUnit = []string{r.System}
		uris = append(uris, AgencyURI(r.Agency, r.System))
	}
	usage := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		URIs:                  uris,
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		return Issued{}, fmt.Errorf("pki: sign the certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Issued{}, err
	}
	sum := sha256.Sum256(der)
	rec := Record{Serial: SerialString(serial), Agency: r.Agency, System: r.System, NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		Fingerprint: hex.EncodeToString(sum[:]), Issued: now.UTC(), KeyGenerated: keyPEM != nil,
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
	unlock, err := ca.lock()
	if err != nil {
		return Issued{}, err
	}
	defer unlock()
	recs, err := ca.readLedger()
	if err != nil {
		return Issued{}, err
	}
	if err := ca.writeLedger(append(recs, rec)); err != nil {
		return Issued{}, err // never handed out, so it authenticates nobody
	}
	return Issued{Record: rec, KeyPEM: keyPEM}, nil
}

// parseCSR reads a PEM certificate request and checks that its signature
// proves possession of an acceptable key.
func parseCSR(raw []byte) (*x509.CertificateRequest, error) {
	b, _ := pem.Decode(raw)
	if b == nil || (b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST") {
		return nil, &RequestError{"csr", "must be a PEM CERTIFICATE REQUEST (openssl req -new -key agency.key -subj /CN=AGENCY)"}
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, &RequestError{"csr", "not a valid certificate request: " + err.Error()}
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, &RequestError{"csr", "its signature does not verify with its own key: " + err.Error()}
	}
	switch k := csr.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if k.Curve.Params().BitSize < 256 {
			return nil, &RequestError{"csr", "ECDSA keys must be P-256 or larger"}
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, &RequestError{"csr", fmt.Sprintf("RSA keys must be at least 2048 bits, got %d", k.N.BitLen())}
		}
	case ed25519.PublicKey:
	default:
		return nil, &RequestError{"csr", fmt.Sprintf("unsupported key type %T (use ECDSA P-256, Ed25519 or RSA 2048+)", k)}
	}
	return csr, nil
}

// Verify checks a client's certificate chain as presented (leaf first): it
// must be signed by this CA, in its validity period, meant for client
// authentication, name exactly one agency, and not be revoked. It is called
// on every handshake and again on every request, so revocation and expiry
// apply to connections that are already open.
func (ca *CA) Verify(chain []*x509.Certificate) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, errors.New("pki: no client certificate")
	}
	leaf := chain[0]
	now := ca.o.Now()
	sum := sha256.Sum256(leaf.Raw)
	ca.vmu.Lock()
	id, known := ca.verified[sum]
	ca.vmu.Unlock()
	switch {
	case known && (now.Before(leaf.NotBefore) || now.After(leaf.NotAfter)):
		return Identity{}, fmt.Errorf("pki: client certificate not accepted: expired or not yet valid (valid %s to %s)",
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	case !known:
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.pool, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return Identity{}, fmt.Errorf("pki: client certificate not accepted (not issued by the bus CA, expired, or not for client authentication): %w", err)
		}
		var err error
		if id, err = identity(leaf); err != nil {
			return Identity{}, err
		}
		// The signature check is the costly part; it is done once per
		// certificate. Validity and revocation are checked every time.
		ca.vmu.Lock()
		if len(ca.verified) >= maxVerified {
			clear(ca.verified)
		}
		ca.verified[sum] = id
		ca.vmu.Unlock()
	}
	when, revoked, err := ca.revokedAt(id.Serial)
	if err != nil {
		return Identity{}, err
	}
	if revoked {
		return Identity{}, fmt.Errorf("pki: client certificate %s of %s was revoked at %s; ask the bus operator for a new one", id.Serial, id.Agency, when.UTC().Format(time.RFC3339))
	}
	return id, nil
}

// identity reads the agency (and system) from a certificate's URI SANs and
// checks the subject agrees.
func identity(c *x509.Certificate) (Identity, error) {
	id := Identity{Serial: SerialString(c.SerialNumber), NotAfter: c.NotAfter}
	for _, u := range c.URIs {
		if u.Scheme != URIScheme || u.Host != "agency" {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
		switch {
		case len(parts) == 1 && idPattern.MatchString(parts[0]):
			if id.Agency != "" && id.Agency != parts[0] {
				return Identity{}, errors.New("pki: client certificate names more than one agency")
			}
			id.Agency = parts[0]
		case len(parts) == 3 && parts[1] == "system" && idPattern.MatchString(parts[0]) && idPattern.MatchString(parts[2]):
			if id.System != "" {
				return Identity{}, errors.New("pki: client certificate names more than one system")
			}
			id.System = parts[2]
			if id.Agency != "" && id.Agency != parts[0] {
				return Identity{}, errors.New("pki: client certificate names more than one agency")
			}
			id.Agency = parts[0]
		default:
			return Identity{}, fmt.Errorf("pki: client certificate has a malformed agency URI %q", u)
		}
	}
	if id.Agency == "" || c.Subject.CommonName != id.Agency {
		return Identity{}, errors.New("pki: client certificate does not name its agency (URI SAN lgsp://agency/<id> and CN)")
	}
	return id, nil
}

// List returns the ledger, newest first; agency filters ("" for all).
func (ca *CA) List(agency string) ([]Record, error) {
	recs, err := ca.readLedger()
	if err != nil {
		return nil, err
	}
	out := []Record{}
	for _, r := range recs {
		if agency == "" || r.Agency == agency {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Issued.After(out[j].Issued) })
	return out, nil
}

// Get returns one ledger record.
func (ca *CA) Get(serial string) (Record, error) {
	recs, err := ca.readLedger()
	if err != nil {
		return Record{}, err
	}
	if i := findSerial(recs, serial); i >= 0 {
		return recs[i], nil
	}
	return Record{}, ErrUnknownSerial
}

// findSerial is the index of the certificate with this serial, -1 if none.
// openssl prints serials in upper case with a leading zero byte where the
// ledger has SerialString's lower-case form: the numbers are compared.
func findSerial(recs []Record, serial string) int {
	want, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(serial)), "0x"), 16)
	for i, r := range recs {
		if r.Serial == serial {
			return i
		}
		if have, okHave := new(big.Int).SetString(r.Serial, 16); ok && okHave && have.Cmp(want) == 0 {
			return i
		}
	}
	return -1
}

type ledger struct {
	Certificates []Record `json:"certificates"`
}

func (ca *CA) readLedger() ([]Record, error) {
	path := filepath.Join(ca.o.Dir, LedgerFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pki: read the ledger: %w", err)
	}
	var l ledger
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, fmt.Errorf("pki: the ledger %s is damaged (%v); restore it from a backup", path, err)
	}
	return l.Certificates, nil
}

func (ca *CA) writeLedger(recs []Record) error {
	raw, err := json.MarshalIndent(ledger{Certificates: recs}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(ca.o.Dir, LedgerFile), append(raw, '\n'), 0o600)
}
