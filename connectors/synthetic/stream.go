package synthetic

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// BadKind labels a deliberately bad record, so tests and demos can check
// that the bus catches each kind where it should (schema validation for the
// first three, reconciliation for the others). Good is the empty kind.
type BadKind string

const (
	Good              BadKind = ""
	BadMissingField   BadKind = "missing_field"   // a required field left out
	BadWrongType      BadKind = "wrong_type"      // a field of the wrong type
	BadValue          BadKind = "bad_value"       // a value breaking a pattern, enum or range
	BadUnknownID      BadKind = "unknown_id"      // well-formed personal number nobody has
	BadMistypedID     BadKind = "mistyped_id"     // the holder's number with one digit changed
	BadMisspelledName BadKind = "misspelled_name" // a letter changed, or the diacritics dropped
	BadSwappedDOB     BadKind = "swapped_dob"     // day and month of birth exchanged
)

// BadKinds lists every bad kind.
var BadKinds = []BadKind{BadMissingField, BadWrongType, BadValue, BadUnknownID, BadMistypedID, BadMisspelledName, BadSwappedDOB}

// Schema reports whether the kind breaks the dataset's schema (and so must
// be stopped by validation, before reconciliation).
func (k BadKind) Schema() bool {
	return k == BadMissingField || k == BadWrongType || k == BadValue
}

// Stream shape. Rates are per record.
const (
	BadRate      = 0.04 // records that are deliberately bad (creates and updates)
	updateRate   = 0.15 // records that update an earlier key
	doomRate     = 0.10 // creates (at indexes ≡ 0 mod 4) deleted later
	deleteLag    = 1023 // a delete comes this many records after its create; ≡ 3 mod 4
	updateWindow = 256  // an update targets a create at most this far back; < deleteLag
	toneRate     = 0.03 // good records writing the name with the other tone placement
	legacyRate   = 0.25 // rows that carry the CMND where the schema allows one
	registerEnd  = "2025-06-30"
)

// Epoch is the time of record 0; record i happened i seconds later.
var Epoch = time.Date(registerYear, 7, 1, 0, 0, 0, 0, time.UTC)

// RecordTime is the deterministic source time of record i.
func RecordTime(i uint64) time.Time { return Epoch.Add(time.Duration(i) * time.Second) }

// Sources lists the ministries that have a stream; Datasets lists the
// catalog datasets of each.
var Sources = []string{"land", "tax", "insurance", "civil_status", "civil_servant"}

// Dataset returns the catalog dataset of a source's first stream (the one
// it had before it streamed several).
func Dataset(source string) (string, bool) {
	g, ok := generators[source]
	if !ok {
		return "", false
	}
	return g.dataset, true
}

// Datasets returns the catalog datasets a source's stream carries, in lane
// order: record i is of Datasets(source)[i % len].
func Datasets(source string) []string {
	var out []string
	for _, g := range lanes(source) {
		out = append(out, g.dataset)
	}
	return out
}

// lanes are the generators of a source's stream: its first dataset, then
// the others (datasets.go). Record i belongs to lane i % len(lanes) and is
// record i / len(lanes) of that lane, so each dataset has its own creates,
// updates and deletes with the shape described at Stream.
func lanes(source string) []*generator {
	g, ok := generators[source]
	if !ok {
		return nil
	}
	return append([]*generator{g}, moreGenerators[source]...)
}

// laneWorld is the world of lane l of a source; lane 0 keeps the source's
// own hash, so a source with one dataset streams what it always did.
func laneWorld(seed int64, source string, pop PopulationView, ls []*generator, l int) world {
	src := strHash(source)
	if l > 0 {
		src = strHash(source + "/" + ls[l].dataset)
	}
	return world{seed: seed, src: src, pop: pop, g: ls[l]}
}

