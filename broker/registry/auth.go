package registry

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/policies"
)

// Realm is the HTTP authentication realm the registry names in
// WWW-Authenticate.
const Realm = "lgsp-registry"

// OperatorUser is the HTTP Basic user name that goes with the operator
// token; an agency's API token goes with the agency's id.
const OperatorUser = "operator"

// Error codes of refused calls, in Confluent's style (status × 100 + n).
const (
	codeUnauthorized = 40101
	codeForbidden    = 40301
	codeAuthDown     = 50301
)

// ErrUnauthenticated is what an Authenticator returns for a credential that
// is not valid: unknown, revoked, or a Basic user that is not the token's
// owner. The client gets 401 and never learns which.
var ErrUnauthenticated = errors.New("registry: credential not valid")

// Credential is what a request presented in its Authorization header.
type Credential struct {
	// Basic is true for HTTP Basic; User is then the user part.
	Basic bool
	User  string
	// Secret is the Basic password or the Bearer token.
	Secret string
}

// Principal is an authenticated caller.
type Principal struct {
	// Name is the caller as the audit log names it: "operator" or the
	// agency id ("anonymous" for an open read).
	Name     string
	Operator bool
	// Active is false for an agency that is suspended or no longer in the
	// agency registry: it is refused everything, as on the REST API.
	Active bool
	// Steward is an agency with the schema_steward role: it may change
	// schemas, compatibility and modes, as the operator may.
	Steward bool
}

// mayChange reports whether p may change the registry.
func (p Principal) mayChange() bool { return p.Operator || (p.Active && p.Steward) }

// Authenticator establishes who presented a credential. It returns
// ErrUnauthenticated (possibly wrapped) for a credential that is not
// valid; any other error means the check itself failed (the client is told
// to retry).
type Authenticator interface {
	Authenticate(ctx context.Context, cred Credential) (Principal, error)
}

// Auditor appends to the bus's audit log; *audit.Log is one.
type Auditor interface {
	Append(ctx context.Context, entries []store.AuditEntry) error
}

// TokenAuth authenticates with the bus's own credentials: the operator
// token, and the agencies' API tokens. Over HTTP Basic the user must be
// "operator" for the operator token and the token's agency id for an API
// token.
type TokenAuth struct {
	// OperatorToken is the bus's operator token ("" disables it).
	OperatorToken string
	// Verify returns the agency an API token belongs to, or
	// credentials.ErrInvalid (credentials.Tokens.Verify).
	Verify func(ctx context.Context, secret string) (agency, id string, err error)
	// Agency is the agency registry entry of id, and whether it has one.
	Agency func(id string) (policies.Agency, bool)
}

// Authenticate implements Authenticator.
func (a TokenAuth) Authenticate(ctx context.Context, cred Credential) (Principal, error) {
	if cred.Secret == "" {
		return Principal{}, ErrUnauthenticated
	}
	if a.OperatorToken != "" && subtle.ConstantTimeCompare([]byte(cred.Secret), []byte(a.OperatorToken)) == 1 {
		if cred.Basic && cred.User != OperatorUser {
			return Principal{}, ErrUnauthenticated
		}
		return Principal{Name: OperatorUser, Operator: true, Active: true}, nil
	}
	if a.Verify == nil {
		return Principal{}, ErrUnauthenticated
	}
	ag, _, err := a.Verify(ctx, cred.Secret)
	if errors.Is(err, credentials.ErrInvalid) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("registry: checking an API token: %w", err)
	}
	if cred.Basic && cred.User != ag {
		return Principal{}, ErrUnauthenticated
	}
	p := Principal{Name: ag}
	if a.Agency != nil {
		if e, ok := a.Agency(ag); ok {
			p.Active = e.State == policies.AgencyActive
			p.Steward = e.HasRole(policies.RoleSchemaSteward)
		}
	}
	return p, nil
}

// HandlerOption configures Handler.
type HandlerOption func(*handlerConfig)

type handlerConfig struct {
	auth          Authenticator
	audit         Auditor
	anonymousRead bool
	metrics       prometheus.Registerer
	denied        *prometheus.CounterVec
}

// WithAuth makes every request authenticate with auth (HTTP Basic or
// Bearer) and audits every change, and every refused change of an
// authenticated caller, in log. Without it the handler is open, as in
// the registry's own tests.
func WithAuth(auth Authenticator, log Auditor) HandlerOption {
	return func(c *handlerConfig) { c.auth, c.audit = auth, log }
}

// WithAnonymousRead lets requests without any credential read (never
// change) the registry. A wrong credential is still refused.
func WithAnonymousRead(on bool) HandlerOption {
	return func(c *handlerConfig) { c.anonymousRead = on }
}

