package synthetic

import "strings"

// Surname shares follow published estimates for Vietnam (Nguyễn about 38%,
// then Trần, Lê, Phạm …); the long tail shares the rest. Hoàng/Huỳnh and
// Vũ/Võ are one family name each, written Huỳnh and Võ mostly in the south
// (see southern).
var surnames = []struct {
	name  string
	share float64 // percent
}{
	{"Nguyễn", 38}, {"Trần", 11}, {"Lê", 9.5}, {"Phạm", 7}, {"Hoàng", 5.1},
	{"Phan", 4.5}, {"Vũ", 3.9}, {"Đặng", 2.1}, {"Bùi", 2}, {"Đỗ", 1.4},
	{"Hồ", 1.3}, {"Ngô", 1.3}, {"Dương", 1}, {"Lý", 0.5},
	{"Đinh", 0.9}, {"Đào", 0.8}, {"Trịnh", 0.7}, {"Mai", 0.6}, {"Trương", 0.8},
	{"Lâm", 0.5}, {"Hà", 0.6}, {"Lương", 0.5}, {"Tạ", 0.3}, {"Chu", 0.3},
	{"Cao", 0.5}, {"Lưu", 0.4}, {"Quách", 0.2}, {"Kiều", 0.2}, {"Tô", 0.3},
	{"Thái", 0.3}, {"Phùng", 0.3}, {"Châu", 0.3}, {"Tăng", 0.2}, {"Triệu", 0.3},
	{"Văn", 0.2}, {"Đoàn", 0.6}, {"Vương", 0.3}, {"Lục", 0.1}, {"Giang", 0.2},
	{"Tôn", 0.1}, {"La", 0.2}, {"Khổng", 0.1}, {"Mạc", 0.1}, {"Nông", 0.4},
}

var surnameCum = func() []float64 {
	ws := make([]float64, len(surnames))
	for i, s := range surnames {
		ws[i] = s.share
	}
	return cumulative(ws)
}()

// Middle names: Văn (men) and Thị (women) dominate, overwhelmingly for
// the generation born before about 1980 (commonShare), less so after; the
// others are drawn from a wider set.
var (
	middleOldM = []string{"Đức", "Hữu", "Quang", "Công", "Xuân", "Đình", "Ngọc", "Minh", "Bá", "Thanh"}
	middleOldF = []string{"Ngọc", "Thu", "Kim", "Thanh", "Hồng", "Bích"}
	middleNewM = []string{"Đức", "Minh", "Hữu", "Quốc", "Thanh", "Công", "Quang", "Tuấn", "Gia", "Hoàng", "Anh", "Trọng", "Đình", "Bảo", "Nhật", "Thành", "Mạnh", "Tiến"}
	middleNewF = []string{"Ngọc", "Thanh", "Thu", "Minh", "Phương", "Hồng", "Bích", "Kim", "Thúy", "Khánh", "Bảo", "Hoài", "Mai", "Diệu", "Gia", "Thảo", "Quỳnh", "Hà", "Thùy", "Yến"}
)

// commonShare is the share of Văn / Thị as the (first) middle name.
func commonShare(sex string, year int) (string, float64) {
	switch {
	case sex == "M" && year < 1980:
		return "Văn", 0.6
	case sex == "M":
		return "Văn", 0.25
	case year < 1980:
		return "Thị", 0.8
	}
	return "Thị", 0.4
}

// Given names, with accents. Some use the old tone placement (Hòa, Thúy,
// Thủy) and some the new (Hoà, Thuý, Thuỷ), as in the real register.
var (
	givenM = []string{
		"An", "Anh", "Bảo", "Bình", "Cường", "Chiến", "Dũng", "Duy", "Đạt", "Đức", "Dương", "Giang",
		"Hải", "Hiếu", "Hòa", "Hoà", "Hùng", "Huy", "Hưng", "Hoàng", "Khang", "Khánh", "Khoa", "Kiên",
		"Lâm", "Long", "Lộc", "Lực", "Mạnh", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong", "Phúc",
		"Quân", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thịnh", "Toàn", "Trung", "Tú", "Tuấn",
		"Việt", "Vinh", "Vũ", "Thuận", "Tiến", "Khải", "Đông", "Hậu", "Hiển", "Khôi", "Nguyên", "Quý",
	}
	givenF = []string{
		"An", "Anh", "Ánh", "Châu", "Chi", "Diệp", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng",
		"Hiền", "Hoa", "Hồng", "Huệ", "Hương", "Hường", "Lan", "Liên", "Linh", "Loan", "Ly", "Mai",
		"My", "Nga", "Ngân", "Ngọc", "Nhung", "Nhi", "Oanh", "Phương", "Quỳnh", "Tâm", "Thảo", "Thu",
		"Thủy", "Thuỷ", "Trang", "Trâm", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến", "Hòa", "Thúy",
		"Thuý", "Khuê", "Nhàn", "Thơ", "Trinh", "Ngoan", "Khoa", "Hoài",
	}
)

