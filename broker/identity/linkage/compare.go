// Package linkage links person records that carry no usable personal
// number to the population register by Fellegi–Sunter scoring: each record
// is compared field by field with the citizens that a union of blocking
// rules proposes, every field's agreement level contributes a weight
// log2(m/u) estimated from the data (u from random pairs of citizens, m by
// expectation–maximisation over the candidate pairs), name weights are
// adjusted for how common the agreeing name is, and a batch is assigned
// one to one. Every decision carries the weight of each field.
package linkage

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
)

// Comparisons, in the order of a comparison vector.
const (
	CompName = iota
	CompDOB
	CompSex
	CompProvince
	CompOldID
	// CompPersonalID compares a record's 12-digit number that the
	// register does not know (a typo, or an invalid number) with the
	// candidate's: one digit changed or two adjacent ones swapped, or the
	// same encoded facts (the first six digits: province of birth, century
	// and sex, year of birth). Records whose number is found never reach
	// the linker, so its weights are those given that the numbers differ
	// (see Model.set).
	CompPersonalID
	nBase // the built-in comparisons; a mapping's extra fields follow them
)

// maxComp bounds the comparisons of a vector: the built-in ones and a
// mapping's extra fields.
const maxComp = 16

// vector is a comparison vector: the agreement level of each comparison
// (null when either side lacks the field), built-in ones first.
type vector [maxComp]int8

// compNames are the field names used in explanations and models.
var compNames = [nBase]string{"name", "dob", "sex", "province", "old_id", "personal_id"}

// levelNames are the agreement levels of each comparison, best first. The
// last level of each is full disagreement.
var levelNames = [nBase][]string{
	CompName:       {"exact", "diacritics", "reordered", "middle_dropped", "one_word_slip", "dropped_and_slip", "jw_0.92", "jw_0.80", "different"},
	CompDOB:        {"exact", "day_month_swapped", "within_days", "digits_transposed", "one_digit_day_month", "one_digit_year", "same_year", "different"},
	CompSex:        {"exact", "different"},
	CompProvince:   {"exact", "merged_2025", "different"},
	CompOldID:      {"exact", "one_edit", "different"},
	CompPersonalID: {"exact", "one_edit", "same_facts", "different"},
}

// Name levels.
const (
	nameExact = iota
	nameDiacritics
	nameReordered
	nameMiddle
	nameSlip
	nameDroppedSlip // a middle name dropped (or added) and a slip in another word
	nameJW92
	nameJW80
	nameDifferent
)

const null = -1 // the field is missing on either side: no weight

// side is one person of a pair in comparison form: a record, or a citizen.
type side struct {
	norm, fold string   // identity.Normalize and identity.Fold of the full name
	toks       []string // folded name tokens, in written order
	y, m, d    int      // date of birth as written (not range checked)
	dobOK      bool
	sex        byte // 'M', 'F' or 0
	prov       int  // province code as a number, 0 = not given
	old        uint64
	hasOld     bool
	pid        uint64 // 12-digit personal number, when hasPID
	hasPID     bool
}

// value is built-in comparison k's value on this side, as read ("" when
// not given), for an Explanation.
func (s *side) value(k int) string {
	switch {
	case k == CompName:
		return s.norm
	case k == CompDOB && s.y > 0:
		return fmt.Sprintf("%04d-%02d-%02d", s.y, s.m, s.d)
	case k == CompSex && s.sex != 0:
		return string(s.sex)
	case k == CompProvince && s.prov != 0:
		return fmt.Sprintf("%03d", s.prov)
	case k == CompOldID && s.hasOld:
		return fmt.Sprintf("%09d", s.old)
	case k == CompPersonalID && s.hasPID:
		return fmt.Sprintf("%012d", s.pid)
	}
	return ""
}

// setPID reads a 12-digit personal number (valid or not: an invalid one
// still encodes facts).
func (s *side) setPID(id string) {
	id = strings.TrimSpace(id)
	if len(id) != 12 {
		return
	}
	var v uint64
	for i := 0; i < 12; i++ {
		if id[i] < '0' || id[i] > '9' {
			return
		}
		v = v*10 + uint64(id[i]-'0')
	}
	s.pid, s.hasPID = v, true
}

// setName fills the name forms of s.
func (s *side) setName(name string) {
	s.norm = identity.Normalize(name)
	s.fold = identity.Fold(s.norm)
	s.toks = strings.Fields(s.fold)
}

