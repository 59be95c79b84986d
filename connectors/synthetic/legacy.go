package synthetic

import (
	"fmt"
	"strings"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
)

// LegacyRecord is one person of a ministry's legacy extract, as written
// by a clerk, with the ground truth next to it: Truth is the personal
// number of the citizen the record describes ("" for a person who is not in
// the register), Errors lists the deliberate corruptions applied. The JSON
// names are the columns the reconciler understands without a mapping.
type LegacyRecord struct {
	RecordID   string `json:"record_id"`
	PersonalID string `json:"personal_id"`
	OldID      string `json:"old_cmnd"`
	FullName   string `json:"full_name"`
	DOB        string `json:"dob"`
	Sex        string `json:"sex"`
	Province   string `json:"province_code"`
	// Address, Postcode and InsuranceNumber are the extra columns of an
	// extract (see LegacyOptions.Address…): the residence as the clerk
	// wrote it, its postcode, the social-insurance number.
	Address         string   `json:"address,omitempty"`
	Postcode        string   `json:"postcode,omitempty"`
	InsuranceNumber string   `json:"insurance_number,omitempty"`
	Truth           string   `json:"truth"`
	Errors          []string `json:"errors,omitempty"`
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

	// The residence (drawn from a stream of its own, so that these rates
	// never change the fields above). NoAddress: none written; Moved: the
	// address written is an old one (the person moved since); the others
	// rewrite the registered address: administrative words abbreviated
	// (P., Q., TP., H., X., TX., TT.; "TP.HCM"), diacritics dropped, the
	// house number written another way (12, SN 12, số nhà 12), the
	// province (and for half of those the district) left out, one letter
	// of the street or hamlet changed.
	NoAddress, Moved                                              float64
	AddressAbbrev, AddressDiacritics, HouseNumber, AddressPartial float64
	AddressTypo                                                   float64
	// KeepPostcode: share of records with the postcode of the address
	// written (of the residence when none is); PostcodeTypo: of those, one
	// digit changed.
	KeepPostcode, PostcodeTypo float64
	// KeepInsurance: share of the holders of a social-insurance number
	// whose number is written; TypoInsurance: of those, one digit changed.
	KeepInsurance, TypoInsurance float64
}

// DefaultLegacyOptions are the documented corruption levels of the
// linkage benchmarks: about one record in two carries at least one error.
func DefaultLegacyOptions() LegacyOptions {
	return LegacyOptions{
		Outsiders: 0.05, Typo: 0.10, Diacritics: 0.15, Retone: 0.05, Reorder: 0.05, DropMiddle: 0.05,
		SwapDate: 0.04, DigitDate: 0.03, NoDate: 0.01, NoSex: 0.02, WrongSex: 0.005,
		NewProvince: 0.2, NoProvince: 0.3, KeepCMND: 0.6, TypoCMND: 0.05,
		NoAddress: 0.1, Moved: 0.08, AddressAbbrev: 0.4, AddressDiacritics: 0.15, HouseNumber: 0.3,
		AddressPartial: 0.15, AddressTypo: 0.03, KeepPostcode: 0.5, PostcodeTypo: 0.02,
		KeepInsurance: 0.3, TypoInsurance: 0.05,
	}
}

// Legacy returns record i of the legacy extract of a seed over pop:
// records 0 … pop.Len()-1 describe distinct people. It
// depends on (seed, pop size, i, opts) only; it does not change any other
// generator's output.
func Legacy(seed int64, pop PopulationView, i uint64, o LegacyOptions) LegacyRecord {
	r := newRNG(seed, strHash("legacy"), i)
	rec := LegacyRecord{RecordID: fmt.Sprintf("L%09d", i)}
	who := pop.Len() + int(i)
	var c = Citizen(seed, who) // someone born elsewhere: not in the register
	if !r.chance(o.Outsiders) {
		// a permutation, so that records i < population size are distinct
		// people (an extract has one row per person)
		n := uint64(pop.Len())
		who = int(newPerm(n, seed, "legacy").Apply(i % n))
		c = pop.At(who)
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
	legacyExtras(seed, who, i, o, &rec)
	return rec
}

// legacyExtras writes the address, postcode and social-insurance number of
// record i, describing citizen who.
func legacyExtras(seed int64, who int, i uint64, o LegacyOptions, rec *LegacyRecord) {
	r := newRNG(seed, strHash("legacy-extras"), i)
	bad := func(kind string) { rec.Errors = append(rec.Errors, kind) }
	a := Residence(seed, who)
	if r.chance(o.Moved) {
		a = OldAddress(seed, who, i)
		bad("moved")
	}
	postcode := a.Postcode
	if r.chance(o.NoAddress) {
		bad("no_address")
	} else {
		house, street, commune, district, prov := a.House, a.Street, a.Commune, a.District, a.Prov
		if r.chance(o.HouseNumber) && house != "" {
			n := strings.TrimPrefix(house, "Số ")
			switch r.intn(4) {
			case 0:
				house = n
			case 1:
				house = "SN " + n
			case 2:
				house = "số nhà " + n
			default:
				house = "Số nhà " + n + ","
			}
			bad("house_number")
		}
		if r.chance(o.AddressTypo) {
			street = typo(street, r)
			bad("address_typo")
		}
		if r.chance(o.AddressPartial) {
			prov = ""
			if r.chance(0.5) {
				district = ""
			}
			bad("address_partial")
		}
		if r.chance(o.AddressAbbrev) {
			commune, district, prov = abbreviate(commune), abbreviate(district), abbreviate(prov)
			if prov == "TP. Hồ Chí Minh" && r.chance(0.5) {
				prov = "TP.HCM"
			}
			bad("address_abbrev")
		}
		line := joinAddress(house, street, commune, district, prov)
		if r.chance(o.AddressDiacritics) {
			line = stripDiacritics(line)
			bad("address_diacritics")
		}
		rec.Address = line
	}
	if r.chance(o.KeepPostcode) {
		rec.Postcode = postcode
		if r.chance(o.PostcodeTypo) {
			rec.Postcode = digitTypo(rec.Postcode, r)
			bad("typo_postcode")
		}
	}
	if ins := InsuranceNumber(seed, who); ins != "" && r.chance(o.KeepInsurance) {
		rec.InsuranceNumber = ins
		if r.chance(o.TypoInsurance) {
			rec.InsuranceNumber = digitTypo(ins, r)
			bad("typo_insurance")
		}
	}
}

// abbreviations of the administrative words, as clerks write them.
var abbreviations = []struct{ long, short string }{
	{"Thành phố ", "TP. "}, {"Thị xã ", "TX. "}, {"Thị trấn ", "TT. "}, {"Phường ", "P. "},
	{"Quận ", "Q. "}, {"Huyện ", "H. "}, {"Xã ", "X. "}, {"Tỉnh ", ""},
}

// abbreviate shortens the administrative word a part starts with.
func abbreviate(part string) string {
	for _, a := range abbreviations {
		if rest, ok := strings.CutPrefix(part, a.long); ok {
			return a.short + rest
		}
	}
	return part
}

// digitTypo changes one digit of a string of digits.
func digitTypo(s string, r *rng) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	k := r.intn(len(b))
	if b[k] >= '0' && b[k] <= '9' {
		b[k] = '0' + (b[k]-'0'+byte(1+r.intn(9)))%10
	}
	return string(b)
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
	return replaceLetter(r, rs, pick(r, at))
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
