package policies

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// Change is what one agency gains or loses on one dataset in one mode when
// a set of agreements replaces another: what `lgsp policy diff` shows before
// a change is applied.
type Change struct {
	Consumer string `json:"consumer"`
	Dataset  string `json:"dataset"`
	Mode     Mode   `json:"mode"`
	// Gained and Lost are fields that become released or stop being released
	// (in clear or masked) under any agreement of the set.
	Gained []string `json:"gained,omitempty"`
	Lost   []string `json:"lost,omitempty"`
	// Unmasked are fields released in clear that were masked before;
	// Masked the reverse.
	Unmasked []string `json:"unmasked,omitempty"`
	Masked   []string `json:"masked,omitempty"`
	// Agreements added and removed for this consumer, dataset and mode.
	Added   []string `json:"agreements_added,omitempty"`
	Removed []string `json:"agreements_removed,omitempty"`
	// HiddenFromCitizen lists the agreements, kept or added, whose
	// hidden_from_citizen_for changes, as "<id>: <old> -> <new>" ("none"
	// when not hidden): what the citizens concerned stop or start seeing.
	HiddenFromCitizen []string `json:"hidden_from_citizen,omitempty"`
}

type access struct {
	fields     map[string]bool // released at all
	clear      map[string]bool // released in clear by at least one agreement
	agreements map[string]bool
	hidden     map[string]Days // agreement id → hidden_from_citizen_for
}

// exposure is, per (consumer, dataset, mode), the union of what every
// agreement releases, whatever its validity period: a diff is about what
// the files allow, not about today.
func exposure(s *Set) map[[3]string]*access {
	out := map[[3]string]*access{}
	if s == nil {
		return out
	}
	for _, c := range s.all {
		k := [3]string{c.a.Consumer, c.a.Dataset, string(c.a.Mode)}
		a := out[k]
		if a == nil {
			a = &access{fields: map[string]bool{}, clear: map[string]bool{}, agreements: map[string]bool{}, hidden: map[string]Days{}}
			out[k] = a
		}
		a.agreements[c.a.ID] = true
		a.hidden[c.a.ID] = c.a.HiddenFromCitizenFor
		for _, f := range c.fields {
			a.fields[f] = true
			if _, masked := c.mask[f]; !masked {
				a.clear[f] = true
			}
		}
	}
	return out
}

func minus(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Diff lists, sorted by consumer, dataset and mode, every access that changes
// from old to new. Nil sets are empty.
func Diff(old, new *Set) []Change {
	before, after := exposure(old), exposure(new)
	empty := &access{fields: map[string]bool{}, clear: map[string]bool{}, agreements: map[string]bool{}, hidden: map[string]Days{}}
	keys := map[[3]string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []Change
	for k := range keys {
		b, a := before[k], after[k]
		if b == nil {
			b = empty
		}
		if a == nil {
			a = empty
		}
		ch := Change{Consumer: k[0], Dataset: k[1], Mode: Mode(k[2]),
			Gained: minus(a.fields, b.fields), Lost: minus(b.fields, a.fields),
			Added: minus(a.agreements, b.agreements), Removed: minus(b.agreements, a.agreements)}
		for f := range a.fields {
			if b.fields[f] && a.clear[f] && !b.clear[f] {
				ch.Unmasked = append(ch.Unmasked, f)
			}
			if b.fields[f] && !a.clear[f] && b.clear[f] {
				ch.Masked = append(ch.Masked, f)
			}
		}
		for id := range a.agreements {
			if was, now := b.hidden[id], a.hidden[id]; was != now {
				ch.HiddenFromCitizen = append(ch.HiddenFromCitizen, fmt.Sprintf("%s: %s -> %s", id, daysOrNone(was), daysOrNone(now)))
			}
		}
		sort.Strings(ch.Unmasked)
		sort.Strings(ch.Masked)
		sort.Strings(ch.HiddenFromCitizen)
		if len(ch.Gained)+len(ch.Lost)+len(ch.Unmasked)+len(ch.Masked)+len(ch.Added)+len(ch.Removed)+len(ch.HiddenFromCitizen) > 0 {
			out = append(out, ch)
		}
	}
	slices.SortFunc(out, func(x, y Change) int {
		return strings.Compare(x.Consumer+"\x00"+x.Dataset+"\x00"+string(x.Mode), y.Consumer+"\x00"+y.Dataset+"\x00"+string(y.Mode))
	})
	return out
}

// String renders a change for a reviewer, one line per kind of change.
func (c Change) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s on %s (%s):", c.Consumer, c.Dataset, c.Mode)
	add := func(label string, xs []string) {
		if len(xs) > 0 {
			fmt.Fprintf(&sb, "\n  %-18s %s", label, strings.Join(xs, ", "))
		}
	}
	add("+ gains fields", c.Gained)
	add("- loses fields", c.Lost)
	add("! now in clear", c.Unmasked)
	add("~ now masked", c.Masked)
	add("+ agreements", c.Added)
	add("- agreements", c.Removed)
	add("? hidden (citizen)", c.HiddenFromCitizen)
	return sb.String()
}

func daysOrNone(d Days) string {
	if d == "" {
		return "none"
	}
	return string(d)
}

// WriteDiff writes changes as `lgsp policy diff` shows them: one line per
// change (or that nothing changes), or, asJSON, an indented array ([] when
// nothing changes).
func WriteDiff(w io.Writer, changes []Change, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(append([]Change{}, changes...))
	}
	if len(changes) == 0 {
		_, err := fmt.Fprintln(w, "no agency gains or loses access")
		return err
	}
	for _, c := range changes {
		if _, err := fmt.Fprintln(w, c); err != nil {
			return err
		}
	}
	return nil
}
