package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/strictjson"
	"github.com/lgsp-bus/lgsp/policies"
)

// accessRequest is the body of a lookup or verification.
type accessRequest struct {
	Dataset       string         `json:"dataset"`
	Citizen       string         `json:"citizen"` // personal number; hashed before it is stored anywhere
	Purpose       string         `json:"purpose"`
	CaseReference string         `json:"case_reference"`
	Fields        []string       `json:"fields"` // lookup: the fields wanted (empty: all the agreement allows)
	Claims        map[string]any `json:"claims"` // verify: field → claimed value
}

// caller establishes who makes the call, for the authorize middleware (see
// auth.go): the operator (the operator token) or an agency, through agency.
// A call without a valid credential is a 401 that does not say whether the
// agency exists.
func (h *handlers) caller(c echo.Context) (Caller, error) {
	secret, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if ok && h.d.OperatorToken != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(h.d.OperatorToken)) == 1 {
		return Caller{Operator: true}, nil
	}
	id, err := h.agency(c)
	if err != nil {
		return Caller{}, err
	}
	entry, registered := h.registry().Get(id)
	return Caller{Agency: id, Entry: entry, Registered: registered}, nil
}

// agency is THE place where the calling agency is established from the
// request; every route reaches it through caller and the authorize
// middleware. It authenticates the caller by its client certificate, if it
// sent one over the TLS listener, or else by its API token.
func (h *handlers) agency(c echo.Context) (string, error) {
	if ag, sent, err := h.clientCert(c); sent {
		return ag, err // a verified client certificate of the bus CA names the agency
	}
	secret, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
	if !ok || secret == "" {
		return "", fail(http.StatusUnauthorized, "Authorization", "send your agency's API token as 'Authorization: Bearer lgsp_…'")
	}
	if h.d.Tokens == nil { // no agency has a token here
		return "", fail(http.StatusUnauthorized, "Authorization", "%v", credentials.ErrInvalid)
	}
	ag, _, err := h.d.Tokens.Verify(c.Request().Context(), secret)
	if errors.Is(err, credentials.ErrInvalid) {
		return "", fail(http.StatusUnauthorized, "Authorization", "%v", err)
	}
	if err != nil {
		return "", unavailable(err, "a part the bus depends on is unavailable; retry")
	}
	return ag, nil
}

// accessMembers are the members of accessRequest, matched exactly.
var accessMembers = []string{"dataset", "citizen", "purpose", "case_reference", "fields", "claims"}

// fill sets r from a body strictjson decoded (null is an absent member),
// naming the member whose value has the wrong type.
func (r *accessRequest) fill(m map[string]any) error {
	for _, f := range [...]struct {
		name string
		dst  *string
	}{{"dataset", &r.Dataset}, {"citizen", &r.Citizen}, {"purpose", &r.Purpose}, {"case_reference", &r.CaseReference}} {
		name, dst := f.name, f.dst
		switch v := m[name].(type) {
		case nil:
		case string:
			*dst = v
		default:
			return fail(http.StatusBadRequest, "$."+name, "%s must be a string, got %s", name, strictjson.Kind(v))
		}
	}
	switch v := m["fields"].(type) {
	case nil:
	case []any:
		r.Fields = make([]string, len(v))
		for i, f := range v {
			s, ok := f.(string)
			if !ok {
				return fail(http.StatusBadRequest, fmt.Sprintf("$.fields[%d]", i), "fields must be an array of field names; fields[%d] is %s", i, strictjson.Kind(f))
			}
			r.Fields[i] = s
		}
	default:
		return fail(http.StatusBadRequest, "$.fields", "fields must be an array of field names, got %s", strictjson.Kind(v))
	}
	switch v := m["claims"].(type) {
	case nil:
	case map[string]any:
		r.Claims = v
	default:
		return fail(http.StatusBadRequest, "$.claims", "claims must be an object of field → claimed value, got %s", strictjson.Kind(v))
	}
	return nil
}

func (h *handlers) readAccess(c echo.Context, mode policies.Mode) (accessRequest, error) {
	var r accessRequest
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
	if err != nil {
		return r, fail(http.StatusBadRequest, "", "reading the body failed: %v", err)
	}
	// Strictly (duplicates, Unicode, exact member names), then the struct
	// filled from what that decoded: one pass over the body, not two.
	m, err := strictjson.DecodeObject(raw)
	if err != nil {
		return r, jsonProblem(err)
	}
	if err := onlyMembers(m, "$", "the body", accessMembers, nil); err != nil {
		return r, err
	}
	if err := r.fill(m); err != nil {
		return r, err
	}
	if _, ok := h.d.Catalog.Dataset(r.Dataset); !ok {
		return r, fail(http.StatusBadRequest, "dataset", "unknown dataset %q; GET /v1/datasets lists them", r.Dataset)
	}
	if !digits(r.Citizen) || len(r.Citizen) != 12 {
		return r, fail(http.StatusBadRequest, "citizen", "citizen must be a 12-digit personal number")
	}
	if mode == policies.ModeVerify {
		if len(r.Claims) == 0 {
			return r, fail(http.StatusBadRequest, "claims", "claims must give at least one field and the value to verify")
		}
		r.Fields = r.Fields[:0]
		for f := range r.Claims {
			r.Fields = append(r.Fields, f)
		}
		sort.Strings(r.Fields)
	}
	return r, nil
}

