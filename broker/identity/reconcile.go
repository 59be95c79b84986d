// Package identity reconciles the people named in ministry records with the
// National Population Database: Vietnamese name normalisation (Normalize,
// Fold), the in-memory population index (Index) and the decision for one
// claimed identity (Reconcile), whose Outcome travels with the record.
// The rules of the personal number itself live in the cccd sub-package.
package identity

import (
	"errors"
	"strings"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// Outcome is the reconciliation status of a record, as carried in its
// ce_identity header; the names are the shared contract.
type Outcome = contract.Outcome

// Outcomes, from the shared contract.
const (
	Verified  = contract.Verified
	Mismatch  = contract.Mismatch
	NotFound  = contract.NotFound
	InvalidID = contract.InvalidID
	Deceased  = contract.Deceased
	Linked    = contract.Linked
	Review    = contract.Review
	Unmatched = contract.Unmatched
)

// Claim is the identity a record asserts. An empty field was not given and
// is not compared.
type Claim struct {
	ID   string // 12-digit personal number or legacy 9-digit CMND
	Name string
	DOB  string // YYYY-MM-DD
	Sex  string // M or F
}

// Fields of a FieldDiff.
const (
	FieldID   = "id" // only with InvalidID: Kind is the wrong part (cccd.Part)
	FieldName = "name"
	FieldDOB  = "dob"
	FieldSex  = "sex"
)

// Kinds of a FieldDiff on name, dob or sex.
const (
	KindDiacritics      = "diacritics"        // equal once diacritics and đ are folded away
	KindSpelling        = "spelling"          // folded Jaro–Winkler similarity ≥ SpellingThreshold
	KindDayMonthSwapped = "day_month_swapped" // same date with day and month exchanged
	KindDifferent       = "different"
)

// SpellingThreshold is the Jaro–Winkler similarity of folded names from
// which a difference is reported as a spelling slip rather than another name.
const SpellingThreshold = 0.9

// FieldDiff says which claimed field disagrees with the register, and how.
type FieldDiff struct {
	Field string `json:"field"`
	Kind  string `json:"kind"`
}

// Result is the decision for one claim.
type Result struct {
	Outcome Outcome     `json:"outcome"`
	Fields  []FieldDiff `json:"fields,omitempty"`
	// Proposed is, for NotFound, the one number a single-digit typo away
	// whose holder has exactly the claimed name and date of birth. It is a
	// suggestion for the source to confirm, never applied by the bus.
	Proposed string `json:"proposed,omitempty"`
}

// Reconcile decides a claim against the index. It is safe for concurrent
// use and, when the claim is verified, does not allocate (for a name that is
// byte-for-byte or case-insensitively the registered one).
//
// Order of checks: no number → Unmatched (the probabilistic stage decides
// later); a 9-digit number is looked up as a CMND; a 12-digit one must parse
// and agree with the claimed birth year and sex, or it is InvalidID; a
// number nobody has is NotFound, with a proposed correction when exactly one
// single-digit variant belongs to someone with the claimed name and date of
// birth; a deceased holder is Deceased (with any field differences); else
// Verified or Mismatch.
func Reconcile(idx *Index, c Claim) Result {
	id := strings.TrimSpace(c.ID)
	if id == "" {
		return Result{Outcome: Unmatched}
	}
	if cccd.IsOldCMND(id) {
		v, _ := digits(id, cccd.OldLen)
		e, ok := idx.findOld(v)
		if !ok {
			return Result{Outcome: NotFound, Proposed: proposeTypo(idx, c, v, cccd.OldLen)}
		}
		return decide(e, idx.nameOf(e), &c)
	}
	n, err := cccd.Parse(id)
	if err != nil {
		part := string(cccd.PartLength)
		var pe *cccd.Error
		if errors.As(err, &pe) {
			part = string(pe.Part)
		}
		return Result{Outcome: InvalidID, Fields: []FieldDiff{{Field: FieldID, Kind: part}}}
	}
	if parts := n.Consistent(c.DOB, c.Sex); parts != nil {
		diffs := make([]FieldDiff, len(parts))
		for i, p := range parts {
			diffs[i] = FieldDiff{Field: FieldID, Kind: p}
		}
		return Result{Outcome: InvalidID, Fields: diffs}
	}
	v := n.Uint64()
	e, ok := idx.find(v)
	if !ok {
		return Result{Outcome: NotFound, Proposed: proposeTypo(idx, c, v, cccd.Len)}
	}
	return decide(e, idx.nameOf(e), &c)
}

// batchGroup is how many claims ReconcileBatch looks up together.
const batchGroup = 16

// ReconcileBatch decides each claim into out (len(out) ≥ len(claims)),
// exactly as Reconcile would, but faster for many claims: the claims of a
// group are parsed first, then the first table slot of every one of them is
// read, then their names, so that these memory accesses, which do not
// depend on each other, overlap instead of waiting one after another. It is
// safe for concurrent use and does not allocate when every claim is
// verified.
func ReconcileBatch(idx *Index, claims []Claim, out []Result) {
	var (
		fast  [batchGroup]bool
		vals  [batchGroup]uint64
		at    [batchGroup]int
		keys  [batchGroup]uint64
		ents  [batchGroup]entry
		names [batchGroup]string
	)
	for lo := 0; lo < len(claims); lo += batchGroup {
		hi := min(lo+batchGroup, len(claims))
		t := idx.tab.Load()
		// parse; a claim off the common path (no number, a CMND, a
		// malformed or inconsistent number) is decided alone
		for k := lo; k < hi; k++ {
			j := k - lo
			fast[j] = false
			id := claims[k].ID
			if len(id) != cccd.Len {
				out[k] = Reconcile(idx, claims[k])
				continue
			}
			n, err := cccd.Parse(id)
			if err != nil || n.Consistent(claims[k].DOB, claims[k].Sex) != nil {
				out[k] = Reconcile(idx, claims[k])
				continue
			}
			vals[j] = n.Uint64()
			at[j] = home(mix(vals[j]), len(t.slots))
			fast[j] = true
		}
		// the first slot of each: independent loads
		for j := range hi - lo {
			if fast[j] {
				keys[j] = t.slots[at[j]].key.Load()
			}
		}
		// the rest of each probe (mostly none), then the names: again
		// independent loads
		for j := range hi - lo {
			if !fast[j] {
				continue
			}
			e, ok := t.findFrom(vals[j], at[j], keys[j])
			if !ok {
				fast[j] = false
				out[lo+j] = Reconcile(idx, claims[lo+j]) // not found: the typo search
				continue
			}
			ents[j] = e
			names[j] = idx.nameOf(e)
		}
		for j := range hi - lo {
			if fast[j] {
				out[lo+j] = decide(ents[j], names[j], &claims[lo+j])
			}
		}
	}
}

// decide checks the claimed fields against the register's entry, whose
// name is registered.
func decide(e entry, registered string, c *Claim) Result {
	var diffs []FieldDiff
	if c.Name != "" {
		if k := nameKind(c.Name, registered); k != "" {
			diffs = append(diffs, FieldDiff{Field: FieldName, Kind: k})
		}
	}
	if c.DOB != "" {
		if k := dobKind(c.DOB, e.dob()); k != "" {
			diffs = append(diffs, FieldDiff{Field: FieldDOB, Kind: k})
		}
	}
	if c.Sex != "" && c.Sex != e.sex() {
		diffs = append(diffs, FieldDiff{Field: FieldSex, Kind: KindDifferent})
	}
	switch {
	case e.deceased():
		return Result{Outcome: Deceased, Fields: diffs}
	case diffs != nil:
		return Result{Outcome: Mismatch, Fields: diffs}
	}
	return Result{Outcome: Verified}
}

// sameName reports whether two names are the same name: equal after
// Normalize. The two cheap tests first cover the usual claim, which repeats
// the registered spelling, possibly in another case.
func sameName(claim, registered string) bool {
	if claim == registered || strings.EqualFold(claim, registered) {
		return true
	}
	return Normalize(claim) == Normalize(registered)
}

// nameKind returns "" when the names are the same name, else the kind of
// difference.
func nameKind(claim, registered string) string {
	if sameName(claim, registered) {
		return ""
	}
	fc, fr := Fold(claim), Fold(registered)
	switch {
	case fc == fr:
		return KindDiacritics
	case JaroWinkler(fc, fr) >= SpellingThreshold:
		return KindSpelling
	}
	return KindDifferent
}

func dobKind(claim string, registered uint32) string {
	y, m, d, ok := splitDate(claim)
	if ok && m <= 15 && d <= 31 && y <= 4095 && packDate(y, m, d) == registered {
		return "" // the registered date is valid, so the claim is too
	}
	ry, rm, rd := unpackDate(registered)
	if ok && y == ry && m == rd && d == rm && m != d {
		return KindDayMonthSwapped
	}
	return KindDifferent
}

// pow10 holds 10^k for the typo search.
var pow10 = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11}

