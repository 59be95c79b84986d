package policies

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Reason codes of a Decision. They are stable: the audit log, the API and the
// consumers' own code match on them.
const (
	ReasonAllowed               = "allowed"                 // an agreement allows the request
	ReasonMissingTime           = "missing_time"            // Request.Now is zero: the caller must say when
	ReasonMissingPurpose        = "missing_purpose"         // the request states no purpose
	ReasonNoAgreement           = "no_agreement"            // no agreement between this consumer and dataset
	ReasonModeNotAllowed        = "mode_not_allowed"        // agreements exist, none for this mode
	ReasonPurposeNotAllowed     = "purpose_not_allowed"     // none for this purpose
	ReasonNotYetValid           = "not_yet_valid"           // the matching agreement is not in force yet
	ReasonExpired               = "expired"                 // the matching agreement is no longer in force
	ReasonFieldNotAllowed       = "field_not_allowed:"      // followed by the first field not allowed
	ReasonCaseReferenceRequired = "case_reference_required" // the agreement requires a case reference
	ReasonAgencyNotActive       = "agency_not_active"       // the caller is not a registered, active agency
)

// Engine answers access questions from the current Set. It is safe for
// concurrent use; Reload swaps the set without stopping decisions.
type Engine struct {
	cur      atomic.Pointer[Set]
	agencies atomic.Pointer[Agencies]
}

// SetAgencies puts an agency registry in force: from then on an agreement
// whose consumer is not a registered, active agency allows nothing. Without
// a registry, agreements alone decide.
func (e *Engine) SetAgencies(a *Agencies) {
	if a != nil {
		e.agencies.Store(a)
	}
}

// consumerActive reports whether the registry (if any) lets id receive data.
func (e *Engine) consumerActive(id string) bool {
	a := e.agencies.Load()
	return a == nil || a.Active(id)
}

// NewEngine returns an engine serving s. A nil set allows nothing.
func NewEngine(s *Set) *Engine {
	e := &Engine{}
	e.cur.Store(s)
	return e
}

// Reload puts s in force and returns the set it replaces. A nil s (what a
// failed Load returns) is ignored, so a failed reload never changes what is in
// force.
func (e *Engine) Reload(s *Set) (previous *Set) {
	if s == nil {
		return e.cur.Load()
	}
	return e.cur.Swap(s)
}

// Current is the set in force.
func (e *Engine) Current() *Set { return e.cur.Load() }

// Agreements lists the agreements in force, sorted by id.
func (e *Engine) Agreements() []Agreement { return e.cur.Load().Agreements() }

// Grant is one agreement's permission to receive a dataset's stream. The
// exported fields describe it; Project enforces it from the agreement itself,
// so changing them does not change what is released.
type Grant struct {
	AgreementID string              `json:"agreement_id"`
	Consumer    string              `json:"consumer"`
	Dataset     string              `json:"dataset"`
	Purposes    []string            `json:"purposes"`
	LegalBasis  string              `json:"legal_basis"`
	Fields      []string            `json:"fields"`           // allowed fields, sorted
	Masks       map[string]MaskKind `json:"masks,omitempty"`  // field → mask
	Filter      []Condition         `json:"filter,omitempty"` // rows released: all conditions hold
	// HiddenFromCitizen is how long each delivery stays out of the
	// citizen's own view (the agreement's hidden_from_citizen_for; 0: never).
	HiddenFromCitizen time.Duration `json:"hidden_from_citizen_ns,omitempty"`
	// Framing of the delivery topic: contract.FramingConfluent or
	// contract.FramingCloudEvents.
	Framing string `json:"framing"`

	scope scope
}

// StreamTargets returns one Grant per stream agreement on dataset in force at
// now, sorted by agreement id. Delivery projects each change with each grant.
func (e *Engine) StreamTargets(dataset string, now time.Time) []Grant {
	s := e.cur.Load()
	if s == nil {
		return nil
	}
	var out []Grant
	for _, c := range s.byDataset[dataset] {
		if c.a.Mode != ModeStream || !c.inForce(now) || !e.consumerActive(c.a.Consumer) {
			continue
		}
		out = append(out, Grant{
			AgreementID:       c.a.ID,
			Consumer:          c.a.Consumer,
			Dataset:           c.a.Dataset,
			Purposes:          slices.Clone(c.a.Purposes),
			LegalBasis:        c.a.LegalBasis,
			Fields:            slices.Clone(c.fields),
			Masks:             cloneMasks(c.mask),
			Filter:            c.a.clone().Filter,
			HiddenFromCitizen: c.a.hiddenFor(),
			Framing:           c.a.framing(),
			scope:             scope{c: c, fields: c.fields},
		})
	}
	return out
}

// Project cuts row down to what the grant's agreement releases: ok is false
// when the agreement's filter excludes the row (it is not for this consumer);
// otherwise out holds only allowed fields present in row, masked as agreed,
// and released names them, sorted, for the audit log. row is not modified and
// out shares nothing with it. A Grant not made by an Engine releases nothing.
func (g Grant) Project(row map[string]any) (out map[string]any, released []string, ok bool) {
	return g.scope.project(row)
}

// Request is a lookup or verification by a consumer.
type Request struct {
	Consumer      string   // agency id of the requester
	Dataset       string   // "<domain>.<dataset>"
	Mode          Mode     // ModeLookup or ModeVerify; streams are not requested
	Purpose       string   // one purpose code; required
	CaseReference string   // the case the access is for, when the agreement requires one
	Fields        []string // fields wanted (lookup) or compared (verify); empty means all the agreement allows
	Now           time.Time
}

