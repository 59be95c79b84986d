package linkage

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unsafe"

	"github.com/lgsp-bus/lgsp/broker/identity"
)

// ExtraField is one more field of a person file compared with the
// population register, beyond the name, date of birth, sex, province and
// CMND: an address, a postcode, another id number, any text. Its weight
// per agreement level is estimated like the others' (u from random pairs
// of citizens, m by expectation–maximisation) and shown in every
// explanation under Name.
type ExtraField struct {
	// Name names the field in explanations, the model and the report.
	Name string `json:"name"`
	// Column is the person file's column.
	Column string `json:"column"`
	// PopulationColumn is the population file's column compared with it;
	// empty: the same as Name. "residence" is the register's address.
	PopulationColumn string `json:"population_column,omitempty"`
	// Comparison is one of Comparisons: address, postcode, id, exact,
	// jaro_winkler.
	Comparison string `json:"comparison"`
}

// PopColumn is the population column the field is compared with.
func (f ExtraField) PopColumn() string {
	if f.PopulationColumn != "" {
		return f.PopulationColumn
	}
	return f.Name
}

type extraKind uint8

const (
	kindAddress extraKind = iota
	kindPostcode
	kindID
	kindExact
	kindJW
	nKinds
)

// Comparisons are the comparisons an extra field can use, each with its
// agreement levels (best first; the last is full disagreement):
//
//   - address: exact (same house number, street or hamlet and commune; the
//     district and province agree where both give them), same_house_street
//     (same house number and street, one side gives no commune),
//     same_street (same street and commune, another or no house number),
//     same_commune, same_district, token_overlap (at least half the words
//     of the shorter address and two words in common, provinces not
//     differing), same_province (people who moved within their province
//     keep this much), different. Addresses are read by ParseAddress.
//   - postcode: exact, same_province (same first two digits), different.
//   - id: exact, one_edit (one character changed, added, dropped, or two
//     adjacent ones swapped), different; compared in upper case without
//     spaces, dots, dashes or slashes.
//   - exact: exact (after identity.Normalize: case, spaces, Unicode form,
//     tone placement), different.
//   - jaro_winkler: exact, jw_0.92, jw_0.80, different, on the
//     diacritic-free fold.
var Comparisons = [nKinds]string{"address", "postcode", "id", "exact", "jaro_winkler"}

var kindLevels = [nKinds][]string{
	kindAddress:  {"exact", "same_house_street", "same_street", "same_commune", "same_district", "token_overlap", "same_province", "different"},
	kindPostcode: {"exact", "same_province", "different"},
	kindID:       {"exact", "one_edit", "different"},
	kindExact:    {"exact", "different"},
	kindJW:       {"exact", "jw_0.92", "jw_0.80", "different"},
}

// Address levels.
const (
	addrExact = iota
	addrHouseStreet
	addrStreet
	addrCommune
	addrDistrict
	addrOverlap
	addrProvince
	addrDifferent
)

func parseKind(s string) (extraKind, bool) {
	for k, n := range Comparisons {
		if n == s {
			return extraKind(k), true
		}
	}
	return 0, false
}

// maxExtra bounds the extra fields of a mapping (a comparison vector packs
// maxComp comparisons).
const maxExtra = maxComp - nBase

// reservedNames are the field names explanations already use.
var reservedNames = map[string]bool{"name": true, "dob": true, "sex": true, "province": true, "old_id": true, "personal_id": true,
	"name_spelling": true, "given_name_tf": true, "surname_tf": true}

