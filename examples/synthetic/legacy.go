package synthetic

import (
	"fmt"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/identity/cccd"
)

// LegacyRecord is one person of a ministry's legacy extract, as written
// by a clerk, with the ground truth next to it: Truth is the personal
// number of the citizen the record describes ("" for a person who is not in
// the register), Errors lists the deliberate corruptions applied. The JSON
// names are the columns the reconciler understands without a mapping.
type LegacyRecord struct {
	RecordID   string   `json:"record_id"`
	PersonalID string   `json:"personal_id"`
	OldID      string   `json:"old_cmnd"`
	FullName   string   `json:"full_name"`
	DOB        string   `json:"dob"`
	Sex        string   `json:"sex"`
	Province   string   `json:"province_code"`
	Truth      string   `json:"truth"`
	Errors     []string `json:"errors,omitempty"`
}

// LegacyOptions are the corruption rates of a legacy extract. Each error
// is drawn independently per record.
type LegacyOptions struct {
	WithNumber  bool    // keep the personal number (for the strict-comparison study)
	Outsiders   float64 // share of people not in the register
	Typo        float64 // one letter of the name changed
	Diacritics  float64 // all diacritics dropped, đ written d
	Retone      float64 // old/new tone placement swapped
	Reorder     float64 // surname written last
	DropMiddle  float64 // a middle name left out (names of 3+ words)
	SwapDate    float64 // day and month exchanged (when both ≤ 12 and differ)
	DigitDate   float64 // one digit of the date changed
	NoDate      float64
	NoSex       float64
	WrongSex    float64
	NewProvince float64 // the province written with its post-2025 code
	NoProvince  float64
	KeepCMND    float64 // share of CMND holders whose CMND is written
	TypoCMND    float64 // of those, share with one digit changed
}

// DefaultLegacyOptions are the documented corruption levels of the
// linkage benchmarks: about one record in two carries at least one error.
func DefaultLegacyOptions() LegacyOptions {
	return LegacyOptions{
		Outsiders: 0.05, Typo: 0.10, Diacritics: 0.15, Retone: 0.05, Reorder: 0.05, DropMiddle: 0.05,
		SwapDate: 0.04, DigitDate: 0.03, NoDate: 0.01, NoSex: 0.02, WrongSex: 0.005,
		NewProvince: 0.2, NoProvince: 0.3, KeepCMND: 0.6, TypoCMND: 0.05,
	}
}

// Legacy returns record i of the legacy extract of a seed over pop:
// records 0 … pop.Len()-1 describe distinct people. It
// depends on (seed, pop size, i, opts) only; it does not change any other
// generator's output.
func Legacy(seed int64, pop PopulationView, i uint64, o LegacyOptions) LegacyRecord {
	r := newRNG(seed, strHash("legacy"), i)
	rec := LegacyRecord{RecordID: fmt.Sprintf("L%09d", i)}
	var c = Citizen(seed, pop.Len()+int(i)) // someone born elsewhere: not in the register
	if !r.chance(o.Outsiders) {
		// a permutation, so that records i < population size are distinct
		// people (an extract has one row per person)
		n := uint64(pop.Len())
		c = pop.At(int(newPerm(n, seed, "legacy").Apply(i % n)))
		rec.Truth = c.ID
	}
	bad := func(kind string) { rec.Errors = append(rec.Errors, kind) }
	if o.WithNumber {
		rec.PersonalID = c.ID
	}
	name := c.FullName
	words := strings.Fields(name)
	if r.chance(o.DropMiddle) && len(words) >= 3 {
		words = append(words[:1:1], words[2:]...)
		bad("drop_middle")
	}
	if r.chance(o.Reorder) && len(words) >= 2 {
		words = append(words[1:], words[0])
		bad("reorder")
	}
	name = strings.Join(words, " ")
	if r.chance(o.Retone) {
		if v, ok := retone(name); ok {
			name = v
			bad("retone")
		}
	}
	if r.chance(o.Diacritics) {
		if v := stripDiacritics(name); v != name {
			name = v
			bad("diacritics")
		}
	}
	if r.chance(o.Typo) {
		name = typo(name, r)
		bad("typo")
	}
	rec.FullName = name
	y, m, d := splitDOB(c.DOB)
	switch {
	case r.chance(o.NoDate):
		bad("no_date")
	case r.chance(o.SwapDate) && d <= 12 && d != m:
		rec.DOB = formatDate(y, d, m)
		bad("swap_date")
	case r.chance(o.DigitDate):
		rec.DOB = digitOff(c.DOB, r)
		bad("digit_date")
	default:
		rec.DOB = c.DOB
	}
	rec.Sex = c.Sex
	switch {
	case r.chance(o.NoSex):
		rec.Sex = ""
		bad("no_sex")
	case r.chance(o.WrongSex):
		rec.Sex = map[string]string{"M": "F", "F": "M"}[c.Sex]
		bad("wrong_sex")
	}
	rec.Province = c.BirthProvince
	switch {
	case r.chance(o.NoProvince):
		rec.Province = ""
	case r.chance(o.NewProvince):
		rec.Province, _ = cccd.Province2025(c.BirthProvince)
	}
	if c.OldID != "" && r.chance(o.KeepCMND) {
		rec.OldID = c.OldID
		if r.chance(o.TypoCMND) {
			b := []byte(rec.OldID)
			k := r.intn(9)
			b[k] = '0' + (b[k]-'0'+byte(1+r.intn(9)))%10
			rec.OldID = string(b)
			bad("typo_cmnd")
		}
	}
	return rec
}

// typo changes one letter inside a word of the name (never the first
// letter of a word), keeping its diacritics elsewhere.
func typo(name string, r *rng) string {
	rs := []rune(name)
	var at []int
	for i, c := range rs {
		if i > 0 && rs[i-1] != ' ' && c != ' ' {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return name + "h"
	}
	i := pick(r, at)
	const letters = "abcdeghiklmnopqrstuvxy"
	for {
		if c := rune(letters[r.intn(len(letters))]); c != rs[i] {
			rs[i] = c
			return string(rs)
		}
	}
}

// digitOff changes one digit of a YYYY-MM-DD date so that it stays a
// valid date (tries a few times, else returns the date unchanged).
func digitOff(dob string, r *rng) string {
	for range 20 {
		b := []byte(dob)
		pos := [...]int{2, 3, 5, 6, 8, 9}[r.intn(6)]
		b[pos] = '0' + (b[pos]-'0'+byte(1+r.intn(9)))%10
		y, m, d := splitDOB(string(b))
		if m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m) && y <= registerYear {
			return string(b)
		}
	}
	return dob
}