// setDOB reads a YYYY-MM-DD date, keeping out-of-range numbers so that a
// swapped day and month (1990-14-03) can still be recognised.
func (s *side) setDOB(dob string) {
	dob = strings.TrimSpace(dob)
	if len(dob) != 10 || dob[4] != '-' || dob[7] != '-' {
		return
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9} {
		if dob[i] < '0' || dob[i] > '9' {
			return
		}
	}
	s.y = int(dob[0]-'0')*1000 + int(dob[1]-'0')*100 + int(dob[2]-'0')*10 + int(dob[3]-'0')
	s.m = int(dob[5]-'0')*10 + int(dob[6]-'0')
	s.d = int(dob[8]-'0')*10 + int(dob[9]-'0')
	s.dobOK = s.y > 0 && s.m > 0 && s.d > 0 && (s.m <= 12 || s.d <= 12) && s.m <= 31 && s.d <= 31
}

func (s *side) setSex(sex string) {
	switch strings.ToUpper(strings.TrimSpace(sex)) {
	case "M", "NAM", "MALE", "1":
		s.sex = 'M'
	case "F", "NU", "NỮ", "FEMALE", "0", "2":
		s.sex = 'F'
	}
}

func (s *side) setProvince(p string) {
	p = strings.TrimSpace(p)
	if len(p) == 2 { // written without the leading zero
		p = "0" + p
	}
	if _, ok := cccd.ProvinceName(p); ok {
		s.prov = int(p[0]-'0')*100 + int(p[1]-'0')*10 + int(p[2]-'0')
	}
}

func (s *side) setOld(old string) {
	old = strings.TrimSpace(old)
	if cccd.IsOldCMND(old) {
		var v uint64
		for i := 0; i < len(old); i++ {
			v = v*10 + uint64(old[i]-'0')
		}
		s.old, s.hasOld = v, true
	}
}

// provGroup maps a province code to the code of its province after the
// 2025 merger (cccd.Province2025), 0 for unknown codes.
var provGroup = func() (t [1000]int16) {
	for i := range t {
		code := string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
		if n, ok := cccd.Province2025(code); ok {
			v, _ := strconv.Atoi(n)
			t[i] = int16(v)
		}
	}
	return t
}()

// compare returns the agreement level of each built-in comparison (null
// when a side lacks the field); the extra fields' levels are left for the
// caller.
func compare(r, c *side) vector { return compareNear(r, c, dateNearDays) }

// compareNear is compare with dates at most near days apart at the
// within_days level (Config.DateNearDays).
func compareNear(r, c *side, near int) (g vector) {
	g[CompName] = int8(nameLevel(r, c))
	g[CompDOB] = int8(dobLevelNear(r, c, near))
	switch {
	case r.sex == 0 || c.sex == 0:
		g[CompSex] = null
	case r.sex == c.sex:
		g[CompSex] = 0
	default:
		g[CompSex] = 1
	}
	switch {
	case r.prov == 0 || c.prov == 0:
		g[CompProvince] = null
	case r.prov == c.prov:
		g[CompProvince] = 0
	case provGroup[r.prov] == provGroup[c.prov]:
		g[CompProvince] = 1
	default:
		g[CompProvince] = 2
	}
	switch {
	case !r.hasOld || !c.hasOld:
		g[CompOldID] = null
	case r.old == c.old:
		g[CompOldID] = 0
	case oneEdit(r.old, c.old, 9):
		g[CompOldID] = 1
	default:
		g[CompOldID] = 2
	}
	switch {
	case !r.hasPID || !c.hasPID:
		g[CompPersonalID] = null
	case r.pid == c.pid:
		g[CompPersonalID] = 0
	case oneEdit(r.pid, c.pid, 12):
		g[CompPersonalID] = 1
	case r.pid/1e6 == c.pid/1e6:
		g[CompPersonalID] = 2
	default:
		g[CompPersonalID] = 3
	}
	return g
}

func nameLevel(r, c *side) int {
	if len(r.toks) == 0 || len(c.toks) == 0 {
		return null
	}
	if r.norm == c.norm {
		return nameExact
	}
	if r.fold == c.fold {
		// the same letters: diacritics left out on one side, or written
		// differently on both (Hùng / Hưng), which is another name or a
		// slip, not a keyboard without Vietnamese input
		switch markConflicts(r, c) {
		case 0:
			return nameDiacritics
		case 1:
			return nameSlip
		}
		return nameJW92
	}
	if len(r.toks) == len(c.toks) && subset(r.toks, c.toks) {
		return nameReordered
	}
	// a middle name dropped (or added): the shorter name's words are all
	// in the longer one, which has the citizen's surname and given name
	short, long := r.toks, c.toks
	if len(short) > len(long) {
		short, long = long, short
	}
	if len(short) >= 2 && subset(short, long) && has(r.toks, c.toks[0]) && has(r.toks, c.toks[len(c.toks)-1]) {
		return nameMiddle
	}
	if len(r.toks) == len(c.toks) && (oneWordSlip(r.toks, c.toks) || oneWordSlipReordered(r.toks, c.toks)) {
		return nameSlip
	}
	if droppedAndSlip(r.toks, c.toks) {
		return nameDroppedSlip
	}
	jw := jaroWinkler(r.fold, c.fold)
	if jw < 0.92 && len(r.toks) == len(c.toks) && len(r.toks) > 1 {
		// a reordered name with a slip: compare in the citizen's order
		if alt := reorderLike(r.toks, c.toks); alt != "" {
			jw = max(jw, jaroWinkler(alt, c.fold))
		}
	}
	switch {
	case jw >= 0.92:
		return nameJW92
	case jw >= 0.80:
		return nameJW80
	}
	return nameDifferent
}

