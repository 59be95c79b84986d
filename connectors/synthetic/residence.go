package synthetic

import (
	"strconv"
	"strings"
	"sync"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
)

// Residences. Each citizen has a registered permanent residence, drawn
// apart from the other fields (Citizen is unchanged by it): 85% live in
// their birth province, the others moved, mostly to the large cities. The
// people of one household share an address: the residents of province Q
// are spread over Q's household slots by their index (slot ⌊i·d_Q/3.5⌋,
// d_Q the share of citizens living in Q), so a slot holds about 3.5 people
// whatever the population size, and an address stays a pure function of
// (seed, i).
//
// The geography is synthetic but shaped like the real one before the 2025
// reform: a province has districts (quận / huyện / thị xã / thành phố), a
// district has communes (phường / xã / thị trấn), an urban commune has
// streets with house numbers and a rural one has hamlets (thôn, ấp, xóm).
// Names are drawn from common place-name syllables, so "Xã Tân Phú" exists
// in many provinces, as it does. A commune's postcode is its province's two
// digits and its own three.

// Address is a citizen's registered permanent residence.
type Address struct {
	Line     string // as registered: "Số 12 Lê Lợi, Phường Tân Định, Quận 1, Thành phố Hồ Chí Minh"
	Province string // 3-digit code
	Postcode string // 5 digits
	// the parts of Line, which the legacy generator rewrites
	House    string // "Số 12", "" in a rural hamlet
	Street   string // "Lê Lợi", "Thôn Đông"
	Commune  string // "Phường Tân Định"
	District string // "Quận 1"
	Prov     string // "Thành phố Hồ Chí Minh"
}

const (
	stayShare     = 0.85 // of the citizens, share living in their birth province
	householdSize = 3.5
)

// Residence returns citizen i's registered residence.
func Residence(seed int64, i int) Address {
	birth := demoOf(seed, i).province
	r := newRNG(seed, strHash("residence"), uint64(i))
	q := birth
	if !r.chance(stayShare) {
		q = provinceCodes[r.weighted(migrationCum())]
	}
	d := residentShare()[q]
	slot := uint64(float64(i) * d / householdSize)
	return householdAddress(seed, q, slot)
}

// OldAddress returns an address citizen i had before the registered one
// (k picks among them): another household of the same province, or of the
// birth province.
func OldAddress(seed int64, i int, k uint64) Address {
	r := newRNG(seed, strHash("old-address"), uint64(i), k)
	q := Residence(seed, i).Province
	if r.chance(0.4) {
		q = demoOf(seed, i).province
	}
	return householdAddress(seed, q, r.next()>>20)
}

// InsuranceNumber returns citizen i's 10-digit social-insurance number
// (mã số BHXH: two digits of the birth province, then eight that are unique
// per citizen), "" for the ~20% who have none.
func InsuranceNumber(seed int64, i int) string {
	r := newRNG(seed, strHash("bhxh"), uint64(i))
	if !r.chance(0.8) {
		return ""
	}
	p := demoOf(seed, i).province
	v := insurancePerm(seed).Apply(uint64(i))
	b := []byte("0000000000")
	b[0], b[1] = p[1], p[2]
	for k := 9; k >= 2; k-- {
		b[k] = byte('0' + v%10)
		v /= 10
	}
	return string(b)
}

// insurancePerm is the permutation of 10^8 behind the numbers.
func insurancePerm(seed int64) perm { return newPerm(100_000_000, seed, "bhxh") }

// householdAddress is the address of household slot of province q.
func householdAddress(seed int64, q string, slot uint64) Address {
	g := geography()[q]
	r := newRNG(seed, strHash("household"), strHash(q), slot)
	c := &g.communes[r.intn(len(g.communes))]
	dist := &g.districts[c.district]
	a := Address{Province: q, Commune: c.name, District: dist.name, Prov: g.name}
	a.Postcode = g.postcode + pad3(c.index)
	a.Street = c.streets[r.intn(len(c.streets))]
	if c.urban {
		n := r.between(1, 300)
		h := "Số " + strconv.Itoa(n)
		switch {
		case r.chance(0.2):
			h += "/" + strconv.Itoa(r.between(1, 60))
		case r.chance(0.05):
			h += string(rune('A' + r.intn(4)))
		}
		a.House = h
	}
	a.Line = joinAddress(a.House, a.Street, a.Commune, a.District, a.Prov)
	return a
}

