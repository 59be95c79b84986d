// Package synthetic generates the deterministic synthetic world of the dev
// mode: a population register (Citizen, Population) and the five
// ministries' change streams that refer to it (Stream), including a small,
// labelled share of deliberately bad records, plus a connector adapter
// ("synthetic") that serves a stream through the connector SDK.
//
// Everything is a pure function of a seed and an index, so citizen i or
// record i can be regenerated alone, a restarted connector resumes with
// exactly the records it would have produced, and tests can compare runs.
//
// It is test data for whoever needs citizens and records without personal
// data: the bus's own tests, and a ministry's IT team testing its connector
// or mapping. Like every adapter it imports only the SDK (connectors,
// contract, cccd); lgsp dev plugs it into the bus (examples/synthetic/plug).
package synthetic

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// serialSpace is the number of distinct 6-digit serials of a personal
// number. Citizen i gets serial perm(i mod serialSpace); citizens sharing a
// serial are given different prefixes (province, century/sex, year), which
// is what makes every number unique without a lookup table.
const serialSpace = 1_000_000

// MaxPopulation bounds the population size (the dev configuration's
// limit): citizen i in block k = i/1,000,000 costs k+1 candidate draws to
// keep its number unique, a few microseconds at this size.
const MaxPopulation = 50_000_000

// registerYear is the year of the register's snapshot: births run to mid
// 2025, and the ministries' records are dated up to then.
const registerYear = 2025

// demo is the part of a citizen that the personal number encodes, plus the
// rest of the date of birth.
type demo struct {
	province         string
	year, month, day int
	sex              string
}

// prefix is the first six digits of the personal number, as an int.
func (d demo) prefix() int {
	p, _ := strconv.Atoi(d.province)
	c, _ := cccd.CenturyDigit(d.year, d.sex)
	return p*1000 + int(c-'0')*100 + d.year%100
}

func (d demo) dob() string { return formatDate(d.year, d.month, d.day) }

// formatDate writes YYYY-MM-DD without fmt, which dominated the cost of
// generating a citizen.
func formatDate(y, m, d int) string {
	b := [10]byte{
		byte('0' + y/1000%10), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-',
		byte('0' + d/10), byte('0' + d%10),
	}
	return string(b[:])
}

var (
	provinceCodes []string
	provinceCum   []float64
)

func init() {
	ws := []float64{}
	for _, p := range cccd.Provinces() {
		provinceCodes = append(provinceCodes, p.Code)
		ws = append(ws, provincePop[p.Code])
	}
	provinceCum = cumulative(ws)
}

// candidate draws the t-th candidate demographics of citizen i.
func candidate(seed int64, i, t int) demo {
	r := newRNG(seed, strHash("demo"), uint64(i), uint64(t))
	d := demo{province: provinceCodes[r.weighted(provinceCum)], sex: "F"}
	if r.chance(0.51) {
		d.sex = "M"
	}
	dec := decades[r.weighted(decadeCum)]
	d.year = r.between(dec.from, dec.to)
	lastMonth := 12
	if d.year == registerYear {
		lastMonth = 6 // the register's cut-off is mid-2025
	}
	d.month = r.between(1, lastMonth)
	d.day = r.between(1, daysIn(d.year, d.month))
	return d
}

// demoOf returns citizen i's demographics: the first candidate whose
// number prefix no earlier citizen with the same serial has.
func demoOf(seed int64, i int) demo {
	r, k := i%serialSpace, i/serialSpace
	used := make([]int, 0, k+1)
	var d demo
	for kk := 0; kk <= k; kk++ {
		j := r + kk*serialSpace
		for t := 0; ; t++ {
			d = candidate(seed, j, t)
			if !slices.Contains(used, d.prefix()) {
				break
			}
		}
		used = append(used, d.prefix())
	}
	return d
}

func serialPerm(seed int64) perm { return newPerm(serialSpace, seed, "cccd-serial") }
func cmndPerm(seed int64) perm   { return newPerm(1_000_000_000, seed, "cmnd") }

