package cccd

// Province is one birth-registration province code of Circular
// 07/2016/TT-BCA (Annex I), the first three digits of a personal number.
type Province struct {
	Code string // three digits, e.g. "001"
	Name string // official short name, NFC
}

// provinces are the 63 codes of the circular, in code order. The codes are
// those of the national administrative-unit list (Decision 124/2004/QĐ-TTg);
// the gaps (003, 005, …) are units that no longer exist. A number keeps its
// code for life, so the table stays the reference for parsing even when
// provinces are later merged or renamed.
var provinces = [...]Province{
	{"001", "Hà Nội"},
	{"002", "Hà Giang"},
	{"004", "Cao Bằng"},
	{"006", "Bắc Kạn"},
	{"008", "Tuyên Quang"},
	{"010", "Lào Cai"},
	{"011", "Điện Biên"},
	{"012", "Lai Châu"},
	{"014", "Sơn La"},
	{"015", "Yên Bái"},
	{"017", "Hòa Bình"},
	{"019", "Thái Nguyên"},
	{"020", "Lạng Sơn"},
	{"022", "Quảng Ninh"},
	{"024", "Bắc Giang"},
	{"025", "Phú Thọ"},
	{"026", "Vĩnh Phúc"},
	{"027", "Bắc Ninh"},
	{"030", "Hải Dương"},
	{"031", "Hải Phòng"},
	{"033", "Hưng Yên"},
	{"034", "Thái Bình"},
	{"035", "Hà Nam"},
	{"036", "Nam Định"},
	{"037", "Ninh Bình"},
	{"038", "Thanh Hóa"},
	{"040", "Nghệ An"},
	{"042", "Hà Tĩnh"},
	{"044", "Quảng Bình"},
	{"045", "Quảng Trị"},
	{"046", "Thừa Thiên Huế"},
	{"048", "Đà Nẵng"},
	{"049", "Quảng Nam"},
	{"051", "Quảng Ngãi"},
	{"052", "Bình Định"},
	{"054", "Phú Yên"},
	{"056", "Khánh Hòa"},
	{"058", "Ninh Thuận"},
	{"060", "Bình Thuận"},
	{"062", "Kon Tum"},
	{"064", "Gia Lai"},
	{"066", "Đắk Lắk"},
	{"067", "Đắk Nông"},
	{"068", "Lâm Đồng"},
	{"070", "Bình Phước"},
	{"072", "Tây Ninh"},
	{"074", "Bình Dương"},
	{"075", "Đồng Nai"},
	{"077", "Bà Rịa - Vũng Tàu"},
	{"079", "Hồ Chí Minh"},
	{"080", "Long An"},
	{"082", "Tiền Giang"},
	{"083", "Bến Tre"},
	{"084", "Trà Vinh"},
	{"086", "Vĩnh Long"},
	{"087", "Đồng Tháp"},
	{"089", "An Giang"},
	{"091", "Kiên Giang"},
	{"092", "Cần Thơ"},
	{"093", "Hậu Giang"},
	{"094", "Sóc Trăng"},
	{"095", "Bạc Liêu"},
	{"096", "Cà Mau"},
}

// provinceByNum maps the numeric code to its index in provinces plus one
// (0 = unknown), so that Parse checks a code without hashing or allocating.
var provinceByNum [1000]uint8

func init() {
	for i, p := range provinces {
		n := int(p.Code[0]-'0')*100 + int(p.Code[1]-'0')*10 + int(p.Code[2]-'0')
		provinceByNum[n] = uint8(i + 1)
	}
}

// Provinces returns the 63 province codes in code order (a copy).
func Provinces() []Province {
	out := make([]Province, len(provinces))
	copy(out, provinces[:])
	return out
}

// ProvinceName returns the name of a 3-digit province code, and whether the
// code is one of the circular's.
func ProvinceName(code string) (string, bool) {
	if len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return "", false
	}
	n := int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if k := provinceByNum[n]; k != 0 {
		return provinces[k-1].Name, true
	}
	return "", false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
