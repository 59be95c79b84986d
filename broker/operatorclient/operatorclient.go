// Package operatorclient is the client of the bus's operator endpoints
// that tools beside a running bus use (lgsp cert): every change goes
// through the bus, so the one process that writes the audit log records it.
package operatorclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
)

// IssueRequest asks for an agency's client certificate.
type IssueRequest struct {
	Agency, System string
	CSR            []byte        // PEM request made with the agency's key; nil: the bus generates the key
	Validity       time.Duration // 0: the bus's default
}

// Issued is a new certificate.
type Issued struct {
	Serial        string    `json:"serial"`
	NotAfter      time.Time `json:"not_after"`
	Certificate   string    `json:"certificate"`
	CACertificate string    `json:"ca_certificate"`
	PrivateKey    string    `json:"private_key"` // only when the bus generated the key
}

// Issue has the bus issue a certificate.
func (o *Client) Issue(ctx context.Context, r IssueRequest) (Issued, error) {
	body := map[string]any{}
	if r.System != "" {
		body["system"] = r.System
	}
	if r.Validity != 0 {
		body["validity"] = r.Validity.String()
	}
	if r.CSR != nil {
		body["csr"] = string(r.CSR)
	} else {
		body["generate"] = true
	}
	var res Issued
	err := o.do(ctx, "POST", "/v1/operator/agencies/"+r.Agency+"/certificates", body, &res)
	return res, err
}

// Save hands over the certificate issued for r as `lgsp cert issue` does:
// with dir "", the certificate on w and what it is on notes (only for a
// request made with the agency's own key: a generated key is never
// printed); otherwise the files of WriteFiles, named after the agency (and
// system), and their paths on w.
func (res Issued) Save(dir string, r IssueRequest, w, notes io.Writer) error {
	if dir == "" {
		if res.PrivateKey != "" {
			return fmt.Errorf("a generated private key is written only to a file: give a directory")
		}
		fmt.Fprint(w, res.Certificate)
		_, err := fmt.Fprintf(notes, "certificate %s for %s, valid until %s\n", res.Serial, r.Agency, res.NotAfter.Format(time.RFC3339))
		return err
	}
	name := r.Agency
	if r.System != "" {
		name += "-" + r.System
	}
	written, err := res.WriteFiles(dir, name)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "certificate %s for %s, valid until %s\n  %s\n", res.Serial, r.Agency, res.NotAfter.Format(time.RFC3339), strings.Join(written, "\n  "))
	return err
}

// WriteFiles writes <name>.crt, ca.crt and, when the bus generated the
// key, <name>.key (0600) into dir, and returns their paths.
func (res Issued) WriteFiles(dir, name string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files := []struct {
		name, body string
		mode       os.FileMode
	}{{name + ".crt", res.Certificate, 0o644}, {"ca.crt", res.CACertificate, 0o644}, {name + ".key", res.PrivateKey, 0o600}}
	var written []string
	for _, f := range files {
		if f.body == "" {
			continue
		}
		p := filepath.Join(dir, f.name)
		if err := atomicfile.WriteFile(p, []byte(f.body), f.mode); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

// Cert is a certificate as the bus lists it.
type Cert struct {
	Serial, Agency, System, State string
	NotAfter                      time.Time `json:"not_after"`
	Revoked                       *time.Time
}

// WriteList writes certificates as the table `lgsp cert list` prints.
func WriteList(w io.Writer, recs []Cert) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tAGENCY\tSYSTEM\tSTATE\tNOT AFTER")
	for _, r := range recs {
		sys := r.System
		if sys == "" {
			sys = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Serial, r.Agency, sys, r.State, r.NotAfter.Format(time.DateOnly))
	}
	return tw.Flush()
}

// List returns the certificates, of one agency when agency is not "".
func (o *Client) List(ctx context.Context, agency string) ([]Cert, error) {
	q := ""
	if agency != "" {
		q = "?agency=" + agency
	}
	var recs []Cert
	err := o.do(ctx, "GET", "/v1/operator/certificates"+q, nil, &recs)
	return recs, err
}

// Revoke revokes a certificate by serial, with the reason for the audit
// log, and returns its agency and the time of revocation.
func (o *Client) Revoke(ctx context.Context, serial, reason string) (agency string, at time.Time, err error) {
	var res struct {
		Agency  string     `json:"agency"`
		Revoked *time.Time `json:"revoked"`
	}
	if err := o.do(ctx, "POST", "/v1/operator/certificates/"+serial+"/revoke", map[string]any{"reason": reason}, &res); err != nil {
		return "", time.Time{}, err
	}
	if res.Revoked == nil {
		return "", time.Time{}, fmt.Errorf("the bus answered without a revocation time for %s", serial)
	}
	return res.Agency, *res.Revoked, nil
}

// Client calls the bus's operator endpoints with the operator token.
type Client struct {
	base, token string
	client      *http.Client
}

// Open finds the bus's API address (apiURL overrides it), operator token
// and CA from the config file or the data dir, as the bus itself would.
func Open(cfgPath, dataDir, apiURL string) (*Client, error) {
	cfg := config.Defaults()
	var err error
	if cfgPath != "" {
		if cfg, err = config.Load(cfgPath); err != nil {
			return nil, err
		}
	} else if err := config.ApplyEnv(&cfg); err != nil {
		return nil, err
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	token := cfg.API.OperatorToken
	if token == "" {
		raw, err := os.ReadFile(filepath.Join(cfg.DataDir, "operator.token"))
		if err != nil {
			return nil, fmt.Errorf("no operator token: set api.operator_token or pass the bus's --data-dir (%w)", err)
		}
		token = strings.TrimSpace(string(raw))
	}
	if apiURL == "" {
		apiURL = runtime.APIURL(cfg)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if pemCA, err := os.ReadFile(runtime.CACertPath(cfg)); err == nil {
		roots.AppendCertsFromPEM(pemCA)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	return &Client{base: strings.TrimRight(apiURL, "/"), token: token, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

func (o *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the bus at %s (is it running? pass --api URL): %w", o.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var p struct{ Error, Field string }
		if json.Unmarshal(raw, &p) == nil && p.Error != "" {
			if p.Field != "" {
				return fmt.Errorf("%s (%s): %s", p.Field, resp.Status, p.Error)
			}
			return fmt.Errorf("%s: %s", resp.Status, p.Error)
		}
		return fmt.Errorf("%s %s answered %s", method, path, resp.Status)
	}
	return json.Unmarshal(raw, out)
}
