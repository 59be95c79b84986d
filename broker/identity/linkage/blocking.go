package linkage

import (
	"fmt"
	"hash/fnv"
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
// A record or citizen missing a part has no key under the rule. Each rule
// costs 8 bytes per citizen, built when the linker is made.
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

// ruleIndex is a built custom rule: citizens sorted by key hash.
type ruleIndex struct {
	name  string
	parts []keyPart
	keys  []uint32 // sorted
	ids   []uint32 // citizen of each key
}

// dated reports whether the rule's key has a part of the date.
func (ri *ruleIndex) dated() bool {
	return slices.ContainsFunc(ri.parts, func(p keyPart) bool { return strings.HasPrefix(p.field, "dob") })
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

// buildRules indexes the population under the custom rules.
func (l *Linker) buildRules(rules []BlockingRule) error {
	l.rules = nil
	for _, r := range rules {
		parts, err := parseRule(r, l.pop.extras, nil)
		if err != nil {
			return err
		}
		ri := &ruleIndex{name: r.Name, parts: parts}
		n := l.pop.Len()
		keys := make([]uint32, n)
		has := make([]bool, n)
		parallel(n, func(lo, hi int) {
			var s side
			var buf [32]uint32
			for i := lo; i < hi; i++ {
				l.pop.sideOf(uint32(i), &s)
				k, ok := ri.key(&s, func(k int) *extProbe {
					p := l.pop.cols[k].probeOf(uint32(i), buf[:0])
					return &p
				})
				keys[i], has[i] = k, ok
			}
		})
		for i := range n {
			if has[i] {
				ri.keys = append(ri.keys, keys[i])
				ri.ids = append(ri.ids, uint32(i))
			}
		}
		sortByKey(ri.keys, ri.ids)
		l.rules = append(l.rules, ri)
	}
	return nil
}

// sortByKey sorts keys and ids together by key.
func sortByKey(keys, ids []uint32) {
	pairs := make([]uint64, len(keys))
	for i := range keys {
		pairs[i] = uint64(keys[i])<<32 | uint64(ids[i])
	}
	slices.Sort(pairs)
	for i, p := range pairs {
		keys[i], ids[i] = uint32(p>>32), uint32(p)
	}
}

// block returns the citizens with the record's key under rule k (nil
// when the record has no key).
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
	lo, _ := slices.BinarySearch(ri.keys, key)
	hi := lo
	for hi < len(ri.keys) && ri.keys[hi] == key {
		hi++
	}
	return ri.ids[lo:hi]
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