// checkExtras validates the extra fields of a mapping.
func checkExtras(fs []ExtraField) error {
	if len(fs) > maxExtra {
		return fmt.Errorf("linkage: mapping: %d extra fields, at most %d", len(fs), maxExtra)
	}
	seen := map[string]bool{}
	for k, f := range fs {
		switch {
		case f.Name == "":
			return fmt.Errorf("linkage: mapping: extra field %d has no name", k+1)
		case reservedNames[f.Name]:
			return fmt.Errorf("linkage: mapping: extra field name %q is taken by a built-in field; choose another", f.Name)
		case seen[f.Name]:
			return fmt.Errorf("linkage: mapping: extra field name %q used twice", f.Name)
		case f.Column == "":
			return fmt.Errorf("linkage: mapping: extra field %q names no column", f.Name)
		}
		if _, ok := parseKind(f.Comparison); !ok {
			return fmt.Errorf("linkage: mapping: extra field %q: unknown comparison %q (one of %s)", f.Name, f.Comparison, strings.Join(Comparisons[:], ", "))
		}
		seen[f.Name] = true
	}
	return nil
}

// sameExtras reports whether two lists of extra fields compare the same
// things in the same order (names and comparisons).
func sameExtras(a, b []ExtraField) bool {
	return slices.EqualFunc(a, b, func(x, y ExtraField) bool { return x.Name == y.Name && x.Comparison == y.Comparison })
}

// extProbe is one extra value in comparison form: a record's, resolved
// against the population's column, or a citizen's.
type extProbe struct {
	ok bool // a usable value
	// address: component ids in the column's table (0 = not given,
	// noComp = given but no citizen's address has it), province, words
	house, street, commune, district uint32
	prov                             uint16
	toks                             []uint32
	// postcode and id: packed (see packPostcode, packID); id, exact and
	// jaro_winkler: the comparison string
	num uint64
	s   string
}

const noComp = ^uint32(0)

// addrRef is one distinct registered address: its components' ids.
type addrRef struct {
	house, street, commune, district uint32
	prov                             uint16
}

// popColumn holds one extra field's values of every citizen.
type popColumn struct {
	field ExtraField
	kind  extraKind
	// address, exact, jaro_winkler: per citizen 0 (none) or 1 + index of
	// the distinct value; postcode, id: per citizen the packed value (0 =
	// none)
	ids  []uint32
	nums []uint64
	// build state: distinct raw values
	rawID map[string]uint32
	raws  []string
	// address: distinct addresses and their components
	addrs    []addrRef
	comps    []string          // component by id-1
	compID   map[string]uint32 // component → id
	compToks [][]uint32        // words of each component
	wordID   map[string]uint32
	// exact, jaro_winkler: distinct values in comparison form; id: the
	// values that do not pack into a number
	strs  []string
	strID map[string]uint32
	// exact, jaro_winkler: citizens of each distinct value, and the
	// chance that two citizens with a value share it (the baseline of the
	// term-frequency adjustment, see Linker.score)
	counts []uint32
	tfBase float64
	with   float64 // citizens with a value
}

func newColumn(f ExtraField, n int) *popColumn {
	k, _ := parseKind(f.Comparison)
	c := &popColumn{field: f, kind: k}
	switch k {
	case kindPostcode, kindID:
		c.nums = make([]uint64, 0, n)
		c.strID = map[string]uint32{}
	default:
		c.ids = make([]uint32, 0, n)
		c.rawID = map[string]uint32{}
	}
	return c
}

// add appends the next citizen's value.
func (c *popColumn) add(v string) {
	v = strings.TrimSpace(v)
	switch c.kind {
	case kindPostcode:
		p, _ := packPostcode(v)
		c.nums = append(c.nums, p)
	case kindID:
		s := normID(v)
		p, ok := packID(s)
		if !ok && s != "" {
			id, seen := c.strID[s]
			if !seen {
				id = uint32(len(c.strs))
				c.strs = append(c.strs, s)
				c.strID[s] = id
			}
			p = 1<<63 | uint64(id)
		}
		c.nums = append(c.nums, p)
	default:
		if v == "" {
			c.ids = append(c.ids, 0)
			return
		}
		id, ok := c.rawID[v]
		if !ok {
			id = uint32(len(c.raws))
			c.raws = append(c.raws, v)
			c.rawID[v] = id
		}
		c.ids = append(c.ids, id+1)
	}
}

