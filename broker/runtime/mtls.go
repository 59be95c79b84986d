package runtime

import (
	"crypto/tls"
	"os"
	"path/filepath"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/pki"
)

// CADir is where the bus CA keeps its ledger and revocation list (and, in
// dev, the CA and the generated server certificate): api.tls.state_dir or
// <data_dir>/pki.
func CADir(c config.Config) string {
	if c.API.TLS.StateDir != "" {
		return c.API.TLS.StateDir
	}
	return filepath.Join(c.DataDir, "pki")
}

// CACertPath is the bus CA certificate clients trust the API with.
func CACertPath(c config.Config) string {
	if c.API.TLS.CACert != "" {
		return c.API.TLS.CACert
	}
	return filepath.Join(CADir(c), pki.CACertFile)
}

// OpenCA opens the bus CA of c; generate creates it on first use (dev).
func OpenCA(c config.Config, generate bool) (*pki.CA, error) {
	t := c.API.TLS
	return pki.Open(pki.Options{Dir: CADir(c), CACert: t.CACert, CAKey: t.CAKey, Generate: generate, ClientValidity: t.ClientValidity})
}

// apiTLS opens the CA and builds the API listener's TLS configuration when
// api.tls.enabled is set; otherwise both are nil.
func apiTLS(mode Mode, c config.Config) (*pki.CA, *tls.Config, error) {
	t := c.API.TLS
	if !t.Enabled {
		return nil, nil, nil
	}
	ca, err := OpenCA(c, mode == Dev)
	if err != nil {
		return nil, nil, err
	}
	cert, err := ca.ServerCertificate(t.Cert, t.Key, t.Hosts)
	if err != nil {
		return nil, nil, err
	}
	return ca, ca.ServerTLS(cert), nil
}

// APIURL is the base URL of c's REST API as seen from this host: https
// when TLS is on, or when a bus CA exists in the data dir (the bus ran with
// TLS), else http.
func APIURL(c config.Config) string {
	scheme := "http"
	if _, err := os.Stat(CACertPath(c)); c.API.TLS.Enabled || err == nil {
		scheme = "https"
	}
	return scheme + "://" + hostPort(c.API.Addr)
}

func (b *Bus) apiScheme() string {
	if b.apiTLS != nil {
		return "https"
	}
	return "http"
}