// proposeTypo looks for the number one digit away from v (width digits)
// whose holder has exactly the claimed name and date of birth (and sex, if
// claimed). It returns "" when there is none, or more than one: a guess
// between two people is not a proposal. The work is bounded: width × 9
// look-ups (108 for a personal number), and only when name and date are
// given.
func proposeTypo(idx *Index, c Claim, v uint64, width int) string {
	dob, ok := parseDate(c.DOB)
	if !ok || c.Name == "" {
		return ""
	}
	name := Normalize(c.Name)
	var found uint64
	n := 0
	for pos := 0; pos < width; pos++ {
		p := pow10[pos]
		digit := v / p % 10
		for alt := uint64(0); alt < 10; alt++ {
			if alt == digit {
				continue
			}
			cand := v - digit*p + alt*p
			var e entry
			if width == cccd.OldLen {
				e, ok = idx.findOld(cand)
			} else {
				e, ok = idx.find(cand)
			}
			if !ok || e.dob() != dob || (c.Sex != "" && c.Sex != e.sex()) {
				continue
			}
			if reg := idx.nameOf(e); reg != c.Name && Normalize(reg) != name {
				continue
			}
			if n++; n > 1 {
				return ""
			}
			found = cand
		}
	}
	if n == 0 {
		return ""
	}
	return formatDigits(found, width)
}

// JaroWinkler returns the Jaro–Winkler similarity of a and b in [0, 1]
// (1 = equal), comparing runes, with the usual prefix scale 0.1 over at most
// four leading runes. It suits short strings such as folded names, where a
// transposition or a changed letter keeps the score high.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	window := len(rb)/2 - 1
	if window < 0 {
		window = 0
	}
	matchedA := make([]bool, len(ra))
	matchedB := make([]bool, len(rb))
	m := 0
	for i, r := range ra {
		lo, hi := max(0, i-window), min(len(rb), i+window+1)
		for j := lo; j < hi; j++ {
			if !matchedB[j] && rb[j] == r {
				matchedA[i], matchedB[j] = true, true
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	// half the number of matched runes that are out of order
	t, j := 0, 0
	for i, r := range ra {
		if !matchedA[i] {
			continue
		}
		for !matchedB[j] {
			j++
		}
		if r != rb[j] {
			t++
		}
		j++
	}
	mf := float64(m)
	jaro := (mf/float64(len(ra)) + mf/float64(len(rb)) + (mf-float64(t)/2)/mf) / 3
	prefix := 0
	for prefix < 4 && prefix < len(ra) && ra[prefix] == rb[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}