// markConflicts counts the words (of two names equal once folded) that
// both sides write with diacritics, differently.
func markConflicts(r, c *side) int {
	rw, cw := strings.Fields(r.norm), strings.Fields(c.norm)
	if len(rw) != len(r.toks) || len(cw) != len(c.toks) || len(rw) != len(cw) {
		return 0
	}
	n := 0
	for k := range rw {
		if rw[k] != cw[k] && rw[k] != r.toks[k] && cw[k] != c.toks[k] {
			n++
		}
	}
	return n
}

// reorderLike rotates a so that its first word is the one equal to b's
// first word (the surname), when there is one; "" otherwise.
func reorderLike(a, b []string) string {
	for i, t := range a {
		if i > 0 && t == b[0] {
			return strings.Join(append(append([]string{}, a[i:]...), a[:i]...), " ")
		}
	}
	return ""
}

// subset reports whether every word of a occurs in b, as a multiset.
func subset(a, b []string) bool {
	var used [16]bool
	if len(b) > len(used) {
		return false
	}
next:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && x == y {
				used[j] = true
				continue next
			}
		}
		return false
	}
	return true
}

// droppedAndSlip reports whether names r (record) and c (citizen) differ
// by one word left out (or added) and a slip (one edit) in another word:
// every word of the shorter matches a distinct word of the longer, all
// exactly but one, and the word left over is not the citizen's surname or
// given name.
func droppedAndSlip(r, c []string) bool {
	short, long, cLong := r, c, true
	if len(r) > len(c) {
		short, long, cLong = c, r, false
	}
	var used [16]bool
	if len(long) != len(short)+1 || len(short) < 2 || len(long) > len(used) {
		return false
	}
	slip := -1
next:
	for i, x := range short {
		for j, y := range long {
			if !used[j] && x == y {
				used[j] = true
				continue next
			}
		}
		if slip >= 0 {
			return false
		}
		slip = i
	}
	if slip < 0 {
		return false // all exact: that is middle_dropped
	}
	found := false
	for j, y := range long {
		if !used[j] && withinOneEdit(short[slip], y) {
			used[j], found = true, true
			break
		}
	}
	if !found {
		return false
	}
	if cLong {
		for j := range long {
			if !used[j] {
				return j != 0 && j != len(long)-1
			}
		}
	}
	return true
}

func has(a []string, w string) bool {
	for _, x := range a {
		if x == w {
			return true
		}
	}
	return false
}

// Date levels. within_days: at most dateNearDays apart (a day typo across
// a decade boundary, 1996-02-19 / 1996-02-20, differs in two digits but is
// one day off); digits_transposed: two adjacent digits of YYYYMMDD swapped
// (1969 / 1996); a changed digit of the year is weighed apart from one of
// the day or month, as clerks' slips and wrong years are not equally
// likely between the same person's records.
const (
	dobExact = iota
	dobSwapped
	dobNear
	dobTransposed
	dobOneDigitDM
	dobOneDigitYear
	dobSameYear
	dobDifferent
)

// dateNearDays is the default distance of the within_days level
// (Config.DateNearDays).
const dateNearDays = DefaultDateNearDays

// DefaultDateNearDays is the within_days distance when none is given.
const DefaultDateNearDays = 7

// MaxDateNearDays bounds Config.DateNearDays: beyond a year the level
// says no more than same_year.
const MaxDateNearDays = 366

func dobLevel(r, c *side) int { return dobLevelNear(r, c, dateNearDays) }