// finish turns the distinct raw values into their comparison forms (on
// every core) and drops the build state.
func (c *popColumn) finish() {
	switch c.kind {
	case kindAddress:
		parsed := make([]Address, len(c.raws))
		parallel(len(c.raws), func(lo, hi int) {
			for k := lo; k < hi; k++ {
				parsed[k] = ParseAddress(c.raws[k])
			}
		})
		c.compID, c.wordID = map[string]uint32{}, map[string]uint32{}
		c.addrs = make([]addrRef, len(parsed))
		for k, a := range parsed {
			c.addrs[k] = addrRef{house: c.comp("h:" + a.House), street: c.comp("s:" + a.Street),
				commune: c.comp("c:" + a.Commune), district: c.comp("d:" + a.District), prov: uint16(a.Province)}
		}
		c.addrs = slices.Clip(c.addrs)
	case kindExact, kindJW:
		c.counts = make([]uint32, len(c.raws))
		with := 0
		for _, id := range c.ids {
			if id != 0 {
				c.counts[id-1]++
				with++
			}
		}
		for _, n := range c.counts {
			f := float64(n) / float64(max(with, 1))
			c.tfBase += f * f
		}
		c.with = float64(with)
		c.strs = make([]string, len(c.raws))
		parallel(len(c.raws), func(lo, hi int) {
			for k := lo; k < hi; k++ {
				if c.kind == kindExact {
					c.strs[k] = identity.Normalize(c.raws[k])
				} else {
					c.strs[k] = identity.Fold(c.raws[k])
				}
			}
		})
	}
	c.raws, c.rawID, c.strID = nil, nil, nil
	c.ids, c.nums = slices.Clip(c.ids), slices.Clip(c.nums)
}

// tf is the term-frequency adjustment of an exact agreement on citizen
// i's value: log2(baseline / frequency), bounded by maxTF (0 for other
// kinds or no value). A common street or suburb weighs less than a rare one.
func (c *popColumn) tf(i uint32, maxTF float64) float64 {
	if c.counts == nil || c.tfBase == 0 {
		return 0
	}
	id := c.ids[i]
	if id == 0 {
		return 0
	}
	f := float64(c.counts[id-1]) / c.with
	return math.Max(-maxTF, math.Min(maxTF, math.Log2(c.tfBase/f)))
}

// comp interns an address component (prefixed with its level, so that
// "1" the district and "1" the commune are different components); the
// empty component is 0.
func (c *popColumn) comp(s string) uint32 {
	if len(s) == 2 {
		return 0
	}
	if id, ok := c.compID[s]; ok {
		return id
	}
	c.comps = append(c.comps, s)
	id := uint32(len(c.comps))
	c.compID[s] = id
	var ws []uint32
	for _, w := range strings.Fields(s[2:]) {
		wid, ok := c.wordID[w]
		if !ok {
			wid = uint32(len(c.wordID))
			c.wordID[w] = wid
		}
		if !slices.Contains(ws, wid) {
			ws = append(ws, wid)
		}
	}
	c.compToks = append(c.compToks, ws)
	return id
}

// lookupComp is a record's component id: 0 when empty, noComp when no
// registered address has it.
func (c *popColumn) lookupComp(s string) uint32 {
	if len(s) == 2 {
		return 0
	}
	if id, ok := c.compID[s]; ok {
		return id
	}
	return noComp
}