// Stream returns record i of a source's change stream: the dataset, the
// change kind, the row (After for c/u, Before for d) and, for a
// deliberately bad record, its kind. It is a pure function of (seed,
// source, pop, i): a restarted connector regenerates the same record at the
// same position. Rows hold plain Go values as the schemas expect (string,
// float64 for JSON numbers, int32 for Avro ints, nil for null) and refer to
// real citizens of pop. An unknown source or an empty population gives a
// nil row.
//
// Shape, per dataset of the source (lanes): ~83% creates of a new key, ~15%
// updates of a key created at most updateWindow records before, ~2% deletes
// of a key created deleteLag records before (never updated after); no key is
// updated after its delete.
func Stream(seed int64, source string, pop PopulationView, i uint64) (dataset string, op connectors.Op, row map[string]any, bad BadKind) {
	ls := lanes(source)
	if len(ls) == 0 || pop == nil || pop.Len() == 0 {
		return "", "", nil, Good
	}
	l := int(i % uint64(len(ls)))
	w := laneWorld(seed, source, pop, ls, l)
	g := w.g
	i /= uint64(len(ls)) // the record's index in its lane
	op, target := w.opOf(i)
	c, row := w.entity(target)
	if op == connectors.OpDelete {
		return g.dataset, op, row, Good
	}
	r := w.rng("record", i)
	if op == connectors.OpUpdate {
		g.update(w, row, r)
	}
	bad = w.badOf(i, op)
	switch bad {
	case Good:
		if r.chance(toneRate) && g.name != "" {
			if v, ok := retone(row[g.name].(string)); ok {
				row[g.name] = v
			}
		}
	case BadMissingField:
		delete(row, pick(r, g.required))
	case BadWrongType:
		g.wrongType(row, r)
	case BadValue:
		g.badValue(row, r)
	case BadUnknownID:
		row[g.id] = w.unknownID(c, r)
	case BadMistypedID:
		row[g.id] = w.mistype(row[g.id].(string), r)
	case BadMisspelledName:
		row[g.name] = misspell(row[g.name].(string), r)
	case BadSwappedDOB:
		y, m, d := splitDOB(c.DOB)
		if d > 12 || d == m {
			// the holder was picked before this update, with a date that
			// cannot be swapped and stay a date: misspell instead
			bad = BadMisspelledName
			row[g.name] = misspell(row[g.name].(string), r)
			break
		}
		row[g.dob] = formatDate(y, d, m)
	}
	return g.dataset, op, row, bad
}

// world is one (seed, source, population) stream.
type world struct {
	seed int64
	src  uint64
	pop  PopulationView
	g    *generator
}

func (w world) rng(label string, i uint64) *rng {
	return newRNG(w.seed, w.src, strHash(label), i)
}

func (w world) baseCreate(i uint64) bool {
	return i == 0 || !w.rng("op", i).chance(updateRate)
}

func (w world) doomed(j uint64) bool { return j%4 == 0 && w.rng("doom", j).chance(doomRate) }

// deletes returns the create that record i deletes, if it is a delete.
// Deletes sit at i ≡ 3 (mod 4) and target j = i - deleteLag ≡ 0 (mod 4),
// where no delete can be: so whether j is a create is known without
// recursion.
func (w world) deletes(i uint64) (uint64, bool) {
	if i%4 != 3 || i < deleteLag {
		return 0, false
	}
	j := i - deleteLag
	return j, w.baseCreate(j) && w.doomed(j)
}

// isCreate is true only for records that are creates.
func (w world) isCreate(i uint64) bool {
	if _, ok := w.deletes(i); ok {
		return false
	}
	return w.baseCreate(i)
}

// opOf returns record i's change kind and the index of the create of its key.
func (w world) opOf(i uint64) (connectors.Op, uint64) {
	if j, ok := w.deletes(i); ok {
		return connectors.OpDelete, j
	}
	if w.baseCreate(i) {
		return connectors.OpCreate, i
	}
	r := w.rng("target", i)
	for t := 0; t < 8; t++ {
		j := i - 1 - uint64(r.intn(int(min(i, updateWindow))))
		if w.isCreate(j) {
			return connectors.OpUpdate, j
		}
	}
	return connectors.OpCreate, i
}

// badOf decides whether record i is deliberately bad, and how.
func (w world) badOf(i uint64, op connectors.Op) BadKind {
	if op == connectors.OpDelete {
		return Good
	}
	r := w.rng("bad", i)
	if !r.chance(BadRate) {
		return Good
	}
	if w.g.id == "" { // names no person: only the schema can catch it
		return pick(r, BadKinds[:3])
	}
	return pick(r, BadKinds)
}

