package console

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/lgsp-bus/lgsp/policies"
)

// pageData is what every template gets; Title, Message and the flashes
// are message keys, Detail is text from the API shown as is.
type pageData struct {
	Title, Message, Detail string
	Flash, FlashErr        string
	FlashDetail            string
	Lang                   Lang
	Path                   string
	CSRF                   string
	Data                   any
	s                      *session
	c                      *Console
}

// T is a message in the page's language.
func (p pageData) T(key string) string { return text(p.Lang, key) }

// Other is the language the switch offers.
func (p pageData) Other() Lang {
	if p.Lang == English {
		return Vietnamese
	}
	return English
}

// Wait is the seconds a slowed sign-in must wait.
func (p pageData) Wait() int {
	if d, ok := p.Data.(signinData); ok {
		return d.Wait
	}
	return 0
}

// SignedIn tells the layout to show the navigation and the sign-out form.
func (p pageData) SignedIn() bool { return p.s != nil }

// Who names the signed-in user in the page's language.
func (p pageData) Who() string {
	switch {
	case p.s == nil:
		return ""
	case p.s.kind == KindOperator:
		return p.T("role.operator")
	case p.s.kind == KindCitizen:
		return p.T("role.citizen")
	}
	return p.Agency(p.s.who)
}

type navItem struct{ Href, Label string }

// Nav is the pages offered to the user's kind. It only saves the user a
// refusal page: each page's data is authorized by the REST API.
func (p pageData) Nav() []navItem {
	if p.s == nil {
		return nil
	}
	var keys []string
	switch p.s.kind {
	case KindOperator:
		keys = []string{"overview", "connectors", "audit", "agreements", "agencies", "schemas", "review", "quality"}
	case KindAgency:
		keys = []string{"overview", "agreements", "schemas"}
		if reg := p.c.registry(); reg != nil {
			if a, ok := reg.Get(p.s.who); ok && a.HasRole("auditor") {
				keys = append(keys, "audit")
			}
			if a, ok := reg.Get(p.s.who); ok && len(a.Sources) > 0 {
				keys = append(keys, "quality") // a ministry: its sources' data quality
			}
		}
	case KindCitizen:
		keys = []string{"me"}
	}
	out := make([]navItem, len(keys))
	for i, k := range keys {
		out[i] = navItem{"/ui/" + k, p.T("nav." + k)}
	}
	return out
}

// Agency is an agency's full name in the page's language.
func (p pageData) Agency(id string) string {
	if reg := p.c.registry(); reg != nil {
		if a, ok := reg.Get(id); ok && a.Name != "" {
			return agencyName(a.Name, p.Lang)
		}
	}
	return id
}

// Date is a time in Vietnamese format.
func (p pageData) Date(t time.Time) string { return formatTime(t) }

// Sentence is text ending a sentence, without its own final stop.
func (p pageData) Sentence(s string) string { return strings.TrimRight(strings.TrimSpace(s), ".") }

// State is a connector's state in words.
func (p pageData) State(s string) string {
	if _, ok := messages["state."+s]; ok {
		return p.T("state." + s)
	}
	return s
}

// Action is an audit action in plain words.
func (p pageData) Action(a string) string {
	if _, ok := messages["act."+a]; ok {
		return p.T("act." + a)
	}
	return a
}

// AgencyState is an agency's registry state in words.
func (p pageData) AgencyState(s string) string {
	if _, ok := messages["agstate."+s]; ok {
		return p.T("agstate." + s)
	}
	return s
}

// Level is a linkage comparison level in words.
func (p pageData) Level(s string) string {
	if _, ok := messages["level."+s]; ok {
		return p.T("level." + s)
	}
	return s
}

func (c *Console) registry() *policies.Agencies {
	if c.d.Registry == nil {
		return nil
	}
	return c.d.Registry()
}

var pageNames = []string{"signin", "message", "overview", "connectors", "audit", "me", "agreements",
	"agreement_edit", "agencies", "secret", "schemas", "schema", "review", "review_item",
	"quality", "quality_items", "quality_item"}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(template.FuncMap{"list": func(xs ...string) []string { return xs }, "Pct": Pct}).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page; the buffer keeps a template error from sending
