package policies

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Agency is a member of the bus: a ministry, a provincial office, or an
// external body bound by an agreement.
type Agency struct {
	// ID names the agency in agreements, credentials, topics and the audit
	// log: lowercase letters, digits and '-'.
	ID string `yaml:"id" json:"id"`
	// Name is the official name.
	Name string `yaml:"name" json:"name"`
	// Kind is ministry, ministry-level, provincial or external.
	Kind string `yaml:"kind" json:"kind"`
	// Province is the 3-digit code of a provincial agency.
	Province string `yaml:"province,omitempty" json:"province,omitempty"`
	// Contact is who to call about its access.
	Contact Contact `yaml:"contact" json:"contact"`
	// State is active or suspended; a suspended agency gets nothing.
	State string `yaml:"state" json:"state"`
	// Systems are the agency's systems that connect to the bus.
	Systems []System `yaml:"systems,omitempty" json:"systems,omitempty"`
	// Sources are the catalog sources whose records the agency pushes to
	// the bus: the owners of datasets in schemas/catalog.yaml, e.g. land or
	// civil_status. Only the agency's own API tokens may call
	// POST /v1/sources/{source}/records for them; each source has exactly
	// one owning agency.
	Sources []string `yaml:"sources,omitempty" json:"sources,omitempty"`
	// Roles grant API access that no agreement gives: "auditor" searches
	// and exports the access log (GET /v1/audit, /v1/audit/export), as an
	// inspectorate does; "schema_steward" changes the schema registry.
	Roles []string `yaml:"roles,omitempty" json:"roles,omitempty"`
}

// Roles an agency can hold (see [Agency.Roles]).
const (
	// RoleAuditor reads the whole access log.
	RoleAuditor = "auditor"
	// RoleSchemaSteward changes the schema registry (registers versions,
	// deletes, sets compatibility and modes), as the operator may.
	RoleSchemaSteward = "schema_steward"
)

// HasRole reports whether the agency holds role.
func (a Agency) HasRole(role string) bool { return slices.Contains(a.Roles, role) }

// Contact is the owner contact of an agency.
type Contact struct {
	Name  string `yaml:"name" json:"name"`
	Email string `yaml:"email" json:"email"`
}

// System is one of an agency's systems.
type System struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
}

// Agency states.
const (
	AgencyActive    = "active"
	AgencySuspended = "suspended"
)

// Agencies is an immutable registry of agencies.
type Agencies struct {
	byID     map[string]Agency
	bySource map[string]string // source → owning agency id
}

//go:embed agencies/agencies.yaml
var agenciesFS embed.FS

