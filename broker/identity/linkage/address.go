package linkage

import (
	"strings"
	"unicode"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
)

// Address is a Vietnamese address in comparison form: folded (NFC, lower
// case, no diacritics, đ → d), the usual abbreviations expanded (P. → phường,
// Q. → quận, TP. → thành phố, H. → huyện, X. → xã, TX. → thị xã, TT. → thị
// trấn, SN → số nhà, Đ. → đường, P1 → phường 1, TP.HCM → Hồ Chí Minh), and
// cut into its levels with the administrative word dropped: "Số 012 đường
// Lê Lợi, P. Bến Nghé, Q.1, TP.HCM" and "12 Le Loi, Phuong Ben Nghe, Quan
// 1, Thanh pho Ho Chi Minh" both read House "12", Street "le loi", Commune
// "ben nghe", District "1", Province 79. A part the address does not give
// is empty (Province 0).
type Address struct {
	House    string // house number: leading zeros dropped, "12", "12/3", "12a"
	Street   string // street, or hamlet with its word ("thon 3", "ap tan phu")
	Commune  string // phường / xã / thị trấn
	District string // quận / huyện / thị xã / thành phố (of a province)
	Province int    // province code (the CCCD's three digits as a number)
}

// Empty reports whether nothing of the address was understood.
func (a Address) Empty() bool {
	return a.House == "" && a.Street == "" && a.Commune == "" && a.District == "" && a.Province == 0
}

// String writes the comparison form, levels separated by " | ".
func (a Address) String() string {
	p := ""
	if a.Province != 0 {
		p = pad3(a.Province)
	}
	return a.House + " | " + a.Street + " | " + a.Commune + " | " + a.District + " | " + p
}

func pad3(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

// Address segment kinds.
const (
	segNone = iota
	segCommune
	segDistrict
	segCity // thành phố: a province's city (a district) or a centrally-run city
	segProvince
)

// adminWords begin an address segment: their kind, in folded words.
var adminWords = []struct {
	words []string
	kind  int
}{
	{[]string{"thi", "tran"}, segCommune},
	{[]string{"thi", "xa"}, segDistrict},
	{[]string{"thanh", "pho"}, segCity},
	{[]string{"phuong"}, segCommune},
	{[]string{"xa"}, segCommune},
	{[]string{"quan"}, segDistrict},
	{[]string{"huyen"}, segDistrict},
	{[]string{"tinh"}, segProvince},
}

// abbrev expands an abbreviated word (folded, without its dot) to folded
// words. Single consonants are never Vietnamese syllables, so they are
// abbreviations whether or not a dot follows.
var abbrev = map[string][]string{
	"p": {"phuong"}, "f": {"phuong"}, "ph": {"phuong"}, "q": {"quan"}, "h": {"huyen"}, "x": {"xa"},
	"tp": {"thanh", "pho"}, "tx": {"thi", "xa"}, "tt": {"thi", "tran"}, "t": {"tinh"},
	"sn": {"so", "nha"}, "d": {"duong"}, "dg": {"duong"}, "kp": {"khu", "pho"},
}

// provinceAliases are names of provinces beside the official ones.
var provinceAliases = map[string]int{
	"hcm": 79, "tphcm": 79, "sai gon": 79, "sg": 79, "thanh pho ho chi minh": 79,
	"hn": 1, "tphn": 1, "brvt": 77, "hue": 46, "tt hue": 46,
}

// provinceByName maps the folded names of the 63 provinces to their codes.
var provinceByName = func() map[string]int {
	m := map[string]int{}
	for _, p := range cccd.Provinces() {
		code := int(p.Code[0]-'0')*100 + int(p.Code[1]-'0')*10 + int(p.Code[2]-'0')
		m[strings.Join(addrWords(identity.Fold(p.Name)), " ")] = code
	}
	for k, v := range provinceAliases {
		m[k] = v
	}
	return m
}()

// centralCity: the provinces that are a "thành phố".
var centralCity = map[int]bool{1: true, 31: true, 48: true, 79: true, 92: true}

// addrWords splits a folded string into words: letters and digits, with
// '/' kept inside a number (12/3); anything else separates.
func addrWords(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '/')
	})
}

