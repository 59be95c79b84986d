package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/runtime"
)

// ErrNoConnector is returned by ConnectorControl.Reset for an unknown name.
var ErrNoConnector = errors.New("no such connector")

// states is the connectors' states (none without Deps.Connectors).
func (h *handlers) states() []runtime.State {
	if h.d.Connectors == nil {
		return nil
	}
	return h.d.Connectors.States()
}

func (h *handlers) connector(c echo.Context) error {
	for _, st := range h.states() {
		if st.Name == c.Param("name") {
			return c.JSON(http.StatusOK, st)
		}
	}
	return fail(http.StatusNotFound, "name", "no connector %q; GET /v1/connectors lists them", c.Param("name"))
}

// resetConnector moves a connector's position: {"position": "<hex>" or ""
// for the beginning, "reason": "…"}. The reset is audited before it happens.
func (h *handlers) resetConnector(c echo.Context) error {
	name := c.Param("name")
	known := false
	for _, st := range h.states() {
		known = known || st.Name == name
	}
	if !known {
		return fail(http.StatusNotFound, "name", "no connector %q; GET /v1/connectors lists them", name)
	}
	var body struct {
		Position *string `json:"position"`
		Reason   string  `json:"reason"`
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
	if err != nil {
		return fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return fail(http.StatusBadRequest, "", "body must be {\"position\": \"<hex>\" or \"\", \"reason\": \"…\"}: %v", err)
	}
	if body.Position == nil {
		return fail(http.StatusBadRequest, "position", "position is required: the hex position to restart from, \"\" for the beginning")
	}
	pos, err := hex.DecodeString(*body.Position)
	if err != nil {
		return fail(http.StatusBadRequest, "position", "position must be hex, as shown by GET /v1/connectors/%s", name)
	}
	if strings.TrimSpace(body.Reason) == "" {
		return fail(http.StatusBadRequest, "reason", "reason is required: a position reset re-sends or skips records and is audited")
	}
	ctx := c.Request().Context()
	entry := store.AuditEntry{Time: time.Now(), Actor: "operator", Action: "connector.reset", Decision: "allow",
		Reason: body.Reason, RequestID: name + "@" + *body.Position}
	if err := h.d.AuditLog.Append(ctx, []store.AuditEntry{entry}); err != nil {
		return unavailable(err, "the reset could not be audited, so it was not done; retry")
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.d.Connectors.Reset(rctx, name, pos); err != nil {
		if errors.Is(err, ErrNoConnector) {
			return fail(http.StatusNotFound, "name", "no connector %q", name)
		}
		return unavailable(err, "reset not done (the audit entry records the attempt)")
	}
	return h.connector(c)
}
