package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/prometheus/client_golang/prometheus"
)

// Role is what a route asks of its caller. Every route has exactly one (see
// routeRoles); a route that is not listed is for the operator only, so a
// route added without thought is closed, not open.
type Role string

const (
	// RolePublic needs no credential; such routes reveal no personal data
	// (health, metrics, the OpenAPI document, the audit log's public key,
	// signed checkpoints and Merkle proofs, which are hashes).
	RolePublic Role = "public"
	// RoleCitizen needs a citizen's e-ID token, which the handler checks.
	RoleCitizen Role = "citizen"
	// RoleAny needs the operator token or the API token of an active agency.
	RoleAny Role = "any"
	// RoleAgency needs the API token of an active agency; its agreements
	// then decide (lookup, verify).
	RoleAgency Role = "agency"
	// RoleSource needs the API token of the active agency that owns the
	// route's {source} (policies.Agency.Sources).
	RoleSource Role = "source"
	// RoleAuditor needs the operator token or the API token of an active
	// agency with the auditor role.
	RoleAuditor Role = "auditor"
	// RoleOperator needs the operator token.
	RoleOperator Role = "operator"
)

// routeRule is a route's role and the audit action of a denied call.
type routeRule struct {
	Role   Role
	Action string
}

// routeRoles maps "METHOD /path" (echo's route pattern) to its rule. Every
// path under /v1/operator/ not listed here is RoleOperator as well.
var routeRoles = map[string]routeRule{
	"GET /healthz":                        {RolePublic, ""},
	"GET /readyz":                         {RolePublic, ""},
	"GET /metrics":                        {RolePublic, ""},
	"GET /openapi.json":                   {RolePublic, ""},
	"GET /v1/audit/public-key":            {RolePublic, ""},
	"GET /v1/audit/checkpoint":            {RolePublic, ""},
	"GET /v1/audit/proofs/inclusion":      {RolePublic, ""},
	"GET /v1/audit/proofs/consistency":    {RolePublic, ""},
	"GET /v1/citizen/accesses":            {RoleCitizen, ""},
	"GET /":                               {RolePublic, ""}, // the console: its pages call this API
	"GET /ui/*":                           {RolePublic, ""}, // with the session's credential
	"POST /ui/*":                          {RolePublic, ""},
	"GET /v1/status":                      {RoleAny, "read.status"},
	"GET /v1/datasets":                    {RoleAny, "read.datasets"},
	"GET /v1/connectors":                  {RoleAny, "read.connectors"},
	"GET /v1/connectors/:name":            {RoleAny, "read.connectors"},
	"GET /v1/agreements":                  {RoleAny, "read.agreements"},
	"POST /v1/connectors/:name/reset":     {RoleOperator, "connector.reset"},
	"POST /v1/sources/:source/records":    {RoleSource, "ingest"},
	"POST /v1/lookup":                     {RoleAgency, "lookup"},
	"POST /v1/verify":                     {RoleAgency, "verify"},
	"GET /v1/audit":                       {RoleAuditor, "audit.search"},
	"GET /v1/audit/export":                {RoleAuditor, "audit.export"},
	"POST /v1/operator/agreements/reload": {RoleOperator, "operator"},

	// data quality and redrive (quality.go): an agency sees and acts on its
	// own sources only, the handler decides per item
	"GET /v1/quality":                     {RoleAny, "quality.read"},
	"GET /v1/quality/items":               {RoleAny, "quality.read"},
	"GET /v1/quality/items/:id":           {RoleAny, "quality.read"},
	"POST /v1/quality/items/:id/resubmit": {RoleAny, "quality.resubmit"},
	"POST /v1/quality/items/:id/discard":  {RoleAny, "quality.discard"},
	"POST /v1/quality/resubmissions":      {RoleAny, "quality.resubmit"},
	"GET /v1/quality/resubmissions":       {RoleAny, "quality.read"},
	"GET /v1/quality/resubmissions/:id":   {RoleAny, "quality.read"},

	// the console's look before an agreement edit is applied
	"POST /v1/operator/agreements/:id/preview": {RoleOperator, "operator"},
}

// operatorPrefix marks the operator's routes.
const operatorPrefix = "/v1/operator/"

// ruleFor returns the rule of a route pattern; ok is false for a request
// that matched no route (echo answers 404 or 405 itself).
func ruleFor(method, path string) (routeRule, bool) {
	if r, ok := routeRoles[method+" "+path]; ok {
		return r, true
	}
	if path == "" {
		return routeRule{}, false
	}
	if strings.HasPrefix(path, operatorPrefix) || path == strings.TrimSuffix(operatorPrefix, "/") {
		return routeRule{RoleOperator, "operator"}, true
	}
	for k := range routeRoles {
		if strings.HasSuffix(k, " "+path) {
			return routeRule{}, false // another method of a known route: 405
		}
	}
	return routeRule{RoleOperator, "operator"}, true
}

// Caller is who makes a call, as established by handlers.caller.
type Caller struct {
	// Operator is true for the operator token.
	Operator bool
	// Agency is the calling agency (empty for the operator) and its
	// registry entry; Registered is false if the registry no longer has it.
	Agency     string
	Entry      policies.Agency
	Registered bool
}

// Name is the caller as the audit log names it.
func (c Caller) Name() string {
	if c.Operator {
		return "operator"
	}
	return c.Agency
}