var (
	agencyID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,79}$`)
	// reservedAgencyIDs are the actor names the bus writes in the audit log
	// for itself and its operator.
	reservedAgencyIDs = map[string]bool{"operator": true, "lgsp": true, "bus": true, "citizen": true}
	sourceName        = regexp.MustCompile(`^[a-z][a-z0-9_]{0,79}$`)
)

// LoadEmbeddedAgencies reads the registry built into the binary.
func LoadEmbeddedAgencies() (*Agencies, error) {
	raw, err := agenciesFS.ReadFile("agencies/agencies.yaml")
	if err != nil {
		return nil, err
	}
	return ParseAgencies("policies/agencies/agencies.yaml", raw)
}

// LoadAgenciesFile reads an operator's registry file.
func LoadAgenciesFile(path string) (*Agencies, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policies: agencies: %w", err)
	}
	return ParseAgencies(path, raw)
}

// ParseAgencies validates a registry and reports every problem at once.
func ParseAgencies(file string, raw []byte) (*Agencies, error) {
	var doc struct {
		Agencies []Agency `yaml:"agencies"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", file, err)
	}
	a := &Agencies{byID: map[string]Agency{}, bySource: map[string]string{}}
	var errs []error
	for i, ag := range doc.Agencies {
		where := fmt.Sprintf("%s: agencies[%d] (%s)", file, i, ag.ID)
		if !agencyID.MatchString(ag.ID) {
			errs = append(errs, fmt.Errorf("%s: id must be 2 to 80 lowercase letters, digits and '-'", where))
		}
		if _, dup := a.byID[ag.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: id listed twice", where))
		}
		if reservedAgencyIDs[ag.ID] {
			errs = append(errs, fmt.Errorf("%s: id %q is reserved for the bus's own actors (audit entries would be mistaken for theirs); choose another", where, ag.ID))
		}
		if ag.Name == "" {
			errs = append(errs, fmt.Errorf("%s: name is required", where))
		}
		if ag.State != AgencyActive && ag.State != AgencySuspended {
			errs = append(errs, fmt.Errorf("%s: state must be active or suspended, got %q", where, ag.State))
		}
		if ag.Contact.Email == "" {
			errs = append(errs, fmt.Errorf("%s: contact.email is required: someone must answer for this access", where))
		}
		for _, src := range ag.Sources {
			switch owner, dup := a.bySource[src]; {
			case !sourceName.MatchString(src):
				errs = append(errs, fmt.Errorf("%s: source %q must be a dataset owner of schemas/catalog.yaml, e.g. land or civil_status", where, src))
			case dup:
				errs = append(errs, fmt.Errorf("%s: source %q is already owned by %s; a source has one owning agency", where, src, owner))
			default:
				a.bySource[src] = ag.ID
			}
		}
		for _, r := range ag.Roles {
			if r != RoleAuditor && r != RoleSchemaSteward {
				errs = append(errs, fmt.Errorf("%s: unknown role %q; the roles are %s and %s", where, r, RoleAuditor, RoleSchemaSteward))
			}
		}
		a.byID[ag.ID] = ag
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

// Get returns the agency with this id.
func (a *Agencies) Get(id string) (Agency, bool) {
	ag, ok := a.byID[id]
	return ag, ok
}

// Active reports whether id is a registered, active agency.
func (a *Agencies) Active(id string) bool {
	ag, ok := a.byID[id]
	return ok && ag.State == AgencyActive
}

// SourceOwner returns the agency that owns source (see [Agency.Sources]),
// whatever its state.
func (a *Agencies) SourceOwner(source string) (Agency, bool) {
	id, ok := a.bySource[source]
	if !ok {
		return Agency{}, false
	}
	return a.byID[id], true
}

// CheckSources reports every catalog source without an owning agency and
// every source an agency claims that the catalog does not have.
func (a *Agencies) CheckSources(catalog []string) error {
	var errs []error
	known := map[string]bool{}
	for _, s := range catalog {
		known[s] = true
		if _, ok := a.bySource[s]; !ok {
			errs = append(errs, fmt.Errorf("source %q has no owning agency: add it to the sources of the agency that runs it in the agencies file", s))
		}
	}
	for _, s := range sortedKeys(a.bySource) {
		if !known[s] {
			errs = append(errs, fmt.Errorf("agency %s: source %q owns no dataset in schemas/catalog.yaml; remove it or fix the name", a.bySource[s], s))
		}
	}
	return errors.Join(errs...)
}

// List returns the agencies sorted by id.
func (a *Agencies) List() []Agency {
	out := make([]Agency, 0, len(a.byID))
	for _, ag := range a.byID {
		out = append(out, ag)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// CheckConsumers reports every agreement whose consumer is not a registered
// agency, as [LoadError]s naming the file and line.
func (a *Agencies) CheckConsumers(s *Set) error {
	var errs []error
	for _, ag := range s.Agreements() {
		if _, ok := a.byID[ag.Consumer]; !ok {
			errs = append(errs, &LoadError{File: ag.Source, Line: s.consumerLine[ag.ID], Field: "consumer",
				Msg: fmt.Sprintf("%q is not a registered agency; register it in the agencies file first", ag.Consumer)})
		}
	}
	return errors.Join(errs...)
}

var _ fs.FS = agenciesFS
