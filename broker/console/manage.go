package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/policies"
)

// The operator's pages that change the bus: agreements, credentials, the
// review queue. Each form is one call of the REST API with the operator's
// credential, which authorizes and audits it; a secret the API returns is
// shown on the answer to the form only (never in a redirect, never cached).

// agreementsInForce is GET /v1/operator/agreements: whether the agreements
// can be changed through the API (policies.dir set).
type agreementsInForce struct {
	Managed bool   `json:"managed"`
	Digest  string `json:"digest"`
	Dir     string `json:"dir"`
}

type agreementsData struct {
	List     []agreement
	Operator bool
	Managed  bool
	Issued   map[string]string // Kafka passwords a change issued, shown once
}

// agreements lists the agreements in force; the operator also learns
// whether they can be edited here.
func (c *Console) agreements(w http.ResponseWriter, r *http.Request) {
	c.agreementsPage(w, r, pageData{}, nil)
}

func (c *Console) agreementsPage(w http.ResponseWriter, r *http.Request, p pageData, issued map[string]string) {
	s := sessionOf(r)
	var list []agreement
	if a := c.restJSON(r, s, "/v1/agreements", &list); c.restFailed(w, r, s, a) {
		return
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	d := agreementsData{List: list, Operator: s.kind == KindOperator, Issued: issued}
	if d.Operator {
		var inForce agreementsInForce
		if a := c.restJSON(r, s, "/v1/operator/agreements", &inForce); c.restFailed(w, r, s, a) {
			return
		}
		d.Managed = inForce.Managed
	}
	if id := r.URL.Query().Get("changed"); id != "" && p.Flash == "" {
		p.Flash, p.FlashDetail = "agr.changed", id
	}
	p.Title, p.Data, p.s = "agr.title", d, s
	c.render(w, r, http.StatusOK, "agreements", p)
}

// agreementProblem and preview are the API's AgreementPreview.
type agreementProblem struct {
	File  string `json:"file"`
	Line  int    `json:"line"`
	Field string `json:"field"`
	Error string `json:"error"`
}

type preview struct {
	Valid    bool               `json:"valid"`
	Changes  []policies.Change  `json:"changes"`
	Problems []agreementProblem `json:"problems"`
}

type editData struct {
	ID, YAML  string
	Managed   bool
	Previewed bool
	Preview   preview
}

const yamlType = "application/yaml"

// editAgreement is the form with the agreement's file as written.
func (c *Console) editAgreement(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := r.PathValue("id")
	var inForce agreementsInForce
	if a := c.restJSON(r, s, "/v1/operator/agreements", &inForce); c.restFailed(w, r, s, a) {
		return
	}
	a := c.call(c.restHandler(), r, s, http.MethodGet, "/v1/operator/agreements/"+url.PathEscape(id), map[string]string{"Accept": yamlType}, nil)
	if c.restFailed(w, r, s, a) {
		return
	}
	c.render(w, r, http.StatusOK, "agreement_edit", pageData{Title: "agr.edit.title", s: s,
		Data: editData{ID: id, YAML: string(a.Body), Managed: inForce.Managed}})
}

// formYAML is the agreement text of the edit form, with the browser's
// CRLF line ends made LF so the lines the API names are the form's lines.
func formYAML(r *http.Request) string {
	return strings.ReplaceAll(r.PostFormValue("yaml"), "\r\n", "\n")
}

// previewAgreement shows what the edit would change (the diff of lgsp
// policy diff) or its problems by line; nothing is applied.
func (c *Console) previewAgreement(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id, text := r.PathValue("id"), formYAML(r)
	d := editData{ID: id, YAML: text, Managed: true}
	p := pageData{Title: "agr.edit.title", s: s}
	status := c.previewInto(w, r, s, &d, &p)
	if status == 0 {
		return
	}
	p.Data = d
	c.render(w, r, status, "agreement_edit", p)
}

// previewInto asks the API for the preview of d.YAML; it returns the
// status to render with, or 0 when it has answered the request itself.
func (c *Console) previewInto(w http.ResponseWriter, r *http.Request, s *session, d *editData, p *pageData) int {
	a := c.call(c.restHandler(), r, s, http.MethodPost, "/v1/operator/agreements/"+url.PathEscape(d.ID)+"/preview",
		map[string]string{"Content-Type": yamlType}, []byte(d.YAML))
	switch {
	case a.Status == http.StatusConflict:
		d.Managed = false
		return http.StatusConflict
	case a.Status == http.StatusBadRequest || a.Status == http.StatusRequestEntityTooLarge:
		p.FlashErr, p.FlashDetail = "agr.invalid", a.problem()
		return a.Status
	case c.restFailed(w, r, s, a):
		return 0
	}
	if err := json.Unmarshal(a.Body, &d.Preview); err != nil {
		c.restFailed(w, r, s, restAnswer{Status: http.StatusBadGateway, Body: []byte(`{"error":"the API's answer could not be read"}`)})
		return 0
	}
	d.Previewed = true
	if !d.Preview.Valid {
		p.FlashErr = "agr.invalid"
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

// applyAgreement puts the previewed text in force through the API's PUT
// (validated again, written, audited). A refused text comes back to the
// form with its problems by line; nothing changed.
func (c *Console) applyAgreement(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id, text := r.PathValue("id"), formYAML(r)
	a := c.call(c.restHandler(), r, s, http.MethodPut, "/v1/operator/agreements/"+url.PathEscape(id), map[string]string{"Content-Type": yamlType}, []byte(text))
	switch {
	case a.Status == http.StatusOK || a.Status == http.StatusCreated:
		var ch struct {
			Issued map[string]string `json:"kafka_credentials_issued"`
		}
		_ = json.Unmarshal(a.Body, &ch)
		if len(ch.Issued) == 0 {
			http.Redirect(w, r, "/ui/agreements?changed="+url.QueryEscape(id), http.StatusSeeOther)
			return
		}
		// New Kafka passwords are in this answer only: shown now.
		c.agreementsPage(w, r, pageData{Flash: "agr.changed", FlashDetail: id}, ch.Issued)
	case a.Status == http.StatusBadRequest || a.Status == http.StatusUnprocessableEntity || a.Status == http.StatusConflict:
		d := editData{ID: id, YAML: text, Managed: true}
		p := pageData{Title: "agr.edit.title", s: s}
		status := c.previewInto(w, r, s, &d, &p)
		if status == 0 {
			return
		}
		if status == http.StatusOK { // valid now but refused: say why
			status, d.Previewed = a.Status, false
		}
		p.FlashErr, p.FlashDetail = "agr.notapplied", a.problem()
		p.Data = d
		c.render(w, r, status, "agreement_edit", p)
	default:
		c.restFailed(w, r, s, a)
	}
}

// token and certificate are the API's views of credentials.
type token struct {
	ID      string     `json:"id"`
	Agency  string     `json:"agency"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked"`
}

type certificate struct {
	Serial      string     `json:"serial"`
	Agency      string     `json:"agency"`
	System      string     `json:"system"`
	State       string     `json:"state"`
	NotAfter    time.Time  `json:"not_after"`
	Fingerprint string     `json:"fingerprint_sha256"`
	Revoked     *time.Time `json:"revoked"`
}

type agencyRow struct {
	policies.Agency
	Tokens []token
	Certs  []certificate
}

type agenciesData struct {
	Agencies []agencyRow
	TLS      bool
}

// agencies lists the registered agencies with their credentials. The
// token list (an operator route) is what authorizes the page.
func (c *Console) agencies(w http.ResponseWriter, r *http.Request) {
	c.agenciesPage(w, r, http.StatusOK, pageData{})
}

func (c *Console) agenciesPage(w http.ResponseWriter, r *http.Request, status int, p pageData) {
	s := sessionOf(r)
	var toks []token
	if a := c.restJSON(r, s, "/v1/operator/tokens", &toks); c.restFailed(w, r, s, a) {
		return
	}
	var certs []certificate
	a := c.restJSON(r, s, "/v1/operator/certificates", &certs)
	d := agenciesData{TLS: a.Status == http.StatusOK}
	if a.Status != http.StatusOK && a.Status != http.StatusConflict && c.restFailed(w, r, s, a) {
		return
	}
	byAgency := map[string]*agencyRow{}
	if reg := c.registry(); reg != nil {
		for _, ag := range reg.List() {
			d.Agencies = append(d.Agencies, agencyRow{Agency: ag})
		}
	}
	for i := range d.Agencies {
		byAgency[d.Agencies[i].ID] = &d.Agencies[i]
	}
	for _, t := range toks {
		if row := byAgency[t.Agency]; row != nil {
			row.Tokens = append(row.Tokens, t)
		}
	}
	for _, ct := range certs {
		if row := byAgency[ct.Agency]; row != nil {
			row.Certs = append(row.Certs, ct)
		}
	}
	if q := r.URL.Query().Get("revoked"); q != "" && p.Flash == "" && p.FlashErr == "" {
		p.Flash, p.FlashDetail = "cred.revoked", q
	}
	p.Title, p.Data, p.s = "cred.title", d, s
	c.render(w, r, status, "agencies", p)
}

// secretData is a credential shown once.
type secretData struct {
	Kind, Owner string
	Items       []secretItem
}

type secretItem struct {
	Label, Value string
	Multiline    bool
}

func (c *Console) showSecret(w http.ResponseWriter, r *http.Request, status int, d secretData) {
	c.render(w, r, status, "secret", pageData{Title: "secret.title", Data: d, s: sessionOf(r)})
}

// credentialFailed answers a refused credential form on the agencies page
// with the API's reason (4xx), or the error pages.
func (c *Console) credentialFailed(w http.ResponseWriter, r *http.Request, a restAnswer) {
	if a.Status >= 400 && a.Status < 500 && a.Status != http.StatusUnauthorized && a.Status != http.StatusForbidden {
		c.agenciesPage(w, r, a.Status, pageData{FlashErr: "cred.failed", FlashDetail: a.problem()})
		return
	}
	c.restFailed(w, r, sessionOf(r), a)
}

func (c *Console) issueToken(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	agency := r.PathValue("agency")
	a := c.rest(r, s, http.MethodPost, "/v1/operator/agencies/"+url.PathEscape(agency)+"/tokens", nil)
	if a.Status != http.StatusCreated {
		c.credentialFailed(w, r, a)
		return
	}
	var out struct{ ID, Token string }
	_ = json.Unmarshal(a.Body, &out)
	c.showSecret(w, r, http.StatusCreated, secretData{Kind: "secret.token", Owner: agency,
		Items: []secretItem{{Label: "secret.id", Value: out.ID}, {Label: "secret.token", Value: out.Token}}})
}

func (c *Console) revokeToken(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	id := r.PathValue("id")
	a := c.rest(r, s, http.MethodDelete, "/v1/operator/tokens/"+url.PathEscape(id), nil)
	if a.Status != http.StatusNoContent && a.Status != http.StatusOK {
		c.credentialFailed(w, r, a)
		return
	}
	http.Redirect(w, r, "/ui/agencies?revoked="+url.QueryEscape(id), http.StatusSeeOther)
}

func (c *Console) issueCertificate(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	agency := r.PathValue("agency")
	req := map[string]any{}
	if csr := strings.TrimSpace(r.PostFormValue("csr")); csr != "" {
		req["csr"] = csr
	} else {
		req["generate"] = true
	}
	if v := strings.TrimSpace(r.PostFormValue("system")); v != "" {
		req["system"] = v
	}
	if v := strings.TrimSpace(r.PostFormValue("validity")); v != "" {
		req["validity"] = v
	}
	body, _ := json.Marshal(req)
	a := c.rest(r, s, http.MethodPost, "/v1/operator/agencies/"+url.PathEscape(agency)+"/certificates", body)
	if a.Status != http.StatusCreated && a.Status != http.StatusOK {
		c.credentialFailed(w, r, a)
		return
	}
	var out struct {
		Serial        string `json:"serial"`
		Certificate   string `json:"certificate"`
		CACertificate string `json:"ca_certificate"`
		PrivateKey    string `json:"private_key"`
	}
	_ = json.Unmarshal(a.Body, &out)
	items := []secretItem{{Label: "secret.serial", Value: out.Serial}, {Label: "secret.cert", Value: out.Certificate, Multiline: true},
		{Label: "secret.ca", Value: out.CACertificate, Multiline: true}}
	if out.PrivateKey != "" {
		items = append(items, secretItem{Label: "secret.key", Value: out.PrivateKey, Multiline: true})
	}
	c.showSecret(w, r, http.StatusCreated, secretData{Kind: "secret.cert", Owner: agency, Items: items})
}

func (c *Console) rotateKafka(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	user := strings.TrimSpace(r.PostFormValue("user"))
	if user == "" {
		c.agenciesPage(w, r, http.StatusBadRequest, pageData{FlashErr: "cred.failed", FlashDetail: text(langOf(r), "kafka.user")})
		return
	}
	a := c.rest(r, s, http.MethodPost, "/v1/operator/kafka/users/"+url.PathEscape(user)+"/password", nil)
	if a.Status != http.StatusOK {
		c.credentialFailed(w, r, a)
		return
	}
	var out struct{ User, Password, Mechanism string }
	_ = json.Unmarshal(a.Body, &out)
	c.showSecret(w, r, http.StatusOK, secretData{Kind: "secret.kafka", Owner: user,
		Items: []secretItem{{Label: "kafka.user", Value: out.User}, {Label: "secret.password", Value: out.Password}, {Label: "secret.mechanism", Value: out.Mechanism}}})
}
