package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/pki"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// clientCert authenticates the caller by the client certificate it sent
// over the TLS listener; sent is false when there is none, and the caller
// falls back to the API token.
func (h *handlers) clientCert(c echo.Context) (agency string, sent bool, err error) {
	cs := c.Request().TLS
	if h.d.CA == nil || cs == nil || len(cs.PeerCertificates) == 0 {
		return "", false, nil
	}
	id, err := h.d.CA.Verify(cs.PeerCertificates)
	if err != nil {
		return "", true, fail(http.StatusUnauthorized, "client certificate", "%v", err)
	}
	return id.Agency, true, nil
}

func tlsOff() error {
	return fail(http.StatusConflict, "", "mutual TLS is off: set api.tls.enabled (LGSP_API_TLS_ENABLED=true) and restart the bus")
}

// certRequest is the body of a certificate issue.
type certRequest struct {
	// CSR is a PEM certificate request made with the agency's own key, so
	// the key never leaves the agency (preferred).
	CSR string `json:"csr"`
	// Generate has the bus make the key and return it once (development).
	Generate bool   `json:"generate"`
	System   string `json:"system"`
	// Validity is a duration such as "720h" (default api.tls.client_validity).
	Validity string `json:"validity"`
}

// certView is a certificate in the operator's answers.
type certView struct {
	Serial       string     `json:"serial"`
	Agency       string     `json:"agency"`
	System       string     `json:"system,omitempty"`
	State        string     `json:"state"`
	NotBefore    time.Time  `json:"not_before"`
	NotAfter     time.Time  `json:"not_after"`
	Fingerprint  string     `json:"fingerprint_sha256"`
	Issued       time.Time  `json:"issued"`
	KeyGenerated bool       `json:"key_generated"`
	Revoked      *time.Time `json:"revoked,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
}

// issuedView is a new certificate: its record, the PEM certificate, the CA
// certificate to trust the bus with, and the key if the bus generated it.
type issuedView struct {
	certView
	Certificate   string `json:"certificate"`
	CACertificate string `json:"ca_certificate"`
	PrivateKey    string `json:"private_key,omitempty"`
	Note          string `json:"note,omitempty"`
}

func viewCert(r pki.Record) certView {
	return certView{Serial: r.Serial, Agency: r.Agency, System: r.System, State: r.State(time.Now()), NotBefore: r.NotBefore, NotAfter: r.NotAfter,
		Fingerprint: r.Fingerprint, Issued: r.Issued, KeyGenerated: r.KeyGenerated, Revoked: r.Revoked, RevokeReason: r.RevokeReason}
}

// decodeSmall reads a JSON body of at most limit bytes into v; an empty
// body leaves v as it is.
func decodeSmall(c echo.Context, limit int64, v any, shape string) error {
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, limit+1))
	if err != nil {
		return fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	if int64(len(raw)) > limit {
		return fail(http.StatusRequestEntityTooLarge, "", "body is over the %d-byte limit", limit)
	}
	if strings.TrimSpace(string(raw)) == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail(http.StatusBadRequest, "", "body must be %s: %v", shape, err)
	}
	return nil
}

// issueCertificate signs a client certificate for an active agency, from
// the agency's CSR or, for development, with a key the bus generates and
// returns once. The issue is audited; if it cannot be, the certificate is
// revoked again.
func (h *handlers) issueCertificate(c echo.Context) error {
	if h.d.CA == nil {
		return tlsOff()
	}
	agency := c.Param("agency")
	if h.d.Registry != nil && !h.registry().Active(agency) {
		return fail(http.StatusNotFound, "agency", "%q is not a registered, active agency", agency)
	}
	var req certRequest
	if err := decodeSmall(c, 64<<10, &req, `{"csr": "-----BEGIN CERTIFICATE REQUEST-----…", "system": "…", "validity": "8760h"} or {"generate": true}`); err != nil {
		return err
	}
	if (req.CSR == "") == !req.Generate {
		return fail(http.StatusBadRequest, "csr", `send either {"csr": "<PEM certificate request>"} (preferred: the key stays with the agency) or {"generate": true}`)
	}
	if req.System != "" && h.d.Registry != nil {
		ag, _ := h.registry().Get(agency)
		var ids []string
		for _, s := range ag.Systems {
			ids = append(ids, s.ID)
		}
		if !slices.Contains(ids, req.System) {
			return fail(http.StatusBadRequest, "system", "%q is not a registered system of %s (its systems: %s)", req.System, agency, strings.Join(ids, ", "))
		}
	}
	pr := pki.Request{Agency: agency, System: req.System}
	if req.CSR != "" {
		pr.CSR = []byte(req.CSR)
	}
	if req.Validity != "" {
		d, err := time.ParseDuration(req.Validity)
		if err != nil {
			return fail(http.StatusBadRequest, "validity", "validity must be a duration such as 720h: %v", err)
		}
		pr.Validity = d
	}
	is, err := h.d.CA.Issue(pr)
	var re *pki.RequestError
	if errors.As(err, &re) {
		return fail(http.StatusBadRequest, re.Field, "%s", re.Problem)
	}
	if err != nil {
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	ctx := c.Request().Context()
	who := agency
	if req.System != "" {
		who += "/" + req.System
	}
	if err := h.d.AuditLog.Append(ctx, []store.AuditEntry{{Time: time.Now(), Actor: "operator", Action: "credential.issue", Decision: "allow", RequestID: is.Serial,
		Reason: fmt.Sprintf("client certificate for %s, valid until %s", who, is.NotAfter.UTC().Format(time.RFC3339))}}); err != nil {
		_, _ = h.d.CA.Revoke(is.Serial, "the issue could not be audited") // an unaudited credential must not stay valid
		return unavailable(err, "the issue could not be audited, so the certificate was revoked; retry")
	}
	out := issuedView{certView: viewCert(is.Record), Certificate: is.Certificate, CACertificate: string(h.d.CA.CertificatePEM())}
	if is.KeyPEM != nil {
		out.PrivateKey = string(is.KeyPEM)
		out.Note = "store the private key now; the bus does not keep it. For production, send a CSR so the key never leaves the agency"
	}
	return c.JSON(http.StatusCreated, out)
}

// listCertificates lists issued client certificates, newest first.
func (h *handlers) listCertificates(c echo.Context) error {
	if h.d.CA == nil {
		return tlsOff()
	}
	recs, err := h.d.CA.List(c.QueryParam("agency"))
	if err != nil {
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	out := make([]certView, len(recs))
	for i, r := range recs {
		out[i] = viewCert(r)
	}
	return c.JSON(http.StatusOK, out)
}

// revokeCertificate ends a client certificate at once: open connections
// are refused on their next request and new handshakes fail. The
// revocation is audited first; revoking a revoked certificate changes
// nothing.
func (h *handlers) revokeCertificate(c echo.Context) error {
	if h.d.CA == nil {
		return tlsOff()
	}
	serial := strings.ToLower(c.Param("serial"))
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decodeSmall(c, 4<<10, &req, `{"reason": "…"} or empty`); err != nil {
		return err
	}
	if len(req.Reason) > 200 {
		return fail(http.StatusBadRequest, "reason", "reason is over 200 characters")
	}
	rec, err := h.d.CA.Get(serial)
	if errors.Is(err, pki.ErrUnknownSerial) {
		return fail(http.StatusNotFound, "serial", "no certificate %q; GET /v1/operator/certificates lists them", serial)
	}
	if err != nil {
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	if rec.Revoked != nil {
		return c.JSON(http.StatusOK, viewCert(rec))
	}
	ctx := c.Request().Context()
	reason := "client certificate of " + rec.Agency
	if req.Reason != "" {
		reason += ": " + req.Reason
	}
	if err := h.d.AuditLog.Append(ctx, []store.AuditEntry{{Time: time.Now(), Actor: "operator", Action: "credential.revoke", Decision: "allow", RequestID: serial, Reason: reason}}); err != nil {
		return unavailable(err, "the revocation could not be audited; retry")
	}
	if rec, err = h.d.CA.Revoke(serial, req.Reason); err != nil {
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	return c.JSON(http.StatusOK, viewCert(rec))
}