// toneVariant maps a syllable to the same syllable with the other tone
// placement convention (hòa ↔ hoà …): the same name, written differently.
var toneVariant = map[string]string{
	"Hòa": "Hoà", "Hoà": "Hòa", "Thúy": "Thuý", "Thuý": "Thúy",
	"Thủy": "Thuỷ", "Thuỷ": "Thủy", "Thùy": "Thuỳ", "Thuỳ": "Thùy",
	"Khỏe": "Khoẻ", "Khoẻ": "Khỏe", "Hóa": "Hoá", "Hoá": "Hóa",
}

// retone swaps the tone placement of every syllable that has a variant; it
// reports whether anything changed.
func retone(name string) (string, bool) {
	words := strings.Fields(name)
	changed := false
	for i, w := range words {
		if v, ok := toneVariant[w]; ok {
			words[i], changed = v, true
		}
	}
	return strings.Join(words, " "), changed
}

// provincePop is the 2019 census population of each province in thousands,
// used to weight birth provinces.
var provincePop = map[string]float64{
	"001": 8054, "002": 854, "004": 530, "006": 314, "008": 785, "010": 731, "011": 599, "012": 460,
	"014": 1248, "015": 822, "017": 854, "019": 1287, "020": 782, "022": 1320, "024": 1804, "025": 1464,
	"026": 1151, "027": 1369, "030": 1893, "031": 2029, "033": 1253, "034": 1861, "035": 852, "036": 1781,
	"037": 983, "038": 3641, "040": 3328, "042": 1289, "044": 896, "045": 633, "046": 1129, "048": 1135,
	"049": 1496, "051": 1232, "052": 1487, "054": 873, "056": 1232, "058": 591, "060": 1231, "062": 541,
	"064": 1514, "066": 1870, "067": 623, "068": 1297, "070": 995, "072": 1170, "074": 2456, "075": 3097,
	"077": 1149, "079": 8993, "080": 1689, "082": 1765, "083": 1289, "084": 1009, "086": 1023, "087": 1600,
	"089": 1908, "091": 1723, "092": 1236, "093": 733, "094": 1199, "095": 907, "096": 1194,
}

// southern reports whether a province code is south of Đà Nẵng's, where
// Hoàng is mostly written Huỳnh and Vũ mostly Võ.
func southern(code string) bool { return code > "048" }

// decades weights birth years 1930–2025 by decade, a rough shape of the
// population pyramid (the large 1980s–2000s cohorts).
var decades = []struct {
	from, to int
	weight   float64
}{
	{1930, 1939, 1}, {1940, 1949, 3}, {1950, 1959, 6}, {1960, 1969, 10}, {1970, 1979, 14},
	{1980, 1989, 17}, {1990, 1999, 17}, {2000, 2009, 14}, {2010, 2019, 14}, {2020, 2025, 4},
}

var decadeCum = func() []float64 {
	ws := make([]float64, len(decades))
	for i, d := range decades {
		ws[i] = d.weight
	}
	return cumulative(ws)
}()

var streets = []string{
	"Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Lý Thường Kiệt", "Hai Bà Trưng", "Quang Trung",
	"Nguyễn Huệ", "Lê Duẩn", "Điện Biên Phủ", "Cách Mạng Tháng Tám", "Phan Chu Trinh", "Hùng Vương",
	"Võ Thị Sáu", "Nguyễn Văn Cừ", "Bạch Đằng", "Trường Chinh",
}