// joinAddress writes an address line from its parts ("" parts left out).
func joinAddress(house, street, commune, district, prov string) string {
	first := strings.TrimSpace(house + " " + street)
	var parts []string
	for _, p := range []string{first, commune, district, prov} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

func pad3(n int) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}

// The synthetic geography.

type province struct {
	name      string // "Tỉnh Nghệ An", "Thành phố Hà Nội"
	postcode  string // two digits
	districts []district
	communes  []commune
}

type district struct {
	name  string
	urban bool
}

type commune struct {
	name     string
	index    int // within the province: the postcode's last three digits
	district int
	urban    bool
	streets  []string // streets (urban) or hamlets (rural)
}

// centralCities are the five centrally-run cities.
var centralCities = map[string]bool{"001": true, "031": true, "048": true, "079": true, "092": true}

var placeSyllables = []string{
	"An", "Bình", "Phú", "Tân", "Hòa", "Thạnh", "Long", "Phước", "Đông", "Tây", "Nam", "Bắc",
	"Trung", "Hưng", "Thuận", "Lộc", "Mỹ", "Vĩnh", "Hiệp", "Thành", "Thịnh", "Quang", "Đức", "Xuân",
	"Hải", "Sơn", "Lâm", "Khánh", "Định", "Lợi", "Hội", "Phong", "Yên", "Cát", "Ninh", "Gia",
	"Thái", "Hà", "Minh", "Kim", "Lạc", "Tiến", "Thắng", "Hồng", "Cẩm", "Tường", "Nghĩa", "Hoà",
}

var hamletNames = []string{"Đông", "Tây", "Nam", "Bắc", "Trung", "Thượng", "Hạ", "Mới", "Cũ", "Chợ", "Đình", "Bến"}

var (
	geoOnce sync.Once
	geo     map[string]*province
)

// geography builds the provinces' districts and communes once (it does
// not depend on the seed).
func geography() map[string]*province {
	geoOnce.Do(func() {
		geo = map[string]*province{}
		for k, code := range provinceCodes {
			geo[code] = buildProvince(code, k)
		}
	})
	return geo
}

func placeName(r *rng, used map[string]bool) string {
	for t := 0; ; t++ {
		n := pick(r, placeSyllables) + " " + pick(r, placeSyllables)
		a, b, _ := strings.Cut(n, " ")
		if a == b {
			continue
		}
		if !used[n] || t > 50 {
			used[n] = true
			return n
		}
	}
}

func buildProvince(code string, k int) *province {
	short, _ := cccd.ProvinceName(code)
	p := &province{name: "Tỉnh " + short, postcode: strconv.Itoa(10 + k)}
	if centralCities[code] {
		p.name = "Thành phố " + short
	}
	r := newRNG(0, strHash("geography"), strHash(code))
	pop := provincePop[code]
	nd := 6 + int(pop/400)
	nc := max(int(pop/9), 40)
	used := map[string]bool{short: true}
	for d := range nd {
		var dt district
		switch {
		case centralCities[code] && d < nd*6/10:
			dt.urban = true
			if code == "079" && d < 12 {
				dt.name = "Quận " + strconv.Itoa(d+1)
			} else {
				dt.name = "Quận " + placeName(r, used)
			}
		case centralCities[code]:
			dt.name = "Huyện " + placeName(r, used)
		case d == 0:
			dt.urban, dt.name = true, "Thành phố "+placeName(r, used)
		case d == 1:
			dt.urban, dt.name = true, "Thị xã "+placeName(r, used)
		default:
			dt.name = "Huyện " + placeName(r, used)
		}
		p.districts = append(p.districts, dt)
	}
	south := code > "048"
	for c := range nc {
		d := c * nd / nc
		first := c == 0 || (c-1)*nd/nc != d
		dt := p.districts[d]
		cm := commune{index: c, district: d, urban: dt.urban}
		names := map[string]bool{}
		switch {
		case dt.urban && code == "079" && strings.HasPrefix(dt.name, "Quận ") && dt.name[len("Quận "):][0] <= '9':
			cm.name = "Phường " + strconv.Itoa(c-firstOf(c, nd, nc)+1)
		case dt.urban:
			cm.name = "Phường " + placeName(r, names)
		case first:
			cm.urban = true
			cm.name = "Thị trấn " + placeName(r, names)
		default:
			cm.name = "Xã " + placeName(r, names)
		}
		if cm.urban {
			for range r.between(6, 12) {
				cm.streets = append(cm.streets, pick(r, streetNames))
			}
		} else {
			kind := "Thôn "
			if south {
				kind = "Ấp "
			} else if r.chance(0.3) {
				kind = "Xóm "
			}
			for h := range r.between(5, 12) {
				if r.chance(0.5) {
					cm.streets = append(cm.streets, kind+strconv.Itoa(h+1))
				} else {
					cm.streets = append(cm.streets, kind+pick(r, hamletNames)+" "+pick(r, placeSyllables))
				}
			}
		}
		p.communes = append(p.communes, cm)
	}
	return p
}