// WithMetrics registers lgsp_registry_denied_total (refused calls by
// status) in reg.
func WithMetrics(reg prometheus.Registerer) HandlerOption {
	return func(c *handlerConfig) { c.metrics = reg }
}

// registryDenied counts refused calls, so a flood of calls without
// credentials shows without growing the audit log (only authenticated
// refusals are audited, as on the REST API).
func registryDenied(reg prometheus.Registerer) *prometheus.CounterVec {
	return metrics.CounterVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_registry_denied_total",
		Help: "Schema registry calls refused by authentication (401) or authorization (403)."}, []string{"status"}))
}

// access is what a route asks of its caller.
type access int

const (
	accessRead     access = iota // any valid credential (or none, with anonymous reads)
	accessChange                 // the operator or a schema steward
	accessRegister               // a change, unless the subject already has the schema (then a lookup)
)

// routeRule is a route's access and the audit action of a change.
type routeRule struct {
	access access
	action string
}

// changeRoutes are the routes that change the registry, by "METHOD
// pattern"; every other route reads (POST /subjects/{s} is a lookup and
// POST /compatibility/… a check).
var changeRoutes = map[string]routeRule{
	"POST /subjects/:subject/versions":            {accessRegister, "schema.register"},
	"DELETE /subjects/:subject":                   {accessChange, "schema.delete"},
	"DELETE /subjects/:subject/versions/:version": {accessChange, "schema.delete"},
	"PUT /config":             {accessChange, "schema.config"},
	"PUT /config/:subject":    {accessChange, "schema.config"},
	"DELETE /config":          {accessChange, "schema.config"},
	"DELETE /config/:subject": {accessChange, "schema.config"},
	"PUT /mode":               {accessChange, "schema.mode"},
	"PUT /mode/:subject":      {accessChange, "schema.mode"},
	"DELETE /mode":            {accessChange, "schema.mode"},
	"DELETE /mode/:subject":   {accessChange, "schema.mode"},
}

// Reason codes of refused changes, as the audit log records them.
const (
	ReasonStewardRequired = "schema_steward_required"
	ReasonAgencyNotActive = policies.ReasonAgencyNotActive
)

// auditDataset is the Dataset of the registry's audit entries, so an
// auditor finds every schema change with one filter.
const auditDataset = "schema_registry"

// Keys of the echo context.
const (
	principalKey = "lgsp.registry.principal"
	configKey    = "lgsp.registry.config"
)

// credentialOf parses the Authorization header. present is false when
// there is none; err is set for one that is not Basic or Bearer or does
// not decode.
func credentialOf(req *http.Request) (cred Credential, present bool, err error) {
	h := req.Header.Get(echo.HeaderAuthorization)
	if h == "" {
		return cred, false, nil
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "bearer":
		return Credential{Secret: rest}, true, nil
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return cred, true, ErrUnauthenticated
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			return cred, true, ErrUnauthenticated
		}
		return Credential{Basic: true, User: user, Secret: pass}, true, nil
	}
	return cred, true, ErrUnauthenticated
}

// unauthorized is the answer to a missing or wrong credential. It is the
// same whatever was wrong, so it never tells whether an agency exists.
func unauthorized(c echo.Context) error {
	h := c.Response().Header()
	h.Add(echo.HeaderWWWAuthenticate, `Basic realm="`+Realm+`"`)
	h.Add(echo.HeaderWWWAuthenticate, `Bearer realm="`+Realm+`"`)
	return &Error{Code: codeUnauthorized, Message: "Unauthorized: send the operator token or your agency's API token, " +
		`as HTTP Basic (basic.auth.user.info=<agency id or "operator">:<token>) or as a bearer token (bearer.auth.token=<token>)`}
}

