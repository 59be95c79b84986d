// Package cccd owns the rules of Vietnamese personal identification numbers
// (số định danh cá nhân, printed on the CCCD citizen identity card) as laid
// down by Circular 07/2016/TT-BCA: the 63 birth-registration province codes,
// the century/sex digit, parsing with errors that say which part is wrong,
// the consistency of a number with a date of birth and sex, the legacy 9-digit
// CMND numbers, and a constructor for generators.
//
// It is a leaf package (standard library only) so that every stage of the bus,
// an agency's connector and the examples share one definition of what a
// valid number is. It sits beside the connector SDK, not in broker/, because
// those outside the bus (an adapter checking numbers before it sends, the
// synthetic sources generating them) need the rules too and must not import
// the bus's internals.
package cccd

import (
	"errors"
	"fmt"
	"strconv"
)

// Len is the length of a personal number; OldLen that of a legacy CMND number.
const (
	Len    = 12
	OldLen = 9
)

// Part names a part of a personal number, used in errors and in the
// disagreements reported by Number.Consistent.
type Part string

const (
	PartLength   Part = "length"    // not 12 characters
	PartDigit    Part = "non_digit" // a character that is not 0-9
	PartProvince Part = "province"  // digits 1-3: not a code of the circular
	PartCentury  Part = "century"   // digit 4: century not issued, or not the claimed one
	PartYear     Part = "year"      // digits 5-6: not the claimed year of birth
	PartSex      Part = "sex"       // digit 4: not the claimed sex
)

// Sentinel errors, one per part, so callers can branch with errors.Is
// without parsing messages.
var (
	ErrLength   = errors.New("cccd: wrong length")
	ErrNotDigit = errors.New("cccd: non-digit character")
	ErrProvince = errors.New("cccd: unknown province code")
	ErrCentury  = errors.New("cccd: century digit not issued")
)

// Error is a parse failure. Its message names the wrong part and what was
// found there, but never repeats the whole number: personal numbers must not
// reach logs in clear.
type Error struct {
	Part   Part
	Pos    int    // byte offset of the offending part in the input
	Detail string // what was found there
}

func (e *Error) Error() string {
	return fmt.Sprintf("cccd: invalid personal number: %s at offset %d: %s", e.Part, e.Pos, e.Detail)
}

// Is matches the sentinel of the error's part.
func (e *Error) Is(target error) bool {
	switch e.Part {
	case PartLength:
		return target == ErrLength
	case PartDigit:
		return target == ErrNotDigit
	case PartProvince:
		return target == ErrProvince
	case PartCentury:
		return target == ErrCentury
	}
	return false
}

// centuryBase is the first year of the century encoded by each pair of
// century/sex digits (0/1, 2/3, …), per Article 7 of the circular: 20th
// century 0 male / 1 female, 21st 2 / 3, 22nd 4 / 5, 23rd 6 / 7, 24th 8 / 9.
var centuryBase = [5]int{1900, 2000, 2100, 2200, 2300}

// issuedUpTo is the last century digit pair that can appear on a real number
// today: nobody has been born in the 2100s yet, so digits 4-9, while defined
// by the circular, mark a typo or a forgery.
const issuedUpTo = 1

// Number is a parsed personal number. Its string fields are slices of the
// parsed input, so Parse does not allocate.
type Number struct {
	Province string // birth-registration province code, 3 digits
	Sex      string // "M" or "F", from the century/sex digit
	Year     int    // full year of birth, from the century digit and digits 5-6
	Serial   int    // the last six digits
	s        string
	v        uint64 // the 12 digits as an integer
}

// Parse checks the structure of a 12-digit personal number. It reports the
// first wrong part as an *Error: length, a non-digit character, an unknown
// province code, or a century digit that cannot have been issued yet.
func Parse(s string) (Number, error) {
	if len(s) != Len {
		return Number{}, &Error{Part: PartLength, Pos: 0, Detail: fmt.Sprintf("%d bytes, want %d digits", len(s), Len)}
	}
	v, ok := digits12(s)
	if !ok {
		for i := 0; i < Len; i++ {
			if !isDigit(s[i]) {
				return Number{}, &Error{Part: PartDigit, Pos: i, Detail: fmt.Sprintf("byte %q", s[i])}
			}
		}
	}
	code := int(v / 1e9)
	if provinceByNum[code] == 0 {
		return Number{}, &Error{Part: PartProvince, Pos: 0, Detail: fmt.Sprintf("code %s is not in Circular 07/2016/TT-BCA", s[:3])}
	}
	d := int(s[3] - '0')
	if d/2 > issuedUpTo {
		return Number{}, &Error{Part: PartCentury, Pos: 3, Detail: fmt.Sprintf("digit %d encodes births in %d-%d, not issued yet", d, centuryBase[d/2], centuryBase[d/2]+99)}
	}
	n := Number{Province: s[:3], s: s, v: v, Sex: "F", Serial: int(v % 1e6)}
	if d%2 == 0 {
		n.Sex = "M"
	}
	n.Year = centuryBase[d/2] + int(v/1e6%100)
	return n, nil
}