// decide asks the policy engine and writes the decision to the audit log
// before anything is served; if the audit write fails, the access fails.
// citizenKey is the HMAC of r.Citizen, computed once for the audit entry
// and the state read.
func (h *handlers) decide(ctx context.Context, agency string, mode policies.Mode, r accessRequest, citizenKey string) (policies.Decision, error) {
	d := h.d.Engine.Decide(policies.Request{Consumer: agency, Dataset: r.Dataset, Mode: mode, Purpose: r.Purpose,
		CaseReference: r.CaseReference, Fields: r.Fields, Now: time.Now()})
	e := store.AuditEntry{Time: time.Now(), Actor: agency, Action: string(mode), Dataset: r.Dataset, Purpose: r.Purpose,
		LegalBasis: d.LegalBasis, AgreementID: d.AgreementID, RequestID: uuid.NewString(), CitizenKey: citizenKey}
	if d.HiddenFromCitizen > 0 { // the agreement keeps it from the citizen's view for a while
		e.HiddenUntil = e.Time.Add(d.HiddenFromCitizen)
	}
	if d.Allow {
		e.Decision = "allow"
		if mode == policies.ModeLookup {
			e.Fields = d.Fields
		}
		if r.CaseReference != "" {
			e.Reason = "case " + r.CaseReference
		}
	} else {
		e.Decision, e.Reason = "deny", d.Reason
	}
	if err := h.d.AuditLog.Append(ctx, []store.AuditEntry{e}); err != nil {
		return d, unavailable(err, "the access could not be audited, so it is refused; retry")
	}
	if !d.Allow {
		return d, &echo.HTTPError{Code: http.StatusForbidden, Message: Problem{Error: fmt.Sprintf("denied: %s (agreement %q)", d.Reason, d.AgreementID), Field: reasonField(d.Reason)}}
	}
	return d, nil
}

func reasonField(reason string) string {
	switch {
	case strings.HasPrefix(reason, policies.ReasonFieldNotAllowed):
		return "fields"
	case reason == policies.ReasonMissingPurpose, reason == policies.ReasonPurposeNotAllowed:
		return "purpose"
	case reason == policies.ReasonCaseReferenceRequired:
		return "case_reference"
	}
	return ""
}

// lookup returns a citizen's current records of a dataset, projected to what
// the caller's lookup agreement allows.
func (h *handlers) lookup(c echo.Context) error {
	agency := callerOf(c).Agency // authenticated and active (authorizeRoute)
	r, err := h.readAccess(c, policies.ModeLookup)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key := h.d.CitizenKeys.CitizenKey(r.Citizen)
	d, err := h.decide(ctx, agency, policies.ModeLookup, r, key)
	if err != nil {
		return err
	}
	rows, err := h.d.State.StateByCitizen(ctx, r.Dataset, key, 100)
	if err != nil {
		return unavailable(err, "dataset state unavailable, retry")
	}
	records := []map[string]any{}
	for _, row := range rows {
		var m map[string]any
		if json.Unmarshal(row.Row, &m) != nil {
			continue
		}
		if out, _, ok := d.Project(m); ok {
			records = append(records, out)
		}
	}
	return c.JSON(http.StatusOK, lookupAnswer{d.AgreementID, d.LegalBasis, records})
}

// lookupAnswer and verifyAnswer are the answers, their members in the
// order a map's would be encoded (the same bytes, without sorting keys by
// reflection on every answer).
type lookupAnswer struct {
	Agreement  string           `json:"agreement"`
	LegalBasis string           `json:"legal_basis"`
	Records    []map[string]any `json:"records"`
}

type verifyAnswer struct {
	Agreement string `json:"agreement"`
	Match     bool   `json:"match"`
}

// verify answers yes or no: does the citizen's current record of the dataset
// carry exactly the claimed values? No data is returned.
func (h *handlers) verify(c echo.Context) error {
	agency := callerOf(c).Agency // authenticated and active (authorizeRoute)
	r, err := h.readAccess(c, policies.ModeVerify)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	key := h.d.CitizenKeys.CitizenKey(r.Citizen)
	d, err := h.decide(ctx, agency, policies.ModeVerify, r, key)
	if err != nil {
		return err
	}
	rows, err := h.d.State.StateByCitizen(ctx, r.Dataset, key, 100)
	if err != nil {
		return unavailable(err, "dataset state unavailable, retry")
	}
	match := false
	for _, row := range rows {
		var m map[string]any
		if json.Unmarshal(row.Row, &m) != nil {
			continue
		}
		all := true
		for f, want := range r.Claims {
			if fmt.Sprint(m[f]) != fmt.Sprint(want) {
				all = false
				break
			}
		}
		match = match || all
	}
	return c.JSON(http.StatusOK, verifyAnswer{d.AgreementID, match})
}