// half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, p pageData) {
	p.Lang, p.c, p.Path = langOf(r), c, r.URL.Path
	if p.s != nil {
		p.CSRF = p.s.csrf
	}
	var buf bytes.Buffer
	if err := c.pages[page].Execute(&buf, p); err != nil {
		c.d.Logger.Error("console: page failed", "page", page, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	s, _ := c.current(r)
	c.render(w, r, http.StatusNotFound, "message", pageData{Title: "notfound.title", Message: "notfound.body", s: s})
}

// home sends each user to their first page.
func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	s, ok := c.current(r)
	if !ok {
		http.Redirect(w, r, "/ui/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, firstPage(s), http.StatusSeeOther)
}

func firstPage(s *session) string {
	switch s.kind {
	case KindOperator:
		return "/ui/overview"
	case KindCitizen:
		return "/ui/me"
	}
	return "/ui/overview"
}

// setLang is the language switch: a preference cookie, then back.
func (c *Console) setLang(w http.ResponseWriter, r *http.Request) {
	l := Vietnamese
	if r.PathValue("lang") == string(English) {
		l = English
	}
	ck := c.cookie(langCookie, string(l), 365*24*time.Hour)
	ck.HttpOnly = true
	http.SetCookie(w, ck)
	back := r.URL.Query().Get("back")
	if !strings.HasPrefix(back, "/ui/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = "/ui/"
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

type signinData struct{ Wait int }

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	p := pageData{Title: "signin.title", CSRF: "", Data: signinData{}}
	switch {
	case r.URL.Query().Get("expired") != "":
		p.FlashErr = "signin.expired"
	case r.URL.Query().Get("out") != "":
		p.Flash = "signin.out"
	}
	c.renderSignin(w, r, http.StatusOK, p)
}

func (c *Console) renderSignin(w http.ResponseWriter, r *http.Request, status int, p pageData) {
	tok := c.preToken(w, r)
	p.Title = "signin.title"
	p.Lang, p.c, p.Path = langOf(r), c, r.URL.Path
	var buf bytes.Buffer
	p.CSRF = tok
	if err := c.pages["signin"].Execute(&buf, p); err != nil {
		c.d.Logger.Error("console: page failed", "page", "signin", "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// signin opens a session for a credential the bus accepts. Every failure
// gets the same words (nothing tells whether an agency exists), is
// counted, and slows the address down.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	if !c.validPreCSRF(r) {
		c.render(w, r, http.StatusForbidden, "message", pageData{Title: "csrf.title", Message: "csrf.body"})
		return
	}
	addr, now := clientAddr(r), c.d.Now()
	if wait := c.limiter.wait(addr, now); wait > 0 {
		c.failures.Inc()
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", itoa(secs))
		c.renderSignin(w, r, http.StatusTooManyRequests, pageData{FlashErr: "signin.slow", Data: signinData{Wait: secs}})
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	kind, who, ok := c.identify(r, token)
	if !ok {
		c.failures.Inc()
		c.limiter.fail(addr, now)
		c.renderSignin(w, r, http.StatusUnauthorized, pageData{FlashErr: "signin.failed", Data: signinData{}})
		return
	}
	c.limiter.succeed(addr)
	if old, ok := c.current(r); ok {
		c.close(w, old)
	}
	http.SetCookie(w, c.cookie(preCookie, "", -1))
	s := c.open(w, kind, who, token)
	http.Redirect(w, r, firstPage(s), http.StatusSeeOther)
}

// identify tells whose credential token is, with the checks the REST API
// authenticates with (constant-time for the operator token).
func (c *Console) identify(r *http.Request, token string) (Kind, string, bool) {
	if token == "" || len(token) > 4096 {
		return "", "", false
	}
	if c.d.OperatorToken != "" && len(token) == len(c.d.OperatorToken) && constantEqual(token, c.d.OperatorToken) {
		return KindOperator, "operator", true
	}
	if c.d.AgencyToken != nil {
		if ag, err := c.d.AgencyToken(r.Context(), token); err == nil {
			return KindAgency, ag, true
		}
	}
	if c.d.CitizenToken != nil {
		if _, err := c.d.CitizenToken(token); err == nil {
			return KindCitizen, "", true
		}
	}
	return "", "", false
}

func (c *Console) signout(w http.ResponseWriter, r *http.Request) {
	c.close(w, sessionOf(r))
	http.Redirect(w, r, "/ui/signin?out=1", http.StatusSeeOther)
}

// status is /v1/status as the API answers it.
type status struct {
	RecordsIn    uint64            `json:"records_in"`
	Published    uint64            `json:"published"`
	DeadLettered uint64            `json:"dead_lettered"`
	Delivered    uint64            `json:"delivered"`
	Identity     map[string]uint64 `json:"identity"`
	Connectors   []runtime.State   `json:"connectors"`
	Population   int64             `json:"population"`
	Instance     string            `json:"instance"`
	Flow         *metrics.Flow     `json:"flow"` // nil: a bus without it
}

type checkpoint struct {
	Size int64     `json:"size"`
	Time time.Time `json:"time"`
	Root string    `json:"root"`
}

type bar struct {
	Key, Label string
	Value      uint64
	Width, Y   int
}

type overviewData struct {
	Flow, Identity          []bar
	Up, Backoff, Other      int
	AuditSize               int64
	Checkpoint              *checkpoint
	Population              int64
	Connectors              []runtime.State
	ChartHeight, IdentityHi int
	PerDataset              *flowData // per dataset and agency (flow.go)
}

// bars lays out a horizontal bar chart 300 units wide at most.
func bars(items []bar) []bar {
	var top uint64
	for _, b := range items {
		top = max(top, b.Value)
	}
	for i := range items {
		items[i].Y = i * 30
		if top > 0 {
			items[i].Width = int(items[i].Value * 300 / top)
		}
		if items[i].Value > 0 && items[i].Width < 2 {
			items[i].Width = 2
		}
	}
	return items
}

func (c *Console) overviewOf(r *http.Request, s *session) (overviewData, restAnswer) {
	var st status
	a := c.restJSON(r, s, "/v1/status", &st)
	if a.Status != http.StatusOK {
		return overviewData{}, a
	}
	l := langOf(r)
	d := overviewData{Population: st.Population, Connectors: st.Connectors}
	if st.Flow != nil {
		fd := flowOf(l, st.Instance, *st.Flow, pageData{Lang: l, c: c}.Agency)
		fd.Stale = fd.Measured != nil && c.d.Now().Sub(*fd.Measured) > staleAfter
		d.PerDataset = &fd
	}
	d.Flow = bars([]bar{{"records_in", text(l, "records_in"), st.RecordsIn, 0, 0}, {"published", text(l, "published"), st.Published, 0, 0},
		{"dead_lettered", text(l, "dead_lettered"), st.DeadLettered, 0, 0}, {"delivered", text(l, "delivered"), st.Delivered, 0, 0}})
	keys := make([]string, 0, len(st.Identity))
	for k := range st.Identity {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Identity = append(d.Identity, bar{Key: "identity." + k, Label: k, Value: st.Identity[k]})
	}
	d.Identity = bars(d.Identity)
	d.ChartHeight, d.IdentityHi = len(d.Flow)*30, max(len(d.Identity)*30, 30)
	for _, cs := range st.Connectors {
		switch cs.Status {
		case "running":
			d.Up++
		case "backoff":
			d.Backoff++
		default:
			d.Other++
		}
	}
	if c.d.AuditSize != nil {
		d.AuditSize = c.d.AuditSize()
	}
	var cp checkpoint
	if c.restJSON(r, s, "/v1/audit/checkpoint", &cp).Status == http.StatusOK {
		d.Checkpoint = &cp
	}
	return d, a
}

// overview is the operator's (and any agency's) view of the bus's
// figures: the API's /v1/status decides who may see it.
func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	d, a := c.overviewOf(r, s)
	if c.restFailed(w, r, s, a) {
		return
	}
	c.render(w, r, http.StatusOK, "overview", pageData{Title: "overview.title", Data: d, s: s})
}

// liveStatus feeds the overview's script: the figures by key.
func (c *Console) liveStatus(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	d, a := c.overviewOf(r, s)
	w.Header().Set("Cache-Control", "no-store")
	if a.Status != http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.Status)
		_, _ = w.Write(a.Body)
		return
	}
	figs := map[string]any{"audit_size": d.AuditSize, "population": d.Population, "up": d.Up, "backoff": d.Backoff, "other": d.Other}
	for _, b := range append(append([]bar{}, d.Flow...), d.Identity...) {
		figs[b.Key] = map[string]any{"value": b.Value, "width": b.Width}
	}
	if d.PerDataset != nil {
		for _, f := range d.PerDataset.figures() {
			figs[f.Key] = f.Text
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(figs)
}

type connectorsData struct {
	Connectors []runtime.State
	Done       string
}

func (c *Console) connectorsPage(w http.ResponseWriter, r *http.Request, status int, p pageData) {
	s := sessionOf(r)
	var list []runtime.State
	if a := c.restJSON(r, s, "/v1/connectors", &list); c.restFailed(w, r, s, a) {
		return
	}
	p.Title, p.s = "conn.title", s
	p.Data = connectorsData{Connectors: list, Done: r.URL.Query().Get("reset")}
	c.render(w, r, status, "connectors", p)
}

func (c *Console) connectors(w http.ResponseWriter, r *http.Request) {
	p := pageData{}
	if r.URL.Query().Get("reset") != "" {
		p.Flash = "conn.reset.done"
	}
	c.connectorsPage(w, r, http.StatusOK, p)
}

// resetConnector is the REST reset (same role check, same audit entry)
// from a form.
func (c *Console) resetConnector(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	name := r.PathValue("name")
	body, _ := json.Marshal(map[string]string{"position": strings.TrimSpace(r.PostFormValue("position")), "reason": r.PostFormValue("reason")})
	a := c.rest(r, s, http.MethodPost, "/v1/connectors/"+url.PathEscape(name)+"/reset", body)
	switch {
	case a.Status == http.StatusOK:
		http.Redirect(w, r, "/ui/connectors?reset="+url.QueryEscape(name), http.StatusSeeOther)
	case a.Status == http.StatusBadRequest || a.Status == http.StatusNotFound:
		c.connectorsPage(w, r, a.Status, pageData{FlashErr: "conn.reset.failed", FlashDetail: a.problem()})
	default:
		c.restFailed(w, r, s, a)
	}
}

// entryView is an audit entry with what the page's proof check needs.
type entryView struct {
	store.AuditEntry
	TimeUTC, HiddenUTC, HashHex, PrevHex, FieldsJSON string
}

type dataset struct {
	Name string `json:"name"`
}

type auditData struct {
	Q                                      url.Values
	Searched                               bool
	Entries                                []entryView
	Agencies                               []agencyOption
	Datasets                               []string
	ExportNDJSON, ExportCSV                string
	Citizen, Agency, Dataset, Since, Until string
}

type agencyOption struct{ ID, Name string }

// auditQuery turns the form into the REST search's query: dates are
// days in Vietnam time, the end day included.
func auditQuery(form url.Values) (url.Values, string) {
	q := url.Values{}
	for _, k := range []string{"citizen", "agency", "dataset"} {
		if v := strings.TrimSpace(form.Get(k)); v != "" {
			q.Set(k, v)
		}
	}
	if v := form.Get("since"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, vietnam)
		if err != nil {
			return nil, "since"
		}
		q.Set("since", t.Format(time.RFC3339))
	}
	if v := form.Get("until"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, vietnam)
		if err != nil {
			return nil, "until"
		}
		q.Set("until", t.AddDate(0, 0, 1).Format(time.RFC3339))
	}
	return q, ""
}

// audit is the auditor's search. The search runs only with the session's
// CSRF token in the query, since the API records every search.
func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	form := r.URL.Query()
	l := langOf(r)
	d := auditData{Citizen: form.Get("citizen"), Agency: form.Get("agency"), Dataset: form.Get("dataset"), Since: form.Get("since"), Until: form.Get("until")}
	if reg := c.registry(); reg != nil {
		for _, a := range reg.List() {
			d.Agencies = append(d.Agencies, agencyOption{a.ID, agencyName(a.Name, l)})
		}
	}
	searching := form.Get("search") != ""
	if searching && !constantEqual(form.Get(csrfField), s.csrf) {
		c.render(w, r, http.StatusForbidden, "message", pageData{Title: "csrf.title", Message: "csrf.body", s: s})
		return
	}
	var ds []dataset
	if a := c.restJSON(r, s, "/v1/datasets", &ds); c.restFailed(w, r, s, a) {
		return
	}
	for _, x := range ds {
		d.Datasets = append(d.Datasets, x.Name)
	}
	p := pageData{Title: "audit.title", s: s}
	if searching {
		q, bad := auditQuery(form)
		if bad != "" {
			p.FlashErr, p.FlashDetail = "error.title", bad+": dd/mm/yyyy"
			d.Searched = false
		} else {
			q.Set("order", "newest")
			q.Set("limit", "50")
			var res struct {
				Entries []store.AuditEntry `json:"entries"`
			}
			a := c.restJSON(r, s, "/v1/audit?"+q.Encode(), &res)
			if a.Status == http.StatusBadRequest {
				p.FlashErr, p.FlashDetail = "error.title", a.problem()
			} else if c.restFailed(w, r, s, a) {
				return
			} else {
				d.Searched = true
				for _, e := range res.Entries {
					d.Entries = append(d.Entries, view(e))
				}
				q.Del("order")
				q.Del("limit")
				q.Set(csrfField, s.csrf)
				q.Set("format", "ndjson")
				d.ExportNDJSON = "/ui/audit/export?" + q.Encode()
				q.Set("format", "csv")
				d.ExportCSV = "/ui/audit/export?" + q.Encode()
			}
		}
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "audit", p)
}

func view(e store.AuditEntry) entryView {
	v := entryView{AuditEntry: e, TimeUTC: e.Time.UTC().Format(time.RFC3339Nano), HashHex: hex.EncodeToString(e.Hash), PrevHex: hex.EncodeToString(e.PrevHash)}
	if !e.HiddenUntil.IsZero() {
		v.HiddenUTC = e.HiddenUntil.UTC().Format(time.RFC3339Nano)
	}
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	b, _ := json.Marshal(fields)
	v.FieldsJSON = string(b)
	return v
}

// auditExport is the REST export, streamed as the API writes it.
func (c *Console) auditExport(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	form := r.URL.Query()
	if !constantEqual(form.Get(csrfField), s.csrf) {
		c.render(w, r, http.StatusForbidden, "message", pageData{Title: "csrf.title", Message: "csrf.body", s: s})
		return
	}
	q, bad := auditQuery(form)
	if bad != "" {
		http.Error(w, bad+" must be a date", http.StatusBadRequest)
		return
	}
	if f := form.Get("format"); f != "" {
		q.Set("format", f)
	}
	c.streamREST(w, r, s, "/v1/audit/export?"+q.Encode())
}

type access struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Agency     string    `json:"agency"`
	Action     string    `json:"action"`
	Dataset    string    `json:"dataset"`
	Fields     []string  `json:"fields"`
	Purpose    string    `json:"purpose"`
	LegalBasis string    `json:"legal_basis"`
	Agreement  string    `json:"agreement"`
}

// citizen is "who looked at my data": the REST citizen view, in words.
func (c *Console) citizen(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	var res struct {
		Accesses []access `json:"accesses"`
	}
	if a := c.restJSON(r, s, "/v1/citizen/accesses", &res); c.restFailed(w, r, s, a) {
		return
	}
	c.render(w, r, http.StatusOK, "me", pageData{Title: "me.title", Data: res.Accesses, s: s})
}

// agreement is an agreement as GET /v1/agreements lists it.
type agreement struct {
	ID, Dataset, Consumer, Title, Mode string
	LegalBasis                         string `json:"legal_basis"`
	Purposes, Fields                   []string
	ValidFrom                          any `json:"valid_from"`
	ValidUntil                         any `json:"valid_until"`
}
