package identity

import "testing"

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Nguyễn Văn An", "nguyễn văn an"},
		{"  Nguyễn\tVăn   An ", "nguyễn văn an"},
		{"NGUYỄN VĂN AN", "nguyễn văn an"},
		{"Nguye\u0302\u0303n Va\u0306n An", "nguyễn văn an"}, // decomposed input (NFD)
		{"nguyen van an", "nguyen van an"},
		{"Nguyen  Van An", "nguyen van an"},
		// old and new tone placement give one form (the new one)
		{"Nguyễn Văn Hòa", "nguyễn văn hoà"},
		{"Nguyễn Văn Hoà", "nguyễn văn hoà"},
		{"Trần Thị Thúy", "trần thị thuý"},
		{"Trần Thị Thuý", "trần thị thuý"},
		{"Lê Khỏe", "lê khoẻ"},
		{"Lê Khoẻ", "lê khoẻ"},
		{"Đặng Thùy Trâm", "đặng thuỳ trâm"},
		{"Nguyễn Ngọc Loan", "nguyễn ngọc loan"},
		// placements that are not a convention but a typing slip still
		// land on the same syllable
		{"Hùynh Tấn Phát", "huỳnh tấn phát"},
		{"Ngô Quỳnh", "ngô quỳnh"},
		{"Ngô Qùynh", "ngô quỳnh"},
		{"Phạm Thị Cuả", "phạm thị của"},
		{"Ngòai", "ngoài"},
		// qu and gi are onsets
		{"Lê Quý Đôn", "lê quý đôn"},
		{"Giàng A Páo", "giàng a páo"},
		{"Hồ Thị Gìn", "hồ thị gìn"},
		// ươ takes the tone on ơ
		{"Trương Thị Hường", "trương thị hường"},
		{"Nguyễn Văn Rượu", "nguyễn văn rượu"},
		// đ look-alikes (Icelandic eth) and invisible characters
		{"ÐẶNG VĂN ÐỨC", "đặng văn đức"},
		{"Võ\u00a0Nguyên\u200bGiáp\ufeff", "võ nguyên giáp"},
		{"", ""},
		{"   ", ""},
	}
	for _, tc := range tests {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Nguyễn Văn An", "nguyen van an"},
		{"Đoàn Thị Điểm", "doan thi diem"},
		{"ĐẶNG VĂN ĐỨC", "dang van duc"},
		{"Ðặng", "dang"}, // eth, not đ
		{"Võ Nguyên Giáp", "vo nguyen giap"},
		{"Huỳnh Tấn Phát", "huynh tan phat"},
		{"Trương Thị Hường", "truong thi huong"},
		{"Lê Thị Thuỷ", "le thi thuy"},
		{"Lê Thị Thủy", "le thi thuy"},
		{"  NGUYEN   van AN ", "nguyen van an"},
		{"Ngô Bảo Châu", "ngo bao chau"},
	}
	for _, tc := range tests {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSameNameAndKinds(t *testing.T) {
	tests := []struct {
		claim, registered string
		kind              string // "" = same name
	}{
		{"Nguyễn Văn Hòa", "Nguyễn Văn Hoà", ""},
		{"NGUYỄN VĂN HÒA", "Nguyễn Văn Hoà", ""},
		{"Phạm Thị Thúy", "Phạm Thị Thuý", ""},
		{"Nguyen Van Hoa", "Nguyễn Văn Hoà", KindDiacritics},
		{"Nguyễn Văn Hóa", "Nguyễn Văn Hòa", KindDiacritics}, // another tone: another name
		{"Nguyễn Văn Hoa", "Nguyễn Văn Hòa", KindDiacritics},
		{"Nguyễn Văn Hoan", "Nguyễn Văn Hoàn", KindDiacritics},
		{"Nguyễn Văn Hoan", "Nguyễn Văn Hoàng", KindSpelling},
		{"Trần Thị Thu Thủy", "Trần Thị Thu Thảo", KindSpelling},
		{"Lê Văn Tám", "Nguyễn Thị Minh Khai", KindDifferent},
		{"Nguyễn", "Nguyễn Văn An", KindDifferent}, // never decide on the surname alone
	}
	for _, tc := range tests {
		if got := nameKind(tc.claim, tc.registered); got != tc.kind {
			t.Errorf("nameKind(%q, %q) = %q, want %q", tc.claim, tc.registered, got, tc.kind)
		}
	}
}

func TestJaroWinkler(t *testing.T) {
	tests := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.9611},
		{"dixon", "dicksonx", 0.8133},
		{"dwayne", "duane", 0.84},
		{"nguyen", "nguyen", 1},
		{"", "abc", 0},
		{"abc", "xyz", 0},
	}
	for _, tc := range tests {
		got := JaroWinkler(tc.a, tc.b)
		if d := got - tc.want; d > 0.0001 || d < -0.0001 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.4f", tc.a, tc.b, got, tc.want)
		}
		if rev := JaroWinkler(tc.b, tc.a); rev != got {
			t.Errorf("JaroWinkler not symmetric for %q, %q: %v vs %v", tc.a, tc.b, got, rev)
		}
	}
}

func TestNormalizeASCIIDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		if Normalize("nguyen van an") != "nguyen van an" || Fold("nguyen van an") != "nguyen van an" {
			t.Fatal("changed")
		}
	})
	if allocs != 0 {
		t.Errorf("clean ASCII name allocates %v times", allocs)
	}
}
