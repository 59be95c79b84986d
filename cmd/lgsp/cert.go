package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lgsp-bus/lgsp/broker/operatorclient"
)

func init() {
	register(command{Name: "cert", Summary: "agencies' client certificates for mutual TLS (issue, list, revoke; api.tls.enabled)", Usage: certUsage, Run: runCert})
}

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
	fs := newFlags("cert "+args[0], stderr, "")
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
	op, err := operatorclient.Open(*cfgPath, *dataDir, *apiURL)
	if err != nil {
		return err
	}
	switch args[0] {
	case "issue":
		if *agency == "" {
			return errors.New("--agency is required\n" + certUsage)
		}
		req := operatorclient.IssueRequest{Agency: *agency, System: *system, Validity: *validity}
		if *csrFile != "" {
			if req.CSR, err = os.ReadFile(*csrFile); err != nil {
				return err
			}
		} else if *out == "" {
			return errors.New("a generated private key is written only to a file: pass --out DIR, or --csr FILE to keep the key with the agency")
		}
		res, err := op.Issue(ctx, req)
		if err != nil {
			return err
		}
		return res.Save(*out, req, stdout, stderr)
	case "list":
		recs, err := op.List(ctx, *agency)
		if err != nil {
			return err
		}
		return operatorclient.WriteList(stdout, recs)
	default: // revoke
		if *serial == "" {
			return errors.New("--serial is required (lgsp cert list shows them)\n" + certUsage)
		}
		ag, at, err := op.Revoke(ctx, *serial, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "certificate %s of %s revoked at %s\n", *serial, ag, at.Format(time.RFC3339))
		return nil
	}
}