// probe puts a record's raw value in comparison form against the column.
func (c *popColumn) probe(v string) extProbe {
	var p extProbe
	v = strings.TrimSpace(v)
	if v == "" {
		return p
	}
	switch c.kind {
	case kindAddress:
		a := ParseAddress(v)
		if a.Empty() {
			return p
		}
		p.ok = true
		p.house, p.street = c.lookupComp("h:"+a.House), c.lookupComp("s:"+a.Street)
		p.commune, p.district = c.lookupComp("c:"+a.Commune), c.lookupComp("d:"+a.District)
		p.prov = uint16(a.Province)
		next := uint32(len(c.wordID)) // words no citizen's address has: distinct, never matching
		for _, part := range [...]string{a.House, a.Street, a.Commune, a.District} {
			for _, w := range strings.Fields(part) {
				wid, ok := c.wordID[w]
				if !ok {
					wid = next
					next++
				}
				if !slices.Contains(p.toks, wid) {
					p.toks = append(p.toks, wid)
				}
			}
		}
	case kindPostcode:
		p.num, p.ok = packPostcode(v)
	case kindID:
		p.s = normID(v)
		if p.s == "" {
			return p
		}
		p.ok = true
		p.num, _ = packID(p.s)
	case kindExact:
		p.s = identity.Normalize(v)
		p.ok = p.s != ""
	case kindJW:
		p.s = identity.Fold(v)
		p.ok = p.s != ""
	}
	return p
}

// probeOf is citizen i's value in comparison form (for the random pairs
// that estimate u).
func (c *popColumn) probeOf(i uint32, buf []uint32) extProbe {
	var p extProbe
	switch c.kind {
	case kindAddress:
		id := c.ids[i]
		if id == 0 {
			return p
		}
		a := c.addrs[id-1]
		p = extProbe{ok: true, house: a.house, street: a.street, commune: a.commune, district: a.district, prov: a.prov}
		p.toks = c.addrWords(a, buf[:0])
	case kindPostcode:
		p.num = c.nums[i]
		p.ok = p.num != 0
	case kindID:
		p.num = c.nums[i]
		if p.num != 0 {
			p.ok = true
			var b [64]byte
			p.s = string(c.idBytes(p.num, b[:0]))
		}
	default:
		if id := c.ids[i]; id != 0 {
			p.ok, p.s = true, c.strs[id-1]
		}
	}
	return p
}

