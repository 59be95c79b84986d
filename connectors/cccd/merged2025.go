package cccd

// The 2025 reorganisation (Resolution 202/2025/QH15, codes of Decision
// 19/2025/QĐ-TTg) merged the 63 provinces into 34. A personal number keeps
// its birth-registration code for life, but addresses written after mid
// 2025 carry the new province, whose code is the code of one of its old
// members. merged2025 maps each old code whose province was merged to the
// code of the province it now belongs to; codes not listed kept their
// province.
var merged2025 = map[string]string{
	"002": "008",               // Hà Giang → Tuyên Quang
	"015": "010",               // Yên Bái → Lào Cai
	"006": "019",               // Bắc Kạn → Thái Nguyên
	"026": "025", "017": "025", // Vĩnh Phúc, Hòa Bình → Phú Thọ
	"024": "027",               // Bắc Giang → Bắc Ninh
	"034": "033",               // Thái Bình → Hưng Yên
	"030": "031",               // Hải Dương → Hải Phòng
	"035": "037", "036": "037", // Hà Nam, Nam Định → Ninh Bình
	"044": "045",               // Quảng Bình → Quảng Trị
	"049": "048",               // Quảng Nam → Đà Nẵng
	"062": "051",               // Kon Tum → Quảng Ngãi
	"052": "064",               // Bình Định → Gia Lai
	"058": "056",               // Ninh Thuận → Khánh Hòa
	"067": "068", "060": "068", // Đắk Nông, Bình Thuận → Lâm Đồng
	"054": "066",               // Phú Yên → Đắk Lắk
	"074": "079", "077": "079", // Bình Dương, Bà Rịa - Vũng Tàu → Hồ Chí Minh
	"070": "075",               // Bình Phước → Đồng Nai
	"080": "072",               // Long An → Tây Ninh
	"094": "092", "093": "092", // Sóc Trăng, Hậu Giang → Cần Thơ
	"083": "086", "084": "086", // Bến Tre, Trà Vinh → Vĩnh Long
	"082": "087", // Tiền Giang → Đồng Tháp
	"095": "096", // Bạc Liêu → Cà Mau
	"091": "089", // Kiên Giang → An Giang
}

// Province2025 returns the code of the province that an old province code
// belongs to since the 2025 merger (the code itself when the province kept
// its borders), and whether code is one of the 63 codes.
func Province2025(code string) (string, bool) {
	if _, ok := ProvinceName(code); !ok {
		return "", false
	}
	if n, ok := merged2025[code]; ok {
		return n, true
	}
	return code, true
}

// SameProvince2025 reports whether two province codes, each an old code or
// a post-2025 one, denote the same province after the merger.
func SameProvince2025(a, b string) bool {
	na, ok1 := Province2025(a)
	nb, ok2 := Province2025(b)
	return ok1 && ok2 && na == nb
}
