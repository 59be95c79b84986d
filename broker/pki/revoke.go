package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// crlValidity is how far ahead a written revocation list says the next one
// is due; the bus re-signs it at start when less than a month is left.
const crlValidity = 365 * 24 * time.Hour

// Revoke ends a certificate now: in this process at once, in the signed
// revocation list (other instances, TLS proxies) and in the ledger.
// Revoking a revoked certificate returns its record unchanged.
func (ca *CA) Revoke(serial, reason string) (Record, error) {
	unlock, err := ca.lock()
	if err != nil {
		return Record{}, err
	}
	defer unlock()
	recs, err := ca.readLedger()
	if err != nil {
		return Record{}, err
	}
	i := findSerial(recs, serial)
	if i < 0 {
		return Record{}, ErrUnknownSerial
	}
	if recs[i].Revoked != nil {
		return recs[i], nil
	}
	now := ca.o.Now().UTC()
	recs[i].Revoked, recs[i].RevokeReason = &now, reason
	ca.rmu.Lock()
	ca.revoked[serial] = now
	ca.rmu.Unlock()
	if err := ca.writeCRL(); err != nil {
		return Record{}, fmt.Errorf("%w; the certificate is refused by this instance until it restarts, revoke again to make it permanent", err)
	}
	if err := ca.writeLedger(recs); err != nil {
		return Record{}, fmt.Errorf("%w; the revocation list already holds the certificate, so it stays refused", err)
	}
	return recs[i], nil
}

// revokedAt reports whether serial is revoked, reading the revocation list
// again if another process changed it. A list that cannot be read or whose
// signature fails refuses every certificate (fail closed).
func (ca *CA) revokedAt(serial string) (time.Time, bool, error) {
	if err := ca.refreshCRL(); err != nil {
		return time.Time{}, false, fmt.Errorf("%w; every client certificate is refused until it is fixed", err)
	}
	ca.rmu.RLock()
	defer ca.rmu.RUnlock()
	t, ok := ca.revoked[serial]
	return t, ok, nil
}

func (ca *CA) crlPath() string { return filepath.Join(ca.o.Dir, CRLFile) }

func fileStamp(st fs.FileInfo) stamp { return stamp{size: st.Size(), mod: st.ModTime()} }

// refreshCRL merges the revocation list file into the revoked set when the
// file changed since it was last read (one stat per call otherwise).
func (ca *CA) refreshCRL() error {
	path := ca.crlPath()
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing revoked through the file (this process still knows its own revocations)
	}
	if err != nil {
		return fmt.Errorf("pki: revocation list %s: %w", path, err)
	}
	s := fileStamp(st)
	ca.rmu.RLock()
	same := s.size == ca.crlStamp.size && s.mod.Equal(ca.crlStamp.mod)
	ca.rmu.RUnlock()
	if same {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("pki: revocation list %s: %w", path, err)
	}
	crl, err := ca.parseCRL(raw)
	if err != nil {
		return fmt.Errorf("pki: revocation list %s: %w", path, err)
	}
	ca.rmu.Lock()
	defer ca.rmu.Unlock()
	for _, e := range crl.RevokedCertificateEntries {
		if _, ok := ca.revoked[SerialString(e.SerialNumber)]; !ok {
			ca.revoked[SerialString(e.SerialNumber)] = e.RevocationTime
		}
	}
	ca.crlStamp = s
	return nil
}

func (ca *CA) parseCRL(raw []byte) (*x509.RevocationList, error) {
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "X509 CRL" {
		return nil, errors.New("no PEM X509 CRL block")
	}
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		return nil, err
	}
	if err := crl.CheckSignatureFrom(ca.cert); err != nil {
		return nil, fmt.Errorf("not signed by the bus CA: %w", err)
	}
	return crl, nil
}

// writeCRL signs and writes the revocation list of everything revoked,
// numbered one above the list it replaces. The caller holds the lock.
func (ca *CA) writeCRL() error {
	number := big.NewInt(1)
	if raw, err := os.ReadFile(ca.crlPath()); err == nil {
		if old, err := ca.parseCRL(raw); err == nil && old.Number != nil {
			number.Add(old.Number, big.NewInt(1))
		}
	}
	now := ca.o.Now()
	tmpl := &x509.RevocationList{Number: number, ThisUpdate: now, NextUpdate: now.Add(crlValidity)}
	ca.rmu.RLock()
	for s, t := range ca.revoked {
		n, ok := new(big.Int).SetString(s, 16)
		if !ok {
			continue
		}
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: t})
	}
	ca.rmu.RUnlock()
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return fmt.Errorf("pki: sign the revocation list (the CA needs the cRLSign key usage): %w", err)
	}
	if err := writeAtomic(ca.crlPath(), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644); err != nil {
		return err
	}
	if st, err := os.Stat(ca.crlPath()); err == nil {
		ca.rmu.Lock()
		ca.crlStamp = fileStamp(st)
		ca.rmu.Unlock()
	}
	return nil
}

// renewCRL re-signs a revocation list that is due within a month, so TLS
// proxies that honour its next-update time keep accepting it.
func (ca *CA) renewCRL() error {
	raw, err := os.ReadFile(ca.crlPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pki: %w", err)
	}
	crl, err := ca.parseCRL(raw)
	if err != nil {
		return fmt.Errorf("pki: revocation list %s: %w", ca.crlPath(), err)
	}
	if crl.NextUpdate.Sub(ca.o.Now()) > 30*24*time.Hour {
		return nil
	}
	unlock, err := ca.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return ca.writeCRL()
}
