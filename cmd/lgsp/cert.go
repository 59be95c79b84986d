package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
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
)

const certUsage = `usage:
  lgsp cert issue  --agency ID [--system ID] [--csr FILE] [--validity 8760h] [--out DIR]
  lgsp cert list   [--agency ID]
  lgsp cert revoke --serial HEX [--reason TEXT]
common flags: --data-dir DIR | --config FILE (where the operator token and the bus CA are), --api URL`

// runCert manages agencies' client certificates through the running bus's
// operator endpoints, so that every issue and revocation is audited by the
// one process that writes the audit log.
func runCert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "issue" && args[0] != "list" && args[0] != "revoke") {
		return errors.New(certUsage)
	}
	fs := flag.NewFlagSet("cert "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "data dir of the bus (default ./lgsp-data): operator.token and pki/ca.crt")
	cfgPath := fs.String("config", "", "config file of the bus (as for lgsp serve)")
	apiURL := fs.String("api", "", "the bus's REST API (default from api.addr: https://localhost:8080 when TLS is on)")
	agency := fs.String("agency", "", "agency id (issue: required; list: filter)")
	system := fs.String("system", "", "issue: one of the agency's registered systems")
	csrFile := fs.String("csr", "", "issue: PEM certificate request made with the agency's own key (without it the bus generates the key: development only)")
	validity := fs.Duration("validity", 0, "issue: lifetime (default api.tls.client_validity, one year)")
	out := fs.String("out", "", "issue: directory for <agency>.crt, ca.crt and, when generated, <agency>.key (0600)")
	serial := fs.String("serial", "", "revoke: serial number (hex) as shown by lgsp cert list")
	reason := fs.String("reason", "", "revoke: why, for the audit log")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	op, err := operatorClient(*cfgPath, *dataDir, *apiURL)
	if err != nil {
		return err
	}
	switch args[0] {
	case "issue":
		if *agency == "" {
			return errors.New("--agency is required\n" + certUsage)
		}
		body := map[string]any{}
		if *system != "" {
			body["system"] = *system
		}
		if *validity != 0 {
			body["validity"] = validity.String()
		}
		if *csrFile != "" {
			raw, err := os.ReadFile(*csrFile)
			if err != nil {
				return err
			}
			body["csr"] = string(raw)
		} else {
			if *out == "" {
				return errors.New("a generated private key is written only to a file: pass --out DIR, or --csr FILE to keep the key with the agency")
			}
			body["generate"] = true
		}
		var res struct {
			Serial        string    `json:"serial"`
			NotAfter      time.Time `json:"not_after"`
			Certificate   string    `json:"certificate"`
			CACertificate string    `json:"ca_certificate"`
			PrivateKey    string    `json:"private_key"`
		}
		if err := op.do(ctx, "POST", "/v1/operator/agencies/"+*agency+"/certificates", body, &res); err != nil {
			return err
		}
		if *out == "" {
			fmt.Fprint(stdout, res.Certificate)
			fmt.Fprintf(stderr, "certificate %s for %s, valid until %s\n", res.Serial, *agency, res.NotAfter.Format(time.RFC3339))
			return nil
		}
		name := *agency
		if *system != "" {
			name += "-" + *system
		}
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return err
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
			p := filepath.Join(*out, f.name)
			if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
				return err
			}
			if err := os.Chmod(p, f.mode); err != nil { // WriteFile keeps the mode of an existing file
				return err
			}
			written = append(written, p)
		}
		fmt.Fprintf(stdout, "certificate %s for %s, valid until %s\n  %s\n", res.Serial, *agency, res.NotAfter.Format(time.RFC3339), strings.Join(written, "\n  "))
		return nil
	case "list":
		q := ""
		if *agency != "" {
			q = "?agency=" + *agency
		}
		var recs []struct {
			Serial, Agency, System, State string
			NotAfter                      time.Time `json:"not_after"`
			Revoked                       *time.Time
		}
		if err := op.do(ctx, "GET", "/v1/operator/certificates"+q, nil, &recs); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERIAL\tAGENCY\tSYSTEM\tSTATE\tNOT AFTER")
		for _, r := range recs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Serial, r.Agency, dash(r.System), r.State, r.NotAfter.Format(time.DateOnly))
		}
		return tw.Flush()
	default: // revoke
		if *serial == "" {
			return errors.New("--serial is required (lgsp cert list shows them)\n" + certUsage)
		}
		var res struct {
			Agency  string     `json:"agency"`
			Revoked *time.Time `json:"revoked"`
		}
		if err := op.do(ctx, "POST", "/v1/operator/certificates/"+*serial+"/revoke", map[string]any{"reason": *reason}, &res); err != nil {
			return err
		}
		if res.Revoked == nil {
			return fmt.Errorf("the bus answered without a revocation time for %s", *serial)
		}
		fmt.Fprintf(stdout, "certificate %s of %s revoked at %s\n", *serial, res.Agency, res.Revoked.Format(time.RFC3339))
		return nil
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// operator calls the bus's operator endpoints.
type operator struct {
	base, token string
	client      *http.Client
}

// operatorClient finds the bus's API address, operator token and CA from
// the config file or the data dir, as the bus itself would.
func operatorClient(cfgPath, dataDir, apiURL string) (*operator, error) {
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
	return &operator{base: strings.TrimRight(apiURL, "/"), token: token, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
}

func (o *operator) do(ctx context.Context, method, path string, body, out any) error {
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
