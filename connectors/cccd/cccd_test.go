package cccd

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestProvinces(t *testing.T) {
	ps := Provinces()
	if len(ps) != 63 {
		t.Fatalf("want the circular's 63 provinces, got %d", len(ps))
	}
	seen := map[string]bool{}
	for i, p := range ps {
		if len(p.Code) != 3 || p.Name == "" {
			t.Errorf("bad entry %+v", p)
		}
		if seen[p.Code] {
			t.Errorf("code %s twice", p.Code)
		}
		seen[p.Code] = true
		if i > 0 && ps[i-1].Code >= p.Code {
			t.Errorf("not in code order at %s", p.Code)
		}
	}
	for _, tc := range []struct{ code, name string }{
		{"001", "Hà Nội"}, {"031", "Hải Phòng"}, {"048", "Đà Nẵng"},
		{"079", "Hồ Chí Minh"}, {"092", "Cần Thơ"}, {"096", "Cà Mau"},
	} {
		if got, ok := ProvinceName(tc.code); !ok || got != tc.name {
			t.Errorf("ProvinceName(%s) = %q, %v; want %q", tc.code, got, ok, tc.name)
		}
	}
	for _, code := range []string{"000", "003", "097", "099", "1", "0a1", "0001"} {
		if _, ok := ProvinceName(code); ok {
			t.Errorf("ProvinceName(%q) should be unknown", code)
		}
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		province string
		sex      string
		year     int
		serial   int
		err      error
		part     Part
	}{
		{in: "001085012345", province: "001", sex: "M", year: 1985, serial: 12345},
		{in: "079190000001", province: "079", sex: "F", year: 1990, serial: 1},
		{in: "036205999999", province: "036", sex: "M", year: 2005, serial: 999999},
		{in: "096324000000", province: "096", sex: "F", year: 2024, serial: 0},
		{in: "001000000000", province: "001", sex: "M", year: 1900, serial: 0},
		{in: "", err: ErrLength, part: PartLength},
		{in: "00108501234", err: ErrLength, part: PartLength},
		{in: "0010850123456", err: ErrLength, part: PartLength},
		{in: "001085 12345", err: ErrNotDigit, part: PartDigit},
		{in: "00108501234x", err: ErrNotDigit, part: PartDigit},
		{in: "０01085012345", err: ErrLength, part: PartLength}, // full-width digit: 3 bytes
		{in: "003085012345", err: ErrProvince, part: PartProvince},
		{in: "000085012345", err: ErrProvince, part: PartProvince},
		{in: "097085012345", err: ErrProvince, part: PartProvince},
		{in: "001485012345", err: ErrCentury, part: PartCentury},
		{in: "001985012345", err: ErrCentury, part: PartCentury},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, err := Parse(tc.in)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Parse(%q) err = %v, want %v", tc.in, err, tc.err)
				}
				var pe *Error
				if !errors.As(err, &pe) || pe.Part != tc.part {
					t.Fatalf("Parse(%q) err part = %v, want %s", tc.in, err, tc.part)
				}
				if len(tc.in) == Len && strings.Contains(err.Error(), tc.in) {
					t.Errorf("error message leaks the number: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if n.Province != tc.province || n.Sex != tc.sex || n.Year != tc.year || n.Serial != tc.serial {
				t.Errorf("Parse(%q) = %+v", tc.in, n)
			}
			if n.String() != tc.in {
				t.Errorf("String() = %q", n.String())
			}
			if got := Make(n.Province, n.Year, n.Sex, n.Serial); got != tc.in {
				t.Errorf("Make round trip = %q", got)
			}
		})
	}
}

func TestErrorIsOnlyItsPart(t *testing.T) {
	_, err := Parse("003085012345")
	if errors.Is(err, ErrLength) || errors.Is(err, ErrCentury) || errors.Is(err, ErrNotDigit) {
		t.Errorf("province error matches other sentinels: %v", err)
	}
}

func TestConsistent(t *testing.T) {
	n, err := Parse("001085012345") // male, 1985
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dob, sex string
		want     []string
	}{
		{"1985-03-14", "M", nil},
		{"", "", nil},
		{"1985-03-14", "", nil},
		{"", "M", nil},
		{"1986-03-14", "M", []string{"year"}},
		{"2085-03-14", "M", []string{"century"}},
		{"2086-03-14", "F", []string{"century", "year", "sex"}},
		{"1985-03-14", "F", []string{"sex"}},
		{"14/03/1985", "M", nil}, // not comparable: a format problem of the claim
		{"1985-03-14", "X", nil},
	}
	for _, tc := range tests {
		if got := n.Consistent(tc.dob, tc.sex); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Consistent(%q, %q) = %v, want %v", tc.dob, tc.sex, got, tc.want)
		}
	}
}