// authenticate is the middleware in front of every route when WithAuth is
// given: it establishes the caller (401 without a valid credential),
// refuses changes to callers that may not make them (403, audited) and
// keeps the caller for the handlers, which audit the changes they make.
func (cfg *handlerConfig) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(configKey, cfg)
		rule, ok := changeRoutes[c.Request().Method+" "+c.Path()]
		if !ok {
			rule = routeRule{access: accessRead}
		}
		cred, present, err := credentialOf(c.Request())
		if !present && cfg.anonymousRead && rule.access == accessRead {
			c.Set(principalKey, Principal{Name: "anonymous"})
			return next(c)
		}
		if !present || err != nil {
			cfg.denied.WithLabelValues("401").Inc()
			return unauthorized(c)
		}
		p, err := cfg.auth.Authenticate(c.Request().Context(), cred)
		if errors.Is(err, ErrUnauthenticated) {
			cfg.denied.WithLabelValues("401").Inc()
			return unauthorized(c)
		}
		if err != nil {
			return &Error{Code: codeAuthDown, Message: "The credential could not be checked; retry", Err: err}
		}
		c.Set(principalKey, p)
		if !p.Operator && !p.Active {
			return cfg.refuse(c, p, actionOr(rule.action, "schema.read"), ReasonAgencyNotActive,
				fmt.Sprintf("agency %s is suspended or no longer registered; its contact must ask the bus operator", p.Name))
		}
		if rule.access == accessChange && !p.mayChange() {
			return cfg.refuse(c, p, rule.action, ReasonStewardRequired, stewardRequired(p))
		}
		return next(c)
	}
}

func actionOr(a, def string) string {
	if a == "" {
		return def
	}
	return a
}

func stewardRequired(p Principal) string {
	return fmt.Sprintf("changing schemas, compatibility or modes needs the operator token or an agency with the %s role; agency %s has not that role",
		policies.RoleSchemaSteward, p.Name)
}

// subjectOf is the route's subject as the audit log names it.
func subjectOf(c echo.Context) string {
	if c.Param("subject") == "" {
		return "(global)"
	}
	s, err := subjectParam(c)
	if err != nil {
		return c.Param("subject")
	}
	return s
}

// refuse audits a refused call of an authenticated caller and answers 403.
func (cfg *handlerConfig) refuse(c echo.Context, p Principal, action, reason, detail string) error {
	cfg.denied.WithLabelValues("403").Inc()
	e := store.AuditEntry{Time: time.Now(), Actor: p.Name, Action: action, Dataset: auditDataset, Decision: "deny",
		Reason: reason + ": " + c.Request().Method + " " + c.Request().URL.Path, RequestID: subjectOf(c)}
	if err := cfg.audit.Append(c.Request().Context(), []store.AuditEntry{e}); err != nil {
		return &Error{Code: codeAuthDown, Message: "The refusal could not be audited; retry", Err: err}
	}
	return &Error{Code: codeForbidden, Message: "Forbidden: " + reason + ": " + detail}
}

// configOf is the handler configuration of an authenticated handler, nil
// for an open one.
func configOf(c echo.Context) *handlerConfig {
	cfg, _ := c.Get(configKey).(*handlerConfig)
	return cfg
}

// audited records a change in the audit log before it is made, so no
// change is ever made without its entry (the entry records the attempt, as
// a connector reset's does). An open handler audits nothing.
func audited(c echo.Context, what string) error {
	cfg := configOf(c)
	if cfg == nil {
		return nil
	}
	rule := changeRoutes[c.Request().Method+" "+c.Path()]
	p, _ := c.Get(principalKey).(Principal)
	e := store.AuditEntry{Time: time.Now(), Actor: p.Name, Action: rule.action, Dataset: auditDataset, Decision: "allow",
		Reason: c.Request().Method + " " + c.Request().URL.Path + ": " + what, RequestID: subjectOf(c)}
	if err := cfg.audit.Append(c.Request().Context(), []store.AuditEntry{e}); err != nil {
		return &Error{Code: codeAuthDown, Message: "The change could not be audited, so it was not made; retry", Err: err}
	}
	return nil
}

// registerAccess decides a registration once its body is read: a caller
// who may change the registry goes on (the change audited); anyone else
// gets the id when the subject already has the schema, as a lookup would
// answer (so a producer with auto.register.schemas on keeps working), and
// 403 otherwise. done is true when the answer has been given.
func (r *Registry) registerAccess(c echo.Context, subject string, req RegisterRequest) (done bool, err error) {
	cfg := configOf(c)
	if cfg == nil {
		return false, nil
	}
	p, _ := c.Get(principalKey).(Principal)
	if p.mayChange() {
		sum := sha256.Sum256([]byte(req.Schema))
		return false, audited(c, fmt.Sprintf("register a %s schema of %d bytes, sha256 %s", typeOrAvro(req.SchemaType), len(req.Schema),
			hex.EncodeToString(sum[:8])))
	}
	if s, err := r.LookupSchema(c.Request().Context(), subject, req); err == nil {
		return true, writeJSON(c, http.StatusOK, map[string]int{"id": s.ID})
	}
	return true, cfg.refuse(c, p, "schema.register", ReasonStewardRequired, stewardRequired(p))
}

func typeOrAvro(t string) string {
	if t == "" {
		return TypeAvro
	}
	return t
}