// digits12 reads 12 ASCII digits eight and four at a time (SWAR: the
// digits of a word are checked and combined in a few operations instead of
// one loop step each), the hot path of every verification.
func digits12(s string) (uint64, bool) {
	_ = s[11]
	a := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	b := uint64(s[8]) | uint64(s[9])<<8 | uint64(s[10])<<16 | uint64(s[11])<<24
	const zeros, high, six = 0x3030303030303030, 0xF0F0F0F0F0F0F0F0, 0x0606060606060606
	// every byte is 0x30-0x39: its high nibble is 3, and adding 6 keeps it 3
	if a&high != zeros || (a+six)&high != zeros || b&(high>>32) != zeros>>32 || (b+six>>32)&(high>>32) != zeros>>32 {
		return 0, false
	}
	a -= zeros
	b -= zeros >> 32
	// the first digit is in the lowest byte: combine pairs, quads, octets
	a = (a*10 + a>>8) & 0x00FF00FF00FF00FF
	a = (a*100 + a>>16) & 0x0000FFFF0000FFFF
	a = (a*10000 + a>>32) & 0xFFFFFFFF
	b = (b*10 + b>>8) & 0x00FF00FF
	b = (b*100 + b>>16) & 0xFFFF
	return a*10000 + b, true
}

// String returns the 12 digits.
func (n Number) String() string { return n.s }

// Uint64 returns the number as an integer (it fits in 40 bits), for compact
// indexes.
func (n Number) Uint64() uint64 { return n.v }

// ProvinceName returns the name of the birth-registration province.
func (n Number) ProvinceName() string {
	name, _ := ProvinceName(n.Province)
	return name
}

// Century returns the first year of the century of birth (1900, 2000).
func (n Number) Century() int { return n.Year / 100 * 100 }

// Consistent compares the number with a claimed date of birth ("YYYY-MM-DD",
// only the year is encoded) and sex ("M" or "F") and lists the parts that
// disagree: "century", "year", "sex". An empty argument is not compared, nor
// is a date whose year is not four digits (that is a format problem of the
// claim, not of the number). A nil result means consistent; it does not
// allocate then, which matters on the bus's hot path.
func (n Number) Consistent(dob, sex string) []string {
	var out []string
	if len(dob) >= 4 && isDigit(dob[0]) && isDigit(dob[1]) && isDigit(dob[2]) && isDigit(dob[3]) {
		y := int(dob[0]-'0')*1000 + int(dob[1]-'0')*100 + int(dob[2]-'0')*10 + int(dob[3]-'0')
		if y/100 != n.Year/100 {
			out = append(out, string(PartCentury))
		}
		if y%100 != n.Year%100 {
			out = append(out, string(PartYear))
		}
	}
	if (sex == "M" || sex == "F") && sex != n.Sex {
		out = append(out, string(PartSex))
	}
	return out
}

// IsOldCMND reports whether s has the shape of a legacy 9-digit identity
// card (CMND) number. Those numbers carry no checkable structure, so shape is
// all there is to check.
func IsOldCMND(s string) bool {
	if len(s) != OldLen {
		return false
	}
	for i := 0; i < OldLen; i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// CenturyDigit returns the century/sex digit for a year of birth and sex
// ("M" or "F"), and false when the circular defines none (years before 1900
// or after 2399, or another sex value).
func CenturyDigit(year int, sex string) (byte, bool) {
	if year < centuryBase[0] || year >= centuryBase[len(centuryBase)-1]+100 {
		return 0, false
	}
	d := byte((year/100 - 19) * 2)
	switch sex {
	case "M":
	case "F":
		d++
	default:
		return 0, false
	}
	return '0' + d, true
}

// Make builds the personal number of someone born in birthYear in a province
// with a given sex and 6-digit serial. It is meant for generators and tests,
// where bad input is a bug, so it panics on an unknown province, a year or
// sex without a century digit, or a serial outside 0-999999.
func Make(province string, birthYear int, sex string, serial int) string {
	if _, ok := ProvinceName(province); !ok {
		panic("cccd.Make: unknown province code " + strconv.Quote(province))
	}
	d, ok := CenturyDigit(birthYear, sex)
	if !ok {
		panic(fmt.Sprintf("cccd.Make: no century digit for year %d sex %q", birthYear, sex))
	}
	if serial < 0 || serial > 999999 {
		panic(fmt.Sprintf("cccd.Make: serial %d out of range", serial))
	}
	var b [Len]byte
	copy(b[:3], province)
	b[3] = d
	b[4] = byte('0' + birthYear/10%10)
	b[5] = byte('0' + birthYear%10)
	for i := Len - 1; i >= 6; i-- {
		b[i] = byte('0' + serial%10)
		serial /= 10
	}
	return string(b[:])
}