func TestConsistentDoesNotAllocate(t *testing.T) {
	n, _ := Parse("079190000001")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Parse("079190000001"); err != nil {
			t.Fatal(err)
		}
		if n.Consistent("1990-01-02", "F") != nil {
			t.Fatal("inconsistent")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse+Consistent allocate %v times", allocs)
	}
}

func TestIsOldCMND(t *testing.T) {
	for s, want := range map[string]bool{
		"012345678":    true,
		"271234567":    true,
		"01234567":     false,
		"0123456789":   false,
		"01234567a":    false,
		"001085012345": false,
		"":             false,
	} {
		if got := IsOldCMND(s); got != want {
			t.Errorf("IsOldCMND(%q) = %v", s, got)
		}
	}
}

func TestCenturyDigit(t *testing.T) {
	tests := []struct {
		year int
		sex  string
		want byte
		ok   bool
	}{
		{1900, "M", '0', true}, {1999, "F", '1', true},
		{2000, "M", '2', true}, {2099, "F", '3', true},
		{2100, "M", '4', true}, {2150, "F", '5', true},
		{2200, "M", '6', true}, {2299, "F", '7', true},
		{2300, "M", '8', true}, {2399, "F", '9', true},
		{1899, "M", 0, false}, {2400, "F", 0, false}, {1990, "X", 0, false},
	}
	for _, tc := range tests {
		got, ok := CenturyDigit(tc.year, tc.sex)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CenturyDigit(%d, %s) = %q, %v; want %q, %v", tc.year, tc.sex, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMake(t *testing.T) {
	tests := []struct {
		province string
		year     int
		sex      string
		serial   int
		want     string
	}{
		{"001", 1985, "M", 12345, "001085012345"},
		{"079", 2003, "F", 7, "079303000007"},
		{"096", 1930, "F", 999999, "096130999999"},
		{"048", 2150, "M", 1, "048450000001"}, // defined by the circular, not parseable yet
	}
	for _, tc := range tests {
		if got := Make(tc.province, tc.year, tc.sex, tc.serial); got != tc.want {
			t.Errorf("Make(%s, %d, %s, %d) = %s, want %s", tc.province, tc.year, tc.sex, tc.serial, got, tc.want)
		}
	}
}

func TestMakePanicsOnBadInput(t *testing.T) {
	for _, tc := range []struct {
		name     string
		province string
		year     int
		sex      string
		serial   int
	}{
		{"province", "003", 1985, "M", 1},
		{"year", "001", 1850, "M", 1},
		{"sex", "001", 1985, "", 1},
		{"serial", "001", 1985, "M", 1000000},
		{"negative serial", "001", 1985, "M", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("no panic")
				}
			}()
			Make(tc.province, tc.year, tc.sex, tc.serial)
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("079190000001"); err != nil {
			b.Fatal(err)
		}
	}
}

// digits12 agrees with a digit-by-digit reading on digits and on the
// bytes next to them ('/' and ':' border the digits, 0xFA+6 overflows).
func TestDigits12(t *testing.T) {
	alphabet := []byte("0123456789/:\x00\xfa\xff \x39\x30")
	r := uint64(1)
	for n := range 200_000 {
		var b [12]byte
		for i := range b {
			r = r*6364136223846793005 + 1442695040888963407
			if n%2 == 0 {
				b[i] = '0' + byte(r>>33%10) // mostly digits
				if r>>40%13 == 0 {
					b[i] = alphabet[r>>50%uint64(len(alphabet))]
				}
			} else {
				b[i] = alphabet[r>>33%uint64(len(alphabet))]
			}
		}
		var want uint64
		ok := true
		for _, c := range b {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			want = want*10 + uint64(c-'0')
		}
		got, gotOK := digits12(string(b[:]))
		if gotOK != ok || (ok && got != want) {
			t.Fatalf("%q: %d %v, want %d %v", b, got, gotOK, want, ok)
		}
	}
}