// Decision is the engine's answer. A denial names the reason and, when one
// came close, the agreement that did not allow it; an allow names the
// agreement, its legal basis and the fields released.
type Decision struct {
	Allow       bool                `json:"allow"`
	AgreementID string              `json:"agreement_id,omitempty"`
	Reason      string              `json:"reason"`
	LegalBasis  string              `json:"legal_basis,omitempty"`
	Fields      []string            `json:"fields,omitempty"` // released (lookup) or compared (verify), sorted
	Masks       map[string]MaskKind `json:"masks,omitempty"`  // masks on those fields
	// HiddenFromCitizen is how long the access stays out of the citizen's
	// own view: the named agreement's hidden_from_citizen_for, on an allow
	// and on a denial that names it (0: never hidden).
	HiddenFromCitizen time.Duration `json:"hidden_from_citizen_ns,omitempty"`

	scope scope
}

// Project cuts a looked-up row down to the decision's fields with the
// agreement's filter and masks, like Grant.Project. A denial releases nothing.
func (d Decision) Project(row map[string]any) (out map[string]any, released []string, ok bool) {
	if !d.Allow {
		return nil, nil, false
	}
	return d.scope.project(row)
}

// Decide answers a lookup or verification. Deny by default: it allows only
// when one agreement covers the consumer, dataset, mode and purpose, is in
// force at r.Now, allows every requested field and has the case reference it
// requires. Several agreements are narrowed in that order, and a denial
// reports the step at which none was left.
func (e *Engine) Decide(r Request) Decision {
	if r.Now.IsZero() {
		return deny(ReasonMissingTime, nil)
	}
	if strings.TrimSpace(r.Purpose) == "" {
		return deny(ReasonMissingPurpose, nil)
	}
	if !e.consumerActive(r.Consumer) {
		return deny(ReasonAgencyNotActive, nil)
	}
	s := e.cur.Load()
	var cands []*compiled
	if s != nil {
		cands = s.byConsumer[pair{r.Consumer, r.Dataset}]
	}
	if len(cands) == 0 {
		return deny(ReasonNoAgreement, nil)
	}

	// Streams are delivered, never requested: a stream agreement does not
	// allow lookups, and a lookup agreement does not allow a stream.
	next := keep(cands, func(c *compiled) bool {
		return (r.Mode == ModeLookup || r.Mode == ModeVerify) && c.a.Mode == r.Mode
	})
	if len(next) == 0 {
		return deny(ReasonModeNotAllowed, cands[0])
	}
	cands = next

	next = keep(cands, func(c *compiled) bool { return c.purposes[r.Purpose] })
	if len(next) == 0 {
		return deny(ReasonPurposeNotAllowed, cands[0])
	}
	cands = next

	next = keep(cands, func(c *compiled) bool { return c.inForce(r.Now) })
	if len(next) == 0 {
		// Prefer the agreement that is coming: "not yet" tells the consumer
		// to wait, "expired" to renew.
		for _, c := range cands {
			if r.Now.Before(c.from) {
				return deny(ReasonNotYetValid, c)
			}
		}
		return deny(ReasonExpired, cands[0])
	}
	cands = next

	next = keep(cands, func(c *compiled) bool {
		for _, f := range r.Fields {
			if !c.allowed[f] {
				return false
			}
		}
		return true
	})
	if len(next) == 0 {
		c := cands[0]
		for _, f := range r.Fields {
			if !c.allowed[f] {
				return deny(ReasonFieldNotAllowed+f, c)
			}
		}
		return deny(ReasonFieldNotAllowed, c) // unreachable: c rejected some field
	}
	cands = next

	hasCase := strings.TrimSpace(r.CaseReference) != ""
	next = keep(cands, func(c *compiled) bool { return hasCase || !c.a.CaseReferenceRequired })
	if len(next) == 0 {
		return deny(ReasonCaseReferenceRequired, cands[0])
	}

	c := next[0]
	fields := c.fields
	if len(r.Fields) > 0 {
		set := map[string]bool{}
		for _, f := range r.Fields {
			set[f] = true
		}
		fields = sortedKeys(set)
	}
	masks := map[string]MaskKind{}
	for _, f := range fields {
		if k, ok := c.mask[f]; ok {
			masks[f] = k
		}
	}
	if len(masks) == 0 {
		masks = nil
	}
	return Decision{
		Allow:             true,
		AgreementID:       c.a.ID,
		Reason:            ReasonAllowed,
		LegalBasis:        c.a.LegalBasis,
		Fields:            slices.Clone(fields),
		Masks:             masks,
		HiddenFromCitizen: c.a.hiddenFor(),
		scope:             scope{c: c, fields: fields},
	}
}

func deny(reason string, closest *compiled) Decision {
	d := Decision{Reason: reason}
	if closest != nil {
		d.AgreementID = closest.a.ID
		d.HiddenFromCitizen = closest.a.hiddenFor()
	}
	return d
}

func keep(cs []*compiled, ok func(*compiled) bool) []*compiled {
	var out []*compiled
	for _, c := range cs {
		if ok(c) {
			out = append(out, c)
		}
	}
	return out
}

func cloneMasks(m map[string]MaskKind) map[string]MaskKind {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]MaskKind, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
