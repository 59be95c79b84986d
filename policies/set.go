package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Set is a validated, immutable set of agreements, as loaded together. Nothing
// in it changes after Load: the engine swaps whole sets, so a decision never
// sees half of an edit.
type Set struct {
	all        []*compiled            // sorted by id
	byID       map[string]*compiled   // id → agreement
	byDataset  map[string][]*compiled // dataset → agreements, sorted by id
	byConsumer map[pair][]*compiled   // (consumer, dataset) → agreements, sorted by id
	digest     string
	files      map[string][]byte // file as named in Agreement.Source → its text
	// consumerLine is the line of each agreement's consumer key (by id),
	// for errors found after loading (an unregistered consumer).
	consumerLine map[string]int
}

type pair struct{ consumer, dataset string }

// compiled is an agreement prepared for decisions. Its maps are private and
// never handed out, so no caller can widen what an agreement releases.
type compiled struct {
	a        Agreement
	fields   []string // allowed fields, sorted
	allowed  map[string]bool
	purposes map[string]bool
	mask     map[string]MaskKind
	filter   []condition
	from     time.Time // first instant in force
	until    time.Time // first instant no longer in force
}

// condition is a filter condition reduced to "the field equals one of values".
type condition struct {
	field  string
	values []any
}

func newSet(agreements []Agreement, files map[string][]byte) (*Set, error) {
	s := &Set{
		byID:       map[string]*compiled{},
		byDataset:  map[string][]*compiled{},
		byConsumer: map[pair][]*compiled{},
	}
	for _, a := range agreements {
		c, err := compile(a)
		if err != nil {
			return nil, err
		}
		if _, dup := s.byID[a.ID]; dup {
			return nil, fmt.Errorf("duplicate agreement id %q; give each agreement its own id", a.ID)
		}
		s.byID[a.ID] = c
		s.all = append(s.all, c)
	}
	sort.Slice(s.all, func(i, j int) bool { return s.all[i].a.ID < s.all[j].a.ID })
	for _, c := range s.all {
		s.byDataset[c.a.Dataset] = append(s.byDataset[c.a.Dataset], c)
		k := pair{c.a.Consumer, c.a.Dataset}
		s.byConsumer[k] = append(s.byConsumer[k], c)
	}
	s.digest = digest(files)
	s.files = files
	s.consumerLine = map[string]int{}
	return s, nil
}

func compile(a Agreement) (*compiled, error) {
	from, err := a.ValidFrom.Start()
	if err != nil {
		return nil, fmt.Errorf("agreement %s: valid_from: %w", a.ID, err)
	}
	lastDay, err := a.ValidUntil.Start()
	if err != nil {
		return nil, fmt.Errorf("agreement %s: valid_until: %w", a.ID, err)
	}
	c := &compiled{
		a:        a.clone(),
		allowed:  map[string]bool{},
		purposes: map[string]bool{},
		mask:     map[string]MaskKind{},
		from:     from,
		// valid_until is inclusive: the agreement ends when the next day
		// starts in Vietnam.
		until: lastDay.AddDate(0, 0, 1),
	}
	for _, f := range a.Fields {
		c.allowed[f] = true
	}
	c.fields = sortedKeys(c.allowed)
	for _, p := range a.Purposes {
		c.purposes[p] = true
	}
	for f, k := range a.Mask {
		if !c.allowed[f] {
			return nil, fmt.Errorf("agreement %s: field %q is masked but not in fields", a.ID, f)
		}
		switch k {
		case MaskLast4, MaskYearOnly, MaskInitials:
		default:
			return nil, fmt.Errorf("agreement %s: unknown mask %q for %s", a.ID, k, f)
		}
		c.mask[f] = k
	}
	for _, f := range a.Filter {
		cond := condition{field: f.Field, values: slices.Clone(f.In)}
		if f.In == nil {
			cond.values = []any{f.Equals}
		}
		c.filter = append(c.filter, cond)
	}
	return c, nil
}

// inForce reports whether the agreement is in force at now.
func (c *compiled) inForce(now time.Time) bool {
	return !now.Before(c.from) && now.Before(c.until)
}

// digest identifies a set by the content of its files, so that the audit log
// can record which agreements were in force for a decision.
func digest(files map[string][]byte) string {
	h := sha256.New()
	for _, name := range sortedKeys(files) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Agreements lists the agreements of the set, sorted by id. They are copies:
// changing them changes nothing in force.
func (s *Set) Agreements() []Agreement {
	if s == nil {
		return nil
	}
	out := make([]Agreement, 0, len(s.all))
	for _, c := range s.all {
		out = append(out, c.a.clone())
	}
	return out
}

// Agreement returns a copy of the agreement with this id.
func (s *Set) Agreement(id string) (Agreement, bool) {
	if s == nil {
		return Agreement{}, false
	}
	c, ok := s.byID[id]
	if !ok {
		return Agreement{}, false
	}
	return c.a.clone(), true
}

// File returns the text of the file the agreement with this id was loaded
// from, as written (comments included).
func (s *Set) File(id string) ([]byte, bool) {
	if s == nil {
		return nil, false
	}
	c, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	raw, ok := s.files[c.a.Source]
	return slices.Clone(raw), ok
}

// Len is the number of agreements in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.all)
}

// Digest is "sha256:<hex>" over the files the set was loaded from; record it
// with each policy change and decision to say which agreements were in force.
func (s *Set) Digest() string {
	if s == nil {
		return ""
	}
	return s.digest
}
