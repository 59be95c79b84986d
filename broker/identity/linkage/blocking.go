package linkage

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
)

// BlockingRule is a blocking rule of one's own, besides the built-in ones
// (RuleNames): the citizens whose key equals the record's are its
// candidates. A key joins parts, each a field with an optional transform
// after a colon:
//
//   - surname, given, middle (the first, last and middle words of the
//     name, folded without diacritics), name (all of it): as is,
//     ":3" (the first 3 letters) or ":soundex" (the English phonetic
//     key, for names of English-language registers);
//   - dob (the whole date), dob_year, dob_month, dob_day; sex; province;
//   - old_id, personal_id: the number, or ":4" its first 4 digits (for a
//     personal number, 6 digits are the encoded province, century, sex
//     and year);
//   - the name of an extra field of the mapping: an address blocks on its
//     commune ("dia_chi:street" on its street and commune), a postcode on
//     itself, an id or text on its value or ":N" first characters.
//
// A record or citizen missing a part has no key under the rule. A rule
// is built when the linker is made: 4 bytes per citizen for each distinct
// key (RuleKey: the same parts in another order are the same key), none
// when a built-in array serves it (a key that fixes the whole date and
// sex, or the surname, given name and two of the date's parts, adds no
// candidate; one that fixes the surname, given name and year or month is
// read from the built-in name+date array's stretch, e.g. name+dob_year).
type BlockingRule struct {
	Name string   `json:"name"`
	Keys []string `json:"keys"`
}

// keyPart is one parsed part of a rule's key.
type keyPart struct {
	field string
	extra int // index of the extra field, or -1
	n     int // prefix length, 0 = all
	sx    bool
	sub   string // address: "street"
}

var builtinKeyFields = map[string]bool{"surname": true, "given": true, "middle": true, "name": true, "dob": true,
	"dob_year": true, "dob_month": true, "dob_day": true, "sex": true, "province": true, "old_id": true, "personal_id": true}