// ParseAddress reads an address as written by a clerk or a register. It
// never fails: what it cannot place is left out, and an address of which
// nothing is understood is Empty.
func ParseAddress(s string) Address {
	var a Address
	f := identity.Fold(s)
	if len(f) > 512 { // no address is longer; the rest is not read
		f = strings.ToValidUTF8(f[:512], "")
	}
	// parts: comma or semicolon separated; words with their abbreviations
	// expanded, and "p1" / "q10" split
	type segment struct {
		kind  int
		words []string
	}
	var segs []segment
	for _, part := range strings.FieldsFunc(f, func(r rune) bool { return r == ',' || r == ';' || r == '\n' }) {
		var ws []string
		for _, w := range strings.FieldsFunc(part, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '/')
		}) {
			if x, ok := abbrev[w]; ok {
				ws = append(ws, x...)
				continue
			}
			// a letter prefix glued to a number: p1, q10, f7
			if i := strings.IndexFunc(w, unicode.IsDigit); i > 0 && strings.IndexFunc(w[i:], func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
				if x, ok := abbrev[w[:i]]; ok {
					ws = append(ws, x...)
					ws = append(ws, w[i:])
					continue
				}
			}
			// "tp.hcm" arrives as "tp" "hcm"; "tphcm" as one word
			ws = append(ws, w)
		}
		if len(ws) == 0 {
			continue
		}
		// cut the part at every administrative word
		cur := segment{}
		for i := 0; i < len(ws); {
			kind, n := adminAt(ws, i)
			if n > 0 && i+n < len(ws) {
				if len(cur.words) > 0 || cur.kind != segNone {
					segs = append(segs, cur)
				}
				cur = segment{kind: kind}
				i += n
				continue
			}
			cur.words = append(cur.words, ws[i])
			i++
		}
		if len(cur.words) > 0 {
			segs = append(segs, cur)
		}
	}
	if len(segs) == 0 {
		return a
	}
	// a province written without a comma after the district or commune
	// ("… Q10 TPHCM"): the last segment's trailing words
	if last := &segs[len(segs)-1]; last.kind == segDistrict || last.kind == segCommune {
		for n := min(4, len(last.words)-1); n >= 1; n-- {
			tail := last.words[len(last.words)-n:]
			if _, ok := provinceByName[strings.Join(tail, " ")]; ok {
				last.words = last.words[:len(last.words)-n]
				segs = append(segs, segment{kind: segProvince, words: tail})
				break
			}
		}
	}
	// the province: the last segment, when it names one
	last := &segs[len(segs)-1]
	if last.kind == segProvince || last.kind == segCity || last.kind == segNone {
		if code, ok := provinceByName[strings.Join(last.words, " ")]; ok && (last.kind != segCity || centralCity[code] || len(segs) > 1 && segs[len(segs)-2].kind == segDistrict) {
			a.Province = code
			segs = segs[:len(segs)-1]
		} else if last.kind == segProvince {
			segs = segs[:len(segs)-1] // an unknown province: not used
		}
	}
	var untyped [][]string
	for _, sg := range segs {
		name := strings.Join(trimZeros(sg.words), " ")
		switch sg.kind {
		case segCommune:
			if a.Commune == "" {
				a.Commune = name
			}
		case segDistrict, segCity:
			if a.District == "" {
				a.District = name
			}
		case segProvince:
		default:
			untyped = append(untyped, sg.words)
		}
	}
	if len(untyped) == 0 {
		return a
	}
	// the first untyped segment is the street (a segment that is only a
	// house number is joined with the next one); later untyped ones fill
	// the commune and the district, in that order, when they are empty
	street := untyped[0]
	rest := untyped[1:]
	if isHouseOnly(street) && len(rest) > 0 {
		street = append(append([]string{}, street...), rest[0]...)
		rest = rest[1:]
	}
	a.House, a.Street = splitHouse(street)
	for _, ws := range rest {
		name := strings.Join(trimZeros(ws), " ")
		switch {
		case a.Commune == "":
			a.Commune = name
		case a.District == "":
			a.District = name
		case a.Province == 0:
			a.Province = provinceByName[name]
		}
	}
	return a
}

// adminAt reports the administrative word starting at ws[i], if any.
func adminAt(ws []string, i int) (kind, n int) {
	for _, aw := range adminWords {
		if i+len(aw.words) > len(ws) {
			continue
		}
		ok := true
		for j, w := range aw.words {
			if ws[i+j] != w {
				ok = false
				break
			}
		}
		if ok {
			return aw.kind, len(aw.words)
		}
	}
	return segNone, 0
}

// houseWords introduce a house number.
var houseWords = map[string]bool{"so": true, "nha": true}

func isHouseOnly(ws []string) bool {
	num := false
	for _, w := range ws {
		switch {
		case houseWords[w]:
		case isNumber(w) && !num:
			num = true
		default:
			return false
		}
	}
	return num
}

// isNumber: a word starting with a digit (12, 12a, 12/3).
func isNumber(w string) bool { return w != "" && w[0] >= '0' && w[0] <= '9' }

// splitHouse takes the house number (after "số", "số nhà") off the front
// of a street segment and drops the word "đường" before the street name.
func splitHouse(ws []string) (house, street string) {
	i := 0
	for i < len(ws) && houseWords[ws[i]] {
		i++
	}
	if i < len(ws) && isNumber(ws[i]) {
		house = trimZero(ws[i])
		i++
	} else {
		i = 0
	}
	rest := ws[i:]
	if len(rest) > 1 && (rest[0] == "duong" || rest[0] == "pho") {
		rest = rest[1:]
	}
	return house, strings.Join(trimZeros(rest), " ")
}

// trimZero drops the leading zeros of each number of a house number
// (012/03 → 12/3).
func trimZero(w string) string {
	if !strings.ContainsAny(w, "0") {
		return w
	}
	parts := strings.Split(w, "/")
	for k, p := range parts {
		for len(p) > 1 && p[0] == '0' && p[1] >= '0' && p[1] <= '9' {
			p = p[1:]
		}
		parts[k] = p
	}
	return strings.Join(parts, "/")
}

func trimZeros(ws []string) []string {
	out := ws
	for k, w := range ws {
		if isNumber(w) {
			if t := trimZero(w); t != w {
				if &out[0] == &ws[0] {
					out = append([]string(nil), ws...)
				}
				out[k] = t
			}
		}
	}
	return out
}