// firstOf is the index of the first commune of commune c's district.
func firstOf(c, nd, nc int) int {
	d := c * nd / nc
	f := c
	for f > 0 && (f-1)*nd/nc == d {
		f--
	}
	return f
}

// streetNames are common street names (people of the national history,
// places, dates).
var streetNames = []string{
	"Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Lý Thường Kiệt", "Hai Bà Trưng", "Quang Trung",
	"Nguyễn Huệ", "Lê Duẩn", "Điện Biên Phủ", "Cách Mạng Tháng Tám", "Phan Chu Trinh", "Hùng Vương",
	"Võ Thị Sáu", "Nguyễn Văn Cừ", "Bạch Đằng", "Trường Chinh", "Lê Thánh Tông", "Ngô Quyền",
	"Phan Đình Phùng", "Nguyễn Du", "Hoàng Diệu", "Lý Tự Trọng", "Nguyễn Thị Minh Khai", "Pasteur",
	"Hoàng Văn Thụ", "Nguyễn Đình Chiểu", "Lê Hồng Phong", "Phạm Ngũ Lão", "Tôn Đức Thắng", "Lạc Long Quân",
	"Âu Cơ", "Nguyễn Chí Thanh", "Trần Phú", "Lê Văn Sỹ", "Cộng Hòa", "Hoàng Hoa Thám",
	"Nguyễn Thái Học", "Đinh Tiên Hoàng", "Lý Thái Tổ", "Trần Quang Khải", "Nguyễn Văn Linh", "Võ Văn Kiệt",
	"Phạm Văn Đồng", "Huỳnh Thúc Kháng", "Nguyễn Khuyến", "Tô Hiến Thành", "Chu Văn An", "Yersin",
	"Ba Tháng Hai", "Mạc Đĩnh Chi", "Kim Mã", "Giải Phóng", "Láng", "Hàng Bài",
}

// residentShare is the share of citizens living in each province: those
// born there who stayed, and those who moved there.
var residentShare = sync.OnceValue(func() map[string]float64 {
	out := map[string]float64{}
	var tb, tm float64
	for _, c := range provinceCodes {
		tb += provincePop[c]
		tm += migrationWeight(c)
	}
	for _, c := range provinceCodes {
		out[c] = stayShare*provincePop[c]/tb + (1-stayShare)*migrationWeight(c)/tm
	}
	return out
})

// migrationWeight weights the provinces people move to: the two large
// cities and the industrial provinces around them draw most.
func migrationWeight(code string) float64 {
	w := provincePop[code]
	switch code {
	case "079", "001":
		w *= 4
	case "074", "075", "048", "027":
		w *= 3
	}
	return w
}

// migrationCum draws a destination (after init has listed the provinces).
var migrationCum = sync.OnceValue(func() []float64 {
	ws := make([]float64, len(provinceCodes))
	for i, c := range provinceCodes {
		ws[i] = migrationWeight(c)
	}
	return cumulative(ws)
})