// parseRule checks a rule against the mapping's fields (extras: the
// extra fields' names; mapped: which built-in fields the mapping reads).
func parseRule(r BlockingRule, extras []ExtraField, mapped func(field string) bool) ([]keyPart, error) {
	if r.Name == "" || len(r.Keys) == 0 {
		return nil, fmt.Errorf("linkage: blocking rule %q: give a name and at least one key part", r.Name)
	}
	var parts []keyPart
	for _, k := range r.Keys {
		f, tr, _ := strings.Cut(strings.TrimSpace(k), ":")
		p := keyPart{field: f, extra: -1}
		if !builtinKeyFields[f] {
			p.extra = slices.IndexFunc(extras, func(e ExtraField) bool { return e.Name == f })
			if p.extra < 0 {
				return nil, fmt.Errorf("linkage: blocking rule %q: key %q names no field of the mapping (built-in: surname, given, middle, name, dob, dob_year, dob_month, dob_day, sex, province, old_id, personal_id; or an extra field's name)", r.Name, k)
			}
		} else if mapped != nil && !mapped(f) {
			return nil, fmt.Errorf("linkage: blocking rule %q: key %q is on a field the mapping does not read; map its column or drop the part", r.Name, k)
		}
		switch {
		case tr == "":
		case tr == "soundex" && (f == "surname" || f == "given" || f == "middle" || f == "name"):
			p.sx = true
		case tr == "street" && p.extra >= 0 && extras[p.extra].Comparison == "address":
			p.sub = tr
		default:
			n, err := strconv.Atoi(tr)
			if err != nil || n <= 0 || f == "sex" || strings.HasPrefix(f, "dob") || f == "province" {
				return nil, fmt.Errorf("linkage: blocking rule %q: key %q: unknown transform %q (a prefix length, soundex for a name part, street for an address)", r.Name, k, tr)
			}
			p.n = n
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// CheckBlocking checks the mapping's blocking rules before a run: every
// part names a field the mapping reads.
func (m Mapping) CheckBlocking() error {
	mapped := func(f string) bool {
		switch f {
		case "surname", "given", "middle", "name":
			return m.FullName != "" || m.Given != ""
		case "dob", "dob_year", "dob_month", "dob_day":
			return m.DOB != ""
		case "sex":
			return m.Sex != ""
		case "province":
			return m.Province != ""
		case "old_id":
			return m.OldID != ""
		case "personal_id":
			return m.PersonalID != ""
		}
		return true
	}
	for _, r := range m.Blocking {
		if _, err := parseRule(r, m.Extra, mapped); err != nil {
			return err
		}
	}
	return nil
}

// RuleKey is a rule's key in canonical form: its parts trimmed and
// sorted, without repeats. A citizen is in a record's block when every
// part agrees, in whatever order the parts are listed, so rules with the
// same RuleKey propose the same candidates and are built once.
func RuleKey(r BlockingRule) string {
	return strings.Join(canonicalKeys(r.Keys), "+")
}

func canonicalKeys(keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, strings.TrimSpace(k))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ruleIndex is a built custom rule. Its blocks come from one of three
// places, so that no rule costs memory a built-in rule already spends:
//   - via < 0: an array of its own, shared by every rule with the same
//     RuleKey: the citizens sorted by their key (4 bytes a citizen), the
//     key computed again from the citizen when a block is looked up, as
//     the built-in arrays do, with every fenceStep-th key kept (fences) so
//     that a look-up computes a few keys only;
//   - via ≥ 0, stretch false: the rule's block is always inside a block of
//     built-in rule via (its key fixes the built-in one's, e.g. sex+dob or
//     name+dob: the whole name fixes surname and given name), which every
//     linker proposes anyway: nothing to build;
//   - via ≥ 0, stretch true: the rule fixes the surname, the given name
//     and the year (or month) of birth, so its block is inside the stretch
//     of built-in rule via's array with that name and year (month), read
//     and filtered by the rule's key (name+dob_year: a few hundred
//     references at 10 million citizens).
type ruleIndex struct {
	name    string
	parts   []keyPart // in RuleKey order
	via     int
	stretch bool
	ids     []uint32 // citizens, sorted by key (then by citizen)
	fences  []uint32 // fences[j] is the key of ids[j*fenceStep]
}

// dated reports whether the rule's key has a part of the date.
func (ri *ruleIndex) dated() bool {
	return slices.ContainsFunc(ri.parts, func(p keyPart) bool { return strings.HasPrefix(p.field, "dob") })
}

// placeRule says where a rule's blocks come from (see ruleIndex): the
// built-in rule whose blocks hold them, and whether only a stretch of its
// array does; via = -1 when the rule needs an array of its own.
func placeRule(parts []keyPart) (via int, stretch bool) {
	fixed := map[string]bool{} // what agreeing on every part fixes
	for _, p := range parts {
		if p.extra >= 0 || p.n > 0 || p.sx || p.sub != "" {
			continue
		}
		fixed[p.field] = true
		switch p.field {
		case "dob":
			fixed["dob_year"], fixed["dob_month"], fixed["dob_day"] = true, true, true
		case "name":
			fixed["surname"], fixed["given"] = true, true
		}
	}
	all := func(fs ...string) bool {
		for _, f := range fs {
			if !fixed[f] {
				return false
			}
		}
		return true
	}
	switch {
	case all("dob_year", "dob_month", "dob_day", "sex"):
		return RuleDOBSex, false
	case all("surname", "given", "dob_year", "dob_month"):
		return RuleNameYearMonth, false
	case all("surname", "given", "dob_month", "dob_day"):
		return RuleNameMonthDay, false
	case all("surname", "given", "dob_year", "dob_day"):
		return RuleNameYearDay, false
	case all("surname", "given", "dob_year"):
		return RuleNameYearMonth, true
	case all("surname", "given", "dob_month"):
		return RuleNameMonthDay, true
	}
	return -1, false
}

// key hashes the parts of one side; ok is false when a part is missing.
// ext gives the side's probe of extra field k.
func (ri *ruleIndex) key(s *side, ext func(k int) *extProbe) (uint32, bool) {
	h := fnv.New32a()
	var b []byte
	for _, p := range ri.parts {
		b = b[:0]
		switch p.field {
		case "surname", "given", "middle", "name":
			var w string
			switch t := s.toks; {
			case len(t) == 0:
				return 0, false
			case p.field == "surname":
				w = t[0]
			case p.field == "given":
				w = t[len(t)-1]
			case p.field == "middle":
				if len(t) < 3 {
					return 0, false
				}
				w = strings.Join(t[1:len(t)-1], " ")
			default:
				w = strings.Join(t, " ")
			}
			switch {
			case p.sx:
				w = soundex(w)
			case p.n > 0 && len(w) > p.n:
				w = w[:p.n]
			}
			b = append(b, w...)
		case "dob", "dob_year", "dob_month", "dob_day":
			if !s.dobOK {
				return 0, false
			}
			v := map[string]int{"dob": s.y*10000 + s.m*100 + s.d, "dob_year": s.y, "dob_month": s.m, "dob_day": s.d}[p.field]
			b = strconv.AppendInt(b, int64(v), 10)
		case "sex":
			if s.sex == 0 {
				return 0, false
			}
			b = append(b, s.sex)
		case "province":
			if s.prov == 0 {
				return 0, false
			}
			b = strconv.AppendInt(b, int64(provGroup[s.prov]), 10)
		case "old_id", "personal_id":
			v, ok, w := s.old, s.hasOld, 9
			if p.field == "personal_id" {
				v, ok, w = s.pid, s.hasPID, 12
			}
			if !ok {
				return 0, false
			}
			d := fmt.Sprintf("%0*d", w, v)
			if p.n > 0 && p.n < len(d) {
				d = d[:p.n]
			}
			b = append(b, d...)
		default:
			e := ext(p.extra)
			if e == nil || !e.ok {
				return 0, false
			}
			switch {
			case e.commune != 0 || e.street != 0 || e.house != 0: // an address
				if e.commune == 0 || e.commune == noComp || (p.sub == "street" && (e.street == 0 || e.street == noComp)) {
					return 0, false
				}
				b = strconv.AppendUint(b, uint64(e.commune), 10)
				if p.sub == "street" {
					b = strconv.AppendUint(append(b, '/'), uint64(e.street), 10)
				}
			case e.s != "":
				w := e.s
				if p.n > 0 && len(w) > p.n {
					w = w[:p.n]
				}
				b = append(b, w...)
			default:
				b = strconv.AppendUint(b, e.num, 10)
			}
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	return h.Sum32(), true
}

// citizenKey is citizen i's key under the rule.
func (l *Linker) citizenKey(ri *ruleIndex, i uint32, s *side, buf []uint32) (uint32, bool) {
	l.pop.sideOf(i, s)
	return ri.key(s, func(k int) *extProbe {
		p := l.pop.cols[k].probeOf(i, buf[:0])
		return &p
	})
}

// buildRules indexes the population under the custom rules: each distinct
// RuleKey once, and none whose blocks a built-in rule's array already
// holds (see ruleIndex).
func (l *Linker) buildRules(rules []BlockingRule) error {
	l.rules = nil
	built := map[string]*ruleIndex{}
	for _, r := range rules {
		canon := BlockingRule{Name: r.Name, Keys: canonicalKeys(r.Keys)}
		parts, err := parseRule(canon, l.pop.extras, nil)
		if err != nil {
			return err
		}
		ri := &ruleIndex{name: r.Name, parts: parts}
		if same := built[RuleKey(canon)]; same != nil {
			ri.via, ri.stretch, ri.ids, ri.fences = same.via, same.stretch, same.ids, same.fences
			l.rules = append(l.rules, ri)
			continue
		}
		built[RuleKey(canon)] = ri
		l.rules = append(l.rules, ri)
		if ri.via, ri.stretch = placeRule(parts); ri.via >= 0 {
			continue
		}
		n := l.pop.Len()
		pairs := make([]uint64, n) // key<<32 | citizen; noKey: none
		parallel(n, func(lo, hi int) {
			var s side
			var buf [32]uint32
			for i := lo; i < hi; i++ {
				pairs[i] = noKey
				if k, ok := l.citizenKey(ri, uint32(i), &s, buf[:0]); ok {
					pairs[i] = uint64(k)<<32 | uint64(i)
				}
			}
		})
		slices.Sort(pairs)
		m, _ := slices.BinarySearch(pairs, noKey)
		ri.ids = make([]uint32, m)
		ri.fences = make([]uint32, (m+fenceStep-1)/fenceStep)
		for j, pr := range pairs[:m] {
			ri.ids[j] = uint32(pr)
			if j%fenceStep == 0 {
				ri.fences[j/fenceStep] = uint32(pr >> 32)
			}
		}
	}
	return nil
}

// noKey marks a citizen without a key under a rule while its array is
// built: above every key<<32|citizen (citizens are fewer than 2^32-1).
const noKey = math.MaxUint64

// lowerBound is the first position of the rule's array whose citizen's key
// is ≥ key: a binary search of the fences, then of one stretch of
// fenceStep citizens, computing their keys.
func (l *Linker) lowerBound(ri *ruleIndex, key uint32) int {
	j, _ := slices.BinarySearch(ri.fences, key) // first fence ≥ key
	lo, hi := 0, min(j*fenceStep, len(ri.ids))
	if j > 0 {
		lo = (j-1)*fenceStep + 1
	}
	var s side
	var buf [32]uint32
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if k, _ := l.citizenKey(ri, ri.ids[mid], &s, buf[:0]); k < key {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// RulesSizeBytes is the memory of the linker's own blocking arrays (see
// BlockingRule), each counted once however many rules share it.
func (l *Linker) RulesSizeBytes() int {
	seen := map[*uint32]bool{}
	n := 0
	for _, ri := range l.rules {
		if len(ri.ids) == 0 || seen[&ri.ids[0]] {
			continue
		}
		seen[&ri.ids[0]] = true
		n += 4*cap(ri.ids) + 4*cap(ri.fences)
	}
	return n
}

// ruleBlock returns the citizens with the record's key under custom rule
// k (nil when the record has no key).
func (l *Linker) ruleBlock(r *prepared, k int) []uint32 {
	ri := l.rules[k]
	key, ok := ri.key(&r.side, func(j int) *extProbe {
		if j < len(r.ext) {
			return &r.ext[j]
		}
		return nil
	})
	if !ok {
		return nil
	}
	if ri.via >= 0 {
		var from []uint32
		if ri.stretch {
			from = l.stretch(r, ri.via)
		} else {
			from, _ = l.candidatesBy(r, 1<<ri.via, nil)
		}
		var out []uint32
		var s side
		var buf [32]uint32
		for _, i := range from {
			if k, ok := l.citizenKey(ri, i, &s, buf[:0]); ok && k == key {
				out = append(out, i)
			}
		}
		return out
	}
	lo, hi := l.lowerBound(ri, key), len(ri.ids)
	if key < math.MaxUint32 {
		hi = l.lowerBound(ri, key+1)
	}
	return ri.ids[lo:hi]
}

// stretch returns the stretch of built-in rule via's array with the
// record's surname and given name (as written: first and last word) and
// its year of birth (RuleNameYearMonth) or month (RuleNameMonthDay); nil
// when the record lacks one, or when the stretch is longer than
// maxNamedScan (too common to read through).
func (l *Linker) stretch(r *prepared, via int) []uint32 {
	p := l.pop
	if len(r.toks) == 0 || !r.dobOK {
		return nil
	}
	s, ok1 := p.tokID[r.toks[0]]
	g, ok2 := p.tokID[r.toks[len(r.toks)-1]]
	if !ok1 || !ok2 {
		return nil
	}
	var lo, hi uint64
	switch via {
	case RuleNameYearMonth:
		lo = ruleKey(via, s, g, r.y, 0, 0, false)
		hi = lo + 1<<4
	default: // RuleNameMonthDay
		lo = ruleKey(via, s, g, 0, r.m, 0, false)
		hi = lo + 1<<5
	}
	a, b := p.lowerBound(via, lo), p.lowerBound(via, hi)
	if b-a > maxNamedScan {
		return nil
	}
	return p.blocks[via][a:b]
}

// soundex is the American Soundex code of an ASCII word (letters only;
// others are skipped): the first letter and three digits.
func soundex(w string) string {
	code := func(c byte) byte {
		switch c {
		case 'b', 'f', 'p', 'v':
			return '1'
		case 'c', 'g', 'j', 'k', 'q', 's', 'x', 'z':
			return '2'
		case 'd', 't':
			return '3'
		case 'l':
			return '4'
		case 'm', 'n':
			return '5'
		case 'r':
			return '6'
		}
		return 0
	}
	var out []byte
	var last byte
	for i := 0; i < len(w) && len(out) < 4; i++ {
		c := w[i] | 0x20
		if c < 'a' || c > 'z' {
			continue
		}
		d := code(c)
		if len(out) == 0 {
			out = append(out, c&^0x20)
			last = d
			continue
		}
		if d != 0 && d != last {
			out = append(out, d)
		}
		if c != 'h' && c != 'w' {
			last = d
		}
	}
	for len(out) < 4 && len(out) > 0 {
		out = append(out, '0')
	}
	return string(out)
}