func dobLevelNear(r, c *side, near int) int {
	if !r.dobOK || !c.dobOK {
		return null
	}
	switch {
	case r.y == c.y && r.m == c.m && r.d == c.d:
		return dobExact
	case r.y == c.y && r.m == c.d && r.d == c.m:
		return dobSwapped
	case r.m <= 12 && c.m <= 12 && abs(dayNumber(r.y, r.m, r.d)-dayNumber(c.y, c.m, c.d)) <= near:
		return dobNear
	case transposed(r.y*10000+r.m*100+r.d, c.y*10000+c.m*100+c.d):
		return dobTransposed
	}
	dy, dmd := digitDiff(r.y, c.y, 4), digitDiff(r.m, c.m, 2)+digitDiff(r.d, c.d, 2)
	switch {
	case dy == 0 && dmd == 1:
		return dobOneDigitDM
	case dy == 1 && dmd == 0:
		return dobOneDigitYear
	case r.y == c.y:
		return dobSameYear
	}
	return dobDifferent
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// dayNumber is the day count of a proleptic Gregorian date (days from
// civil, H. Hinnant); only differences are used.
func dayNumber(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe
}

// transposed reports whether two 8-digit numbers differ by one swap of
// adjacent digits.
func transposed(a, b int) bool {
	var x, y [8]int
	for i := 7; i >= 0; i-- {
		x[i], y[i] = a%10, b%10
		a, b = a/10, b/10
	}
	for i := range 7 {
		if x[i] != y[i] {
			return x[i] == y[i+1] && x[i+1] == y[i] && slices.Equal(x[i+2:], y[i+2:])
		}
	}
	return false
}

// digitDiff counts the differing decimal digits of a and b over width.
func digitDiff(a, b, width int) int {
	n := 0
	for ; width > 0; width-- {
		if a%10 != b%10 {
			n++
		}
		a, b = a/10, b/10
	}
	return n
}

// oneEdit reports whether two numbers of width digits (at most 12) differ by one digit or by
// one swap of adjacent digits.
func oneEdit(a, b uint64, width int) bool {
	var da, db [12]byte
	for i := width - 1; i >= 0; i-- {
		da[i], db[i] = byte(a%10), byte(b%10)
		a, b = a/10, b/10
	}
	diff := -1
	n := 0
	for i := range width {
		if da[i] != db[i] {
			if n == 0 {
				diff = i
			}
			n++
		}
	}
	switch n {
	case 1:
		return true
	case 2:
		return diff+1 < width && da[diff] == db[diff+1] && da[diff+1] == db[diff]
	}
	return false
}

// jaroWinkler is identity.JaroWinkler for the usual all-ASCII folded
// names, without allocating.
func jaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	if len(a) > 64 || len(b) > 64 || !ascii(a) || !ascii(b) {
		return identity.JaroWinkler(a, b)
	}
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	window := max(len(b)/2-1, 0)
	var ma, mb [64]bool
	m := 0
	for i := 0; i < len(a); i++ {
		lo, hi := max(0, i-window), min(len(b), i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && b[j] == a[i] {
				ma[i], mb[j] = true, true
				m++
				break
			}
		}
	}
	if m == 0 {
		return 0
	}
	t, j := 0, 0
	for i := 0; i < len(a); i++ {
		if !ma[i] {
			continue
		}
		for !mb[j] {
			j++
		}
		if a[i] != b[j] {
			t++
		}
		j++
	}
	mf := float64(m)
	jaro := (mf/float64(len(a)) + mf/float64(len(b)) + (mf-float64(t)/2)/mf) / 3
	p := 0
	for p < 4 && p < len(a) && a[p] == b[p] {
		p++
	}
	return jaro + float64(p)*0.1*(1-jaro)
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// oneWordSlip reports whether a and b (same length) are equal word for
// word except one pair of words one edit apart (a letter changed, added,
// dropped, or two adjacent letters swapped).
func oneWordSlip(a, b []string) bool {
	diff := -1
	for i := range a {
		if a[i] != b[i] {
			if diff >= 0 {
				return false
			}
			diff = i
		}
	}
	return diff >= 0 && withinOneEdit(a[diff], b[diff])
}

// oneWordSlipReordered is oneWordSlip after rotating a (a name written
// surname last, or given name first). Every rotation is tried, not only
// the one that puts b's surname first: the slip may be in the surname
// itself ("Thị Nga Nguyễk" / "Nguyễn Thị Nga" was "different").
func oneWordSlipReordered(a, b []string) bool {
	var buf [16]string
	if len(a) > len(buf) {
		return false
	}
	for i := 1; i < len(a); i++ {
		rot := append(append(buf[:0], a[i:]...), a[:i]...)
		if oneWordSlip(rot, b) {
			return true
		}
	}
	return false
}

// withinOneEdit reports whether the Damerau–Levenshtein distance of a and
// b (bytes) is at most 1.
func withinOneEdit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 0:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		if i == len(a) {
			return true
		}
		if a[i+1:] == b[i+1:] {
			return true // one substitution
		}
		return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:]
	case 1:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		return a[i:] == b[i+1:]
	}
	return false
}