// addrWords appends the distinct word ids of a registered address.
func (c *popColumn) addrWords(a addrRef, out []uint32) []uint32 {
	for _, comp := range [...]uint32{a.house, a.street, a.commune, a.district} {
		if comp == 0 {
			continue
		}
		for _, w := range c.compToks[comp-1] {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// level compares a value in comparison form with citizen i's: the level,
// or null when either lacks the field.
func (c *popColumn) level(p *extProbe, i uint32) int8 {
	if !p.ok {
		return null
	}
	switch c.kind {
	case kindAddress:
		id := c.ids[i]
		if id == 0 {
			return null
		}
		return c.addrLevel(p, c.addrs[id-1])
	case kindPostcode:
		q := c.nums[i]
		switch {
		case q == 0:
			return null
		case q == p.num:
			return 0
		case postcodePrefix(q) == postcodePrefix(p.num):
			return 1
		}
		return 2
	case kindID:
		q := c.nums[i]
		switch {
		case q == 0:
			return null
		case q == p.num && p.num != 0:
			return 0
		}
		var b [64]byte
		switch reg := c.idBytes(q, b[:0]); {
		case string(reg) == p.s:
			return 0
		case withinOneEditBytes([]byte(p.s), reg):
			return 1
		}
		return 2
	case kindExact:
		id := c.ids[i]
		switch {
		case id == 0:
			return null
		case c.strs[id-1] == p.s:
			return 0
		}
		return 1
	default: // kindJW
		id := c.ids[i]
		if id == 0 {
			return null
		}
		s := c.strs[id-1]
		if s == p.s {
			return 0
		}
		switch jw := jaroWinkler(p.s, s); {
		case jw >= 0.92:
			return 1
		case jw >= 0.80:
			return 2
		}
		return 3
	}
}

// addrLevel compares an address with a registered one.
func (c *popColumn) addrLevel(p *extProbe, a addrRef) int8 {
	if p.prov != 0 && a.prov != 0 && p.prov != a.prov {
		return addrDifferent
	}
	if p.district == 0 || a.district == 0 || p.district == a.district {
		sameStreet := p.street != 0 && p.street == a.street
		sameCommune := p.commune != 0 && p.commune == a.commune
		switch {
		case sameStreet && p.house == a.house && sameCommune:
			return addrExact
		case sameStreet && p.house != 0 && p.house == a.house && (p.commune == 0 || a.commune == 0):
			return addrHouseStreet
		case sameStreet && sameCommune:
			return addrStreet
		case sameCommune:
			return addrCommune
		case p.district != 0 && p.district == a.district:
			return addrDistrict
		}
	}
	// words in common
	var buf [32]uint32
	ws := c.addrWords(a, buf[:0])
	common := 0
	for _, w := range ws {
		if slices.Contains(p.toks, w) {
			common++
		}
	}
	if common >= 2 && 2*common >= min(len(ws), len(p.toks)) {
		return addrOverlap
	}
	if p.prov != 0 && p.prov == a.prov {
		return addrProvince
	}
	return addrDifferent
}

// sizeBytes is the memory of the column.
func (c *popColumn) sizeBytes() int {
	n := len(c.ids)*4 + len(c.nums)*8 + len(c.addrs)*int(unsafe.Sizeof(addrRef{}))
	for _, s := range c.comps {
		n += len(s) + 16 + 8 + 24 // string, header, map entry, word list header
	}
	for _, t := range c.compToks {
		n += len(t) * 4
	}
	n += len(c.wordID) * 24
	for _, s := range c.strs {
		n += len(s) + 16
	}
	return n
}

// normID is an id number's comparison form: upper case letters and digits
// only.
func normID(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(unicode.ToUpper(r))
		case r == ' ' || r == '.' || r == '-' || r == '/' || r == '_':
		default:
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				b.WriteRune(unicode.ToUpper(r))
			}
		}
		if b.Len() > 64 {
			break
		}
	}
	return b.String()
}

// packID packs an id of up to 17 digits with its length (leading zeros
// count); ok is false for others.
func packID(s string) (uint64, bool) {
	if s == "" || len(s) > 17 {
		return 0, false
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + uint64(s[i]-'0')
	}
	return uint64(len(s))<<58 | v, true
}

// idBytes appends the id a packed value stands for.
func (c *popColumn) idBytes(p uint64, out []byte) []byte {
	if p&(1<<63) != 0 {
		return append(out, c.strs[uint32(p)]...)
	}
	n := int(p >> 58)
	v := p & (1<<58 - 1)
	start := len(out)
	for range n {
		out = append(out, 0)
	}
	for k := start + n - 1; k >= start; k-- {
		out[k] = byte('0' + v%10)
		v /= 10
	}
	return out
}

// packPostcode packs a postcode of 2 to 9 digits (spaces ignored) with its
// length.
func packPostcode(s string) (uint64, bool) {
	var v uint64
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			v = v*10 + uint64(c-'0')
			n++
		case c == ' ':
		default:
			return 0, false
		}
	}
	if n < 2 || n > 9 {
		return 0, false
	}
	return uint64(n)<<40 | v, true
}

// postcodePrefix is the first two digits of a packed postcode.
func postcodePrefix(p uint64) uint64 {
	n := int(p >> 40)
	v := p & (1<<40 - 1)
	for ; n > 2; n-- {
		v /= 10
	}
	return v
}

// withinOneEditBytes is withinOneEdit for byte slices.
func withinOneEditBytes(a, b []byte) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	switch len(b) - len(a) {
	case 0:
		if i == len(a) || string(a[i+1:]) == string(b[i+1:]) {
			return true
		}
		return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && string(a[i+2:]) == string(b[i+2:])
	case 1:
		return string(a[i:]) == string(b[i+1:])
	}
	return false
}