// entity returns the holder and the row created at record j (the key and
// everything an update does not change).
func (w world) entity(j uint64) (contract.Citizen, map[string]any) {
	r := w.rng("entity", j)
	// a create that will swap the date of birth needs a holder whose day
	// is a possible month
	swap := w.badOf(j, connectors.OpCreate) == BadSwappedDOB
	var c contract.Citizen
	if w.g.rare {
		// few citizens qualify (the deceased): walk the register from a
		// random start instead of drawing at random
		start, n := r.intn(w.pop.Len()), w.pop.Len()
		for t := 0; t < min(n, rareScan); t++ {
			c = w.pop.At((start + t) % n)
			if w.g.want(c) && (!swap || swappable(c.DOB)) {
				break
			}
		}
	} else {
		for t := 0; t < 32; t++ {
			c = w.pop.At(r.intn(w.pop.Len()))
			if w.g.want(c) && (!swap || swappable(c.DOB)) {
				break
			}
		}
	}
	row := w.g.create(w, j, c, r)
	if w.g.id == "" {
		return c, row
	}
	id := c.ID
	if c.OldID != "" && w.g.legacy && r.chance(legacyRate) {
		id = c.OldID
	}
	row[w.g.id] = id
	row[w.g.name] = c.FullName
	row[w.g.dob] = c.DOB
	if w.g.sex != "" {
		row[w.g.sex] = c.Sex
	}
	return c, row
}

// unknownID returns a well-formed personal number, consistent with the
// holder's birth year and sex, that belongs to nobody and differs from the
// holder's own number in at least two digits (one digit is a typo, not an
// unknown number).
func (w world) unknownID(c contract.Citizen, r *rng) string {
	n, err := cccd.Parse(c.ID)
	if err != nil {
		panic("synthetic: population number does not parse: " + err.Error())
	}
	var id string
	for t := 0; t < 64; t++ {
		id = cccd.Make(n.Province, n.Year, n.Sex, r.intn(serialSpace))
		if hamming(id, c.ID) >= 2 && !w.pop.Has(id) {
			return id
		}
	}
	return id
}

// mistype changes one digit of a number, to one that belongs to nobody.
func (w world) mistype(id string, r *rng) string {
	b := []byte(id)
	for t := 0; t < 64; t++ {
		copy(b, id)
		p := r.intn(len(b))
		b[p] = byte('0' + (int(b[p]-'0')+1+r.intn(9))%10)
		if !w.pop.Has(string(b)) {
			break
		}
	}
	return string(b)
}

func hamming(a, b string) int {
	n := 0
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func swappable(dob string) bool {
	_, m, d := splitDOB(dob)
	return d <= 12 && d != m
}

func splitDOB(dob string) (y, m, d int) {
	y, _ = strconv.Atoi(dob[:4])
	m, _ = strconv.Atoi(dob[5:7])
	d, _ = strconv.Atoi(dob[8:10])
	return
}

// misspell changes one letter of the name or, half the time when it has
// any, drops its diacritics, as a keyboard without Vietnamese input would.
func misspell(name string, r *rng) string {
	if stripped := stripDiacritics(name); stripped != name && r.chance(0.5) {
		return stripped
	}
	rs := []rune(name)
	var at []int
	for i, c := range rs {
		if c >= 'a' && c <= 'z' && i > 0 && rs[i-1] != ' ' {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return stripDiacritics(name) + "h"
	}
	return replaceLetter(r, rs, pick(r, at))
}

// stripDiacritics removes every mark and writes đ as d.
func stripDiacritics(s string) string {
	var b strings.Builder
	for _, c := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, c):
		case c == 'đ':
			b.WriteByte('d')
		case c == 'Đ':
			b.WriteByte('D')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Dates.

const dateLayout = "2006-01-02"

func mustDate(s string) time.Time {
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// dateBetween draws a date in [from, to], or returns from when to is
// earlier.
func dateBetween(r *rng, from, to time.Time) string {
	days := int(to.Sub(from).Hours() / 24)
	if days <= 0 {
		return from.Format(dateLayout)
	}
	return from.AddDate(0, 0, r.intn(days+1)).Format(dateLayout)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func birthYear(c contract.Citizen) int { y, _, _ := splitDOB(c.DOB); return y }

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// replaceLetter puts another lower-case letter at rs[i] (a typo).
func replaceLetter(r *rng, rs []rune, i int) string {
	const letters = "abcdeghiklmnopqrstuvxy"
	for {
		if c := rune(letters[r.intn(len(letters))]); c != rs[i] {
			rs[i] = c
			return string(rs)
		}
	}
}