// Reason codes of a denied call (403). They are stable: the audit log
// records them.
const (
	ReasonOperatorRequired = "operator_required"     // only the operator token may call
	ReasonAgencyRequired   = "agency_required"       // an agency's own token must call (lookup, verify)
	ReasonAuditorRequired  = "auditor_role_required" // an auditor agency or the operator
	ReasonNotSourceOwner   = "not_source_owner"      // the caller does not own the source
	ReasonSourceUnowned    = "source_has_no_owner"   // the registry names no owner for the source
	ReasonAgencyNotActive  = policies.ReasonAgencyNotActive
)

// decision is the outcome of authorize.
type decision struct {
	Allow  bool
	Reason string // reason code when denied
	Detail string // what to do about it
}

// authorize decides whether caller may call a route of role. source is the
// route's {source} parameter and known whether the catalog has it; reg is
// the agency registry in force. It is a pure function: the decision matrix
// test calls it for every route and kind of caller.
func authorize(role Role, caller Caller, source string, known bool, reg *policies.Agencies) decision {
	allow := decision{Allow: true}
	if role == RolePublic || role == RoleCitizen {
		return allow
	}
	if caller.Operator {
		switch role {
		case RoleAny, RoleAuditor, RoleOperator:
			return allow
		case RoleAgency:
			return decision{Reason: ReasonAgencyRequired, Detail: "the operator has no agreements; call with the API token of the agency that has the agreement"}
		case RoleSource:
			return decision{Reason: ReasonNotSourceOwner, Detail: "records are pushed by the agency that owns the source, with its own API token; issue one with POST /v1/operator/agencies/{agency}/tokens"}
		}
		return decision{Reason: ReasonOperatorRequired, Detail: "unknown role"}
	}
	if role == RoleOperator {
		return decision{Reason: ReasonOperatorRequired, Detail: "this route needs the operator token (api.operator_token, or <data-dir>/operator.token)"}
	}
	if !caller.Registered || caller.Entry.State != policies.AgencyActive {
		return decision{Reason: ReasonAgencyNotActive, Detail: fmt.Sprintf("agency %s is suspended or no longer registered; its contact must ask the bus operator", caller.Agency)}
	}
	switch role {
	case RoleAny, RoleAgency:
		return allow
	case RoleAuditor:
		if caller.Entry.HasRole(policies.RoleAuditor) {
			return allow
		}
		return decision{Reason: ReasonAuditorRequired, Detail: fmt.Sprintf("agency %s has no auditor role in the agencies file", caller.Agency)}
	case RoleSource:
		if !known {
			return allow // the handler answers 404 with the known sources
		}
		owner, ok := reg.SourceOwner(source)
		if !ok {
			return decision{Reason: ReasonSourceUnowned, Detail: fmt.Sprintf("no agency owns source %s in the agencies file; the operator must add it to the sources of the agency that runs it", source)}
		}
		if owner.ID != caller.Agency {
			return decision{Reason: ReasonNotSourceOwner, Detail: fmt.Sprintf("source %s is pushed only by its owner, %s", source, owner.ID)}
		}
		return allow
	}
	return decision{Reason: ReasonOperatorRequired, Detail: "unknown role"}
}

// callerKey is where the authorized caller is kept in the echo context.
const callerKey = "lgsp.caller"

// callerOf is the caller the authorize middleware established.
func callerOf(c echo.Context) Caller {
	cl, _ := c.Get(callerKey).(Caller)
	return cl
}

// registry is the agency registry in force (empty when none is given).
func (h *handlers) registry() *policies.Agencies {
	if h.d.Registry != nil {
		if r := h.d.Registry.Agencies(); r != nil {
			return r
		}
	}
	return emptyRegistry
}

var emptyRegistry, _ = policies.ParseAgencies("none", []byte("agencies: []\n"))

// authorizeRoute is the middleware in front of every route: it establishes
// the caller (401 without a valid credential), applies the route's role
// (403 naming the reason, audited like a denied lookup), and keeps the
// caller for the handler.
func (h *handlers) authorizeRoute(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rule, ok := ruleFor(c.Request().Method, c.Path())
		if !ok || rule.Role == RolePublic || rule.Role == RoleCitizen {
			return next(c)
		}
		caller, err := h.caller(c)
		if err != nil {
			var he *echo.HTTPError
			if errors.As(err, &he) && he.Code == http.StatusUnauthorized {
				h.denied.WithLabelValues("401").Inc()
			}
			return err
		}
		source := c.Param("source")
		d := authorize(rule.Role, caller, source, h.d.Sources[source], h.registry())
		if !d.Allow {
			h.denied.WithLabelValues("403").Inc()
			route := c.Request().Method + " " + c.Request().URL.Path
			e := store.AuditEntry{Time: time.Now(), Actor: caller.Name(), Action: rule.Action, Decision: "deny",
				Reason: d.Reason + ": " + route, RequestID: uuid.NewString()}
			if err := h.d.AuditLog.Append(c.Request().Context(), []store.AuditEntry{e}); err != nil {
				return unavailable(err, "the denial could not be audited; retry")
			}
			return fail(http.StatusForbidden, "Authorization", "denied: %s: %s", d.Reason, d.Detail)
		}
		c.Set(callerKey, caller)
		return next(c)
	}
}

// deniedCounter counts refused calls by status, so a flood of calls
// without credentials is visible without growing the audit log (only
// authenticated denials are audited).
func deniedCounter(reg *prometheus.Registry) *prometheus.CounterVec {
	return metrics.CounterVec(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_api_denied_total",
		Help: "API calls refused by authentication (401) or authorization (403)."}, []string{"status"}))
}
