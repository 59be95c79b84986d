package policies

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// Mode is how a consumer receives data under an agreement.
type Mode string

const (
	// ModeStream delivers every change of the dataset to the consumer's own
	// topic, projected and masked (see [Engine.StreamTargets]).
	ModeStream Mode = "stream"
	// ModeLookup answers a request for one entity with the allowed fields.
	ModeLookup Mode = "lookup"
	// ModeVerify answers only whether the values a consumer already holds
	// match; the allowed fields are the ones it may compare.
	ModeVerify Mode = "verify"
)

// MaskKind is how a released field is blurred before it leaves the bus.
type MaskKind string

const (
	// MaskLast4 keeps the last 4 characters and replaces the others with '*'
	// ("001203004567" → "********4567"). A value of 4 characters or fewer is
	// replaced entirely, so the mask never releases a whole value.
	MaskLast4 MaskKind = "last4"
	// MaskYearOnly keeps the year of a YYYY-MM-DD date ("2019-05-17" →
	// "2019"). Anything that is not such a date is withheld (null).
	MaskYearOnly MaskKind = "year_only"
	// MaskInitials keeps the first letter of each word, each followed by a
	// dot ("Nguyễn Thị Lan" → "N. T. L."). A value that is not text is
	// withheld (null).
	MaskInitials MaskKind = "initials"
)

// Agreement is one data-sharing agreement, as written in its YAML file. The
// comments here and the descriptions in agreement.schema.json are its
// documentation; keep them in step.
type Agreement struct {
	// ID names the agreement in every decision, delivery and audit record.
	// Lowercase letters, digits and '-'; unique across all files.
	ID string `yaml:"id" json:"id"`
	// Dataset is the provider's dataset, "<domain>.<dataset>" as listed in
	// schemas/catalog.yaml, e.g. "insurance.health_insurance_card".
	Dataset string `yaml:"dataset" json:"dataset"`
	// Consumer is the id of the agency that receives the data, e.g. "vss",
	// "gdt", "hcm-land". Its delivery topics and Kafka ACLs derive from it.
	Consumer string `yaml:"consumer" json:"consumer"`
	// Title says in one line what the agreement is for, for people.
	Title string `yaml:"title" json:"title"`
	// LegalBasis cites the law, decree or article that permits the sharing.
	// Required: an access without a legal basis is never allowed, and the
	// citation is copied into every decision and audit record.
	LegalBasis string `yaml:"legal_basis" json:"legal_basis"`
	// Purposes lists the purpose codes the data may be used for, e.g.
	// "health_insurance_issuance". A lookup or verification must state one
	// of them.
	Purposes []string `yaml:"purposes" json:"purposes"`
	// Mode is stream, lookup or verify.
	Mode Mode `yaml:"mode" json:"mode"`
	// Fields lists the row fields the consumer may receive (stream, lookup)
	// or compare (verify). Any other field is never released.
	Fields []string `yaml:"fields" json:"fields"`
	// Mask blurs some of the allowed fields; each key must also be in Fields.
	Mask map[string]MaskKind `yaml:"mask,omitempty" json:"mask,omitempty"`
	// Filter restricts the agreement to some rows: every condition must hold
	// for a row to be released. Empty means every row of the dataset.
	Filter []Condition `yaml:"filter,omitempty" json:"filter,omitempty"`
	// ValidFrom is the first day the agreement is in force (YYYY-MM-DD,
	// inclusive, Vietnam time).
	ValidFrom Date `yaml:"valid_from" json:"valid_from"`
	// ValidUntil is the last day the agreement is in force (YYYY-MM-DD,
	// inclusive, Vietnam time). Required so that every agreement comes up
	// for review; an open-ended one never would.
	ValidUntil Date `yaml:"valid_until" json:"valid_until"`
	// CaseReferenceRequired makes every lookup or verification state the
	// case (file, dossier, judgment) it is made for, so that an auditor can
	// check each access against a real case. Not allowed on streams, which
	// have no request to carry it.
	CaseReferenceRequired bool `yaml:"case_reference_required,omitempty" json:"case_reference_required,omitempty"`
	// HiddenFromCitizenFor hides every access and delivery made under the
	// agreement from the citizen's own "who looked at my data" view for
	// this long after it happens, e.g. "180d", so that an investigation or
	// an enforcement is not revealed to its subject before it is done.
	// Auditors always see the entries, from the start. A number of days
	// followed by "d", 1d to 9999d; empty: never hidden.
	HiddenFromCitizenFor Days `yaml:"hidden_from_citizen_for,omitempty" json:"hidden_from_citizen_for,omitempty"`
	// Framing is how a stream agreement's delivery topic carries each
	// value: "confluent" (default) in the Confluent wire format, for
	// Confluent deserializers; "cloudevents" as plain JSON with
	// content-type application/json, for CloudEvents SDKs. Streams only.
	Framing string `yaml:"framing,omitempty" json:"framing,omitempty"`

	// Source is the file the agreement was loaded from, set by the loader.
	Source string `yaml:"-" json:"source,omitempty"`
}