// Citizen returns citizen i (0-based) of the population of a seed. It
// depends on (seed, i) only: the population of size n is citizens 0…n-1.
func Citizen(seed int64, i int) contract.Citizen {
	d := demoOf(seed, i)
	serial := serialPerm(seed).Apply(uint64(i % serialSpace))
	r := newRNG(seed, strHash("citizen"), uint64(i))
	c := contract.Citizen{
		ID:            cccd.Make(d.province, d.year, d.sex, int(serial)),
		FullName:      fullName(r, d.sex, d.year, d.province),
		DOB:           d.dob(),
		Sex:           d.sex,
		BirthProvince: d.province,
	}
	// CMND cards were issued from age 14 until the CCCD replaced them, so
	// only people born before 2006 can have one; 40% of them gives ~30%.
	if r.chance(0.4) && d.year < 2006 {
		c.OldID = fmt.Sprintf("%09d", cmndPerm(seed).Apply(uint64(i)))
	}
	// ~0.5% deceased, most of them old.
	p := 0.003
	switch {
	case d.year < 1950:
		p = 0.03
	case d.year < 1970:
		p = 0.008
	}
	c.Deceased = r.chance(p)
	return c
}

// fullName draws a sex- and generation-appropriate full name.
func fullName(r *rng, sex string, year int, province string) string {
	sur := surnames[r.weighted(surnameCum)].name
	if southern(province) && r.chance(0.7) {
		switch sur {
		case "Hoàng":
			sur = "Huỳnh"
		case "Vũ":
			sur = "Võ"
		}
	}
	var mids, extra, given []string
	switch {
	case sex == "M" && year < 1980:
		mids, extra, given = middleOldM, middleNewM, givenM
	case sex == "M":
		mids, extra, given = middleNewM, middleNewM, givenM
	case year < 1980:
		mids, extra, given = middleOldF, middleNewF, givenF
	default:
		mids, extra, given = middleNewF, middleNewF, givenF
	}
	common, share := commonShare(sex, year)
	mid := pick(r, mids)
	if r.chance(share) {
		mid = common
	}
	name := sur + " " + mid
	if year >= 1975 && r.chance(0.15) {
		if m2 := pick(r, extra); m2 != "Văn" && m2 != "Thị" && !containsWord(name, m2) {
			name += " " + m2
		}
	}
	g := pick(r, given)
	if containsWord(name, g) { // "Nguyễn Minh Minh" is possible but rare
		g = pick(r, given)
	}
	return name + " " + g
}

func containsWord(name, w string) bool {
	for name != "" {
		var x string
		x, name, _ = strings.Cut(name, " ")
		if x == w {
			return true
		}
	}
	return false
}

// Population returns citizens 0…n-1 of a seed.
func Population(seed int64, n int) []contract.Citizen {
	out := make([]contract.Citizen, n)
	for i := range out {
		out[i] = Citizen(seed, i)
	}
	return out
}

// PopulationView is the population a stream refers to.
type PopulationView interface {
	// Len is the number of citizens.
	Len() int
	// At returns citizen i, 0 ≤ i < Len().
	At(i int) contract.Citizen
	// Has reports whether a 12-digit personal number or 9-digit CMND
	// number belongs to a citizen.
	Has(id string) bool
}

// Pop is the population of a seed, generated on demand: it holds no
// citizens, so any size costs no memory.
type Pop struct {
	seed   int64
	n      int
	serial perm
	cmnd   perm
}

// NewPop returns the view of citizens 0…n-1 of a seed.
func NewPop(seed int64, n int) *Pop {
	return &Pop{seed: seed, n: n, serial: serialPerm(seed), cmnd: cmndPerm(seed)}
}

func (p *Pop) Len() int                  { return p.n }
func (p *Pop) At(i int) contract.Citizen { return Citizen(p.seed, i) }

// Has inverts the serial (or CMND) permutation to find the only citizens
// who could hold id, instead of searching.
func (p *Pop) Has(id string) bool {
	switch {
	case cccd.IsOldCMND(id):
		v, _ := strconv.ParseUint(id, 10, 64)
		i := p.cmnd.Invert(v)
		return i < uint64(p.n) && Citizen(p.seed, int(i)).OldID == id
	case len(id) == cccd.Len:
		n, err := cccd.Parse(id)
		if err != nil {
			return false
		}
		r := int(p.serial.Invert(uint64(n.Serial)))
		for i := r; i < p.n; i += serialSpace {
			if d := demoOf(p.seed, i); d.province == n.Province && d.year == n.Year && d.sex == n.Sex {
				return true
			}
		}
	}
	return false
}

// daysIn is the number of days of month m of year y.
func daysIn(y, m int) int { return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() }
