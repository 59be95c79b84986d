// Package console is the bus's own web console, served by the bus under
// /ui/ on the API port from templates and assets embedded in the binary:
// server-rendered pages (html/template) in Vietnamese and English, a small
// script of the project's own for live figures and for checking audit
// proofs in the browser, charts as inline SVG, no request to another origin.
//
// The console adds no way in. A user signs in with a credential the bus
// already knows (the operator token, an agency's API token or a citizen's
// e-ID token); every page then calls the REST API in-process with that
// credential (rest.go), so the API's own role checks, audit entries and
// error answers apply unchanged. A 403 of the API is a refusal page, a 401
// ends the session.
//
// Sessions are kept server-side in memory, keyed by a random id; the cookie
// carries only that id and its HMAC-SHA256 under a key drawn at start, so
// the raw credential never leaves the bus and a restart signs everyone out.
package console

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/policies"
	"github.com/prometheus/client_golang/prometheus"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Kind is what a signed-in user's credential is.
type Kind string

const (
	KindOperator Kind = "operator"
	KindAgency   Kind = "agency"
	KindCitizen  Kind = "citizen"
)

// Deps is what the console needs from the bus. The credential checks are
// the same functions the REST API authenticates with; they only tell the
// console whose session it opens (and which pages to offer): every page's
// data comes from the REST API, which authorizes each call.
type Deps struct {
	// API is the REST API's handler, called in-process with the session's
	// credential (set with SetAPI when the API is built after the console).
	API http.Handler
	// Schemas is the schema registry's handler (it has a listener of its
	// own), called in-process with the session's credential like the API,
	// so the registry's own checks apply (nil: no schema pages).
	Schemas http.Handler
	// OperatorToken is the bus's operator token.
	OperatorToken string
	// AgencyToken verifies an agency's API token and returns the agency.
	AgencyToken func(ctx context.Context, token string) (string, error)
	// CitizenToken verifies a citizen's e-ID token (nil: no citizen sign-in).
	CitizenToken func(token string) (string, error)
	// Registry is the agency registry in force, for full agency names.
	Registry func() *policies.Agencies
	// AuditSize is the number of entries in the access log (overview page).
	AuditSize func() int64
	// Metrics receives lgsp_console_signin_failures_total (nil: not exported).
	Metrics *prometheus.Registry
	// TLS marks cookies Secure (the API listener serves HTTPS).
	TLS bool
	// SessionIdle and SessionMax end a session after this long without a
	// request, and this long after sign-in (defaults 30 minutes and 8 hours).
	SessionIdle, SessionMax time.Duration
	// Now is the clock (tests); nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Console is the console's http.Handler, mounted at /ui/.
type Console struct {
	d        Deps
	mu       sync.RWMutex
	api      http.Handler
	key      []byte // HMAC key of session cookies and CSRF tokens
	sessions *sessions
	limiter  *limiter
	failures prometheus.Counter
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// New builds the console. The API handler may be given later with SetAPI.
func New(d Deps) (*Console, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.SessionIdle == 0 {
		d.SessionIdle = 30 * time.Minute
	}
	if d.SessionMax == 0 {
		d.SessionMax = 8 * time.Hour
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{d: d, api: d.API, key: make([]byte, 32), sessions: newSessions(), limiter: newLimiter()}
	if _, err := rand.Read(c.key); err != nil {
		return nil, err
	}
	c.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "lgsp_console_signin_failures_total",
		Help: "Console sign-ins refused: a wrong, expired or revoked credential, or too many attempts from one address."})
	if d.Metrics != nil {
		if err := d.Metrics.Register(c.failures); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			c.failures = are.ExistingCollector.(prometheus.Counter)
		}
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

// SetAPI gives the console the REST API it calls.
func (c *Console) SetAPI(h http.Handler) {
	c.mu.Lock()
	c.api = h
	c.mu.Unlock()
}

func (c *Console) restHandler() http.Handler {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.api
}

func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /ui/{$}", c.home)
	m.HandleFunc("GET /ui/lang/{lang}", c.setLang)
	m.HandleFunc("GET /ui/signin", c.signinPage)
	m.HandleFunc("POST /ui/signin", c.signin)
	m.HandleFunc("POST /ui/signout", c.withSession(c.signout))
	m.HandleFunc("GET /ui/overview", c.withSession(c.overview))
	m.HandleFunc("GET /ui/live/status", c.withSession(c.liveStatus))
	m.HandleFunc("GET /ui/connectors", c.withSession(c.connectors))
	m.HandleFunc("POST /ui/connectors/{name}/reset", c.withSession(c.resetConnector))
	m.HandleFunc("GET /ui/audit", c.withSession(c.audit))
	m.HandleFunc("GET /ui/audit/export", c.withSession(c.auditExport))
	m.HandleFunc("GET /ui/me", c.withSession(c.citizen))
	m.HandleFunc("GET /ui/agreements", c.withSession(c.agreements))
	m.HandleFunc("GET /ui/agreements/{id}/edit", c.withSession(c.editAgreement))
	m.HandleFunc("POST /ui/agreements/{id}/preview", c.withSession(c.previewAgreement))
	m.HandleFunc("POST /ui/agreements/{id}/apply", c.withSession(c.applyAgreement))
	m.HandleFunc("GET /ui/agencies", c.withSession(c.agencies))
	m.HandleFunc("POST /ui/agencies/{agency}/tokens", c.withSession(c.issueToken))
	m.HandleFunc("POST /ui/agencies/{agency}/certificates", c.withSession(c.issueCertificate))
	m.HandleFunc("POST /ui/tokens/{id}/revoke", c.withSession(c.revokeToken))
	m.HandleFunc("POST /ui/kafka/password", c.withSession(c.rotateKafka))
	m.HandleFunc("GET /ui/schemas", c.withSession(c.schemas))
	m.HandleFunc("GET /ui/schemas/{subject}", c.withSession(c.schema))
	m.HandleFunc("POST /ui/schemas/{subject}/check", c.withSession(c.checkSchema))
	m.HandleFunc("GET /ui/review", c.withSession(c.reviewList))
	m.HandleFunc("GET /ui/review/{id}", c.withSession(c.reviewItem))
	m.HandleFunc("POST /ui/review/{id}/{decision}", c.withSession(c.reviewDecide))
	m.HandleFunc("GET /ui/quality", c.withSession(c.quality))
	m.HandleFunc("GET /ui/quality/items", c.withSession(c.qualityItems))
	m.HandleFunc("GET /ui/quality/items/{id}", c.withSession(c.qualityItem))
	m.HandleFunc("POST /ui/quality/items/{id}/resubmit", c.withSession(c.qualityResubmit))
	m.HandleFunc("POST /ui/quality/items/{id}/discard", c.withSession(c.qualityDiscard))
	m.HandleFunc("/ui/", c.notFound)
	c.mux = m
}

// ServeHTTP answers every console request with the security headers: a
// strict CSP (no inline script or style, nothing from another origin), no
// framing, no referrer, no caching of pages that hold personal data.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if c.d.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	c.mux.ServeHTTP(w, r)
}