// framing is the agreement's delivery framing, the default filled in.
func (a Agreement) framing() string {
	if a.Framing == "" {
		return contract.FramingConfluent
	}
	return a.Framing
}

// Condition is one row filter condition: the row's Field must equal Equals, or
// be one of In. Exactly one of Equals and In is set. Values are compared by
// type: a string never equals a number ("079" is not 79).
type Condition struct {
	Field  string `yaml:"field" json:"field"`
	Equals any    `yaml:"equals,omitempty" json:"equals,omitempty"`
	In     []any  `yaml:"in,omitempty" json:"in,omitempty"`
}

// Date is a calendar day written YYYY-MM-DD. Agreements are signed in
// Vietnam, so a day starts and ends in Vietnam time whatever the server's zone.
type Date string

// vietnam is UTC+7 all year (no daylight saving); a fixed zone avoids depending
// on the tz database being installed on the server.
var vietnam = time.FixedZone("ICT", 7*60*60)

// Start is the first instant of the day in Vietnam time.
func (d Date) Start() (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, string(d), vietnam)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a calendar day written YYYY-MM-DD: %w", string(d), err)
	}
	return t, nil
}

// Days is a length of time written as a number of days and "d", e.g. "180d".
type Days string

// Duration is the length in days of 24 hours; "" is 0.
func (d Days) Duration() (time.Duration, error) {
	if d == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSuffix(string(d), "d"))
	if err != nil || !strings.HasSuffix(string(d), "d") || n < 1 || n > 9999 {
		return 0, fmt.Errorf("%q is not a number of days from 1d to 9999d, e.g. 180d", string(d))
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// hiddenFor is how long the agreement's accesses stay hidden from the
// citizen; the loader has checked the text, so a bad one reads as 0.
func (a Agreement) hiddenFor() time.Duration {
	d, _ := a.HiddenFromCitizenFor.Duration()
	return d
}

// clone returns a deep copy, so that a caller listing agreements cannot change
// the ones in force.
func (a Agreement) clone() Agreement {
	c := a
	c.Purposes = append([]string(nil), a.Purposes...)
	c.Fields = append([]string(nil), a.Fields...)
	if a.Mask != nil {
		c.Mask = make(map[string]MaskKind, len(a.Mask))
		for k, v := range a.Mask {
			c.Mask[k] = v
		}
	}
	if a.Filter != nil {
		c.Filter = make([]Condition, len(a.Filter))
		for i, f := range a.Filter {
			c.Filter[i] = Condition{Field: f.Field, Equals: f.Equals, In: append([]any(nil), f.In...)}
			if f.In == nil {
				c.Filter[i].In = nil
			}
		}
	}
	return c
}
