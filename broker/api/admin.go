package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// operator guards the operator endpoints a second time, behind the
// authorize middleware (auth.go): whatever the route table says, nothing
// under /v1/operator/ runs for anyone but the operator.
func (h *handlers) operator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !callerOf(c).Operator {
			return fail(http.StatusForbidden, "Authorization", "denied: %s: operator endpoints need 'Authorization: Bearer <operator token>' (api.operator_token, or <data-dir>/operator.token)", ReasonOperatorRequired)
		}
		return next(c)
	}
}

// issueToken creates an API token for an active agency; the secret is in
// this answer only.
func (h *handlers) issueToken(c echo.Context) error {
	agency := c.Param("agency")
	if h.d.Registry != nil && !h.registry().Active(agency) {
		return fail(http.StatusNotFound, "agency", "%q is not a registered, active agency", agency)
	}
	ctx := c.Request().Context()
	id, secret, err := h.d.Tokens.Issue(ctx, agency)
	if err != nil {
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	if err := h.d.AuditLog.Append(ctx, []store.AuditEntry{{Time: time.Now(), Actor: "operator", Action: "credential.issue", Decision: "allow", RequestID: id, Reason: "API token for " + agency}}); err != nil {
		_ = h.d.Tokens.Revoke(ctx, id) // an unaudited credential must not stay valid
		return unavailable(err, "the issue could not be audited, so the token was revoked; retry")
	}
	return c.JSON(http.StatusCreated, map[string]string{"id": id, "agency": agency, "token": secret, "note": "store the token now; the bus keeps only its hash"})
}

func (h *handlers) revokeToken(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if err := h.d.AuditLog.Append(ctx, []store.AuditEntry{{Time: time.Now(), Actor: "operator", Action: "credential.revoke", Decision: "allow", RequestID: id}}); err != nil {
		return unavailable(err, "the revocation could not be audited; retry")
	}
	if err := h.d.Tokens.Revoke(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fail(http.StatusNotFound, "id", "no token %q", id)
		}
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *handlers) listTokens(c echo.Context) error {
	toks, err := h.d.Tokens.List(c.Request().Context(), c.QueryParam("agency"))
	if err != nil {
		return unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	type view struct {
		ID      string     `json:"id"`
		Agency  string     `json:"agency"`
		Created time.Time  `json:"created"`
		Revoked *time.Time `json:"revoked,omitempty"`
	}
	out := []view{}
	for _, t := range toks {
		v := view{ID: t.ID, Agency: t.Agency, Created: t.Created}
		if !t.RevokedAt.IsZero() {
			r := t.RevokedAt
			v.Revoked = &r
		}
		out = append(out, v)
	}
	return c.JSON(http.StatusOK, out)
}

// reloadAgreements re-reads the agreement files and the agency registry;
// on any problem the set in force stays and the answer lists every problem
// with file and line.
func (h *handlers) reloadAgreements(c echo.Context) error {
	if h.d.Agreements == nil {
		return changeError(ErrAgreementsBuiltIn)
	}
	ch, err := h.d.Agreements.Reload(c.Request().Context())
	if err != nil {
		var invalid *InvalidError
		if errors.As(err, &invalid) {
			return fail(http.StatusUnprocessableEntity, "agreements", "nothing changed, the previous agreements stay in force: %v", err)
		}
		return changeError(err)
	}
	return c.JSON(http.StatusOK, ch)
}
