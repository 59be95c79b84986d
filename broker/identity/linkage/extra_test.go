package linkage

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh", "12 | le loi | ben nghe | 1 | 079"},
		{"Số 012 đường Lê Lợi, P. Bến Nghé, Q.1, TP.HCM", "12 | le loi | ben nghe | 1 | 079"},
		{"12 Le Loi, Phuong Ben Nghe, Quan 1, Thanh pho Ho Chi Minh", "12 | le loi | ben nghe | 1 | 079"},
		{"SN 12/03 Lê Lợi P1 Q10 TPHCM", "12/3 | le loi | 1 | 10 | 079"},                         // no commas
		{"Số nhà 12, Lê Lợi, Bến Nghé, Quận 1, Hồ Chí Minh", "12 | le loi | ben nghe | 1 | 079"}, // house number alone, untyped levels
		{"Thôn 3, X. Khánh Hoà, H. Đông Anh, Hà Nội", " | thon 3 | khanh hoa | dong anh | 001"},  // hamlet, abbreviations
		{"Ấp 7, Xã Ninh Lạc, Huyện Trung Vĩnh, Tỉnh Bà Rịa - Vũng Tàu", " | ap 7 | ninh lac | trung vinh | 077"},
		{"P. Tân Định, TP. Thủ Đức", " |  | tan dinh | thu duc | "}, // a province's city is a district
		{"SỐ 5 HÙNG VƯƠNG, TT. ĐÔNG ANH", "5 | hung vuong | dong anh |  | "},
		{"So 5 Hung Vuong;Thi tran Dong Anh", "5 | hung vuong | dong anh |  | "},
		{"Pho Hue, P. Ngo Thi Nham, Q. Hai Ba Trung, Ha Noi", " | hue | ngo thi nham | hai ba trung | 001"},
		{"xyz", " | xyz |  |  | "},
		{"", " |  |  |  | "},
		{",,, ;;", " |  |  |  | "},
		{"\xff\xfe Lê Lợi", " | le loi |  |  | "}, // invalid UTF-8 dropped
	} {
		if got := ParseAddress(tc.in).String(); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
	if !ParseAddress(" , ").Empty() || ParseAddress("Quận 1").Empty() {
		t.Error("Empty")
	}
}

// column builds a population column of one value per citizen.
func column(t *testing.T, comparison string, values ...string) *popColumn {
	t.Helper()
	c := newColumn(ExtraField{Name: "f", Column: "f", Comparison: comparison}, len(values))
	for _, v := range values {
		c.add(v)
	}
	c.finish()
	return c
}

func levelOf(c *popColumn, rec string, i uint32) string {
	p := c.probe(rec)
	lv := c.level(&p, i)
	if lv < 0 {
		return "missing"
	}
	return kindLevels[c.kind][lv]
}

func TestAddressLevels(t *testing.T) {
	reg := []string{
		"Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
		"Thôn 3, Xã Khánh Hòa, Huyện Đông Anh, Thành phố Hà Nội",
		"",
		"Số 40 Trần Phú, Phường 7, Quận 5, Thành phố Hồ Chí Minh",
	}
	c := column(t, "address", reg...)
	for _, tc := range []struct {
		rec  string
		i    uint32
		want string
	}{
		{"SN 12 Le Loi, P. Ben Nghe, Q.1, TP.HCM", 0, "exact"},
		{"Số 12 Lê Lợi, Phường Bến Nghé", 0, "exact"}, // district and province left out
		{"Thon 3, X. Khanh Hoa, H. Dong Anh", 1, "exact"},
		{"12 Lê Lợi, Quận 1, TP. Hồ Chí Minh", 0, "same_house_street"}, // no commune
		{"Số 90 Lê Lợi, P. Bến Nghé, Q. 1", 0, "same_street"},
		{"Số 3 Pasteur, P. Bến Nghé, Q. 1", 0, "same_commune"},
		{"Số 12 Lê Lợi, P. Bến Thành, Q. 1", 0, "same_district"},    // same house and street, another ward
		{"Số 12 Lê Lợi, P. Bến Nghé, Q. 1, Hà Nội", 0, "different"}, // another province
		{"Số 12 Lê Lợi, P. Bến Nghé, Q. 3, TP.HCM", 0, "token_overlap"},
		{"Số 5 Hùng Vương, Phường 2, Quận 10, TP. Hồ Chí Minh", 0, "same_province"}, // moved within the city
		{"Số 5 Hùng Vương, Phường 2, Quận 10", 0, "different"},                      // no province written, nothing shared
		{"Số 40 Trần Phú, P.7, Q.5", 3, "exact"},
		{"Số 40 Trần Phú, P.7, Q.5", 0, "different"},
		{"Số 12 Lê Lợi", 2, "missing"}, // the citizen has no address
		{"", 0, "missing"},
		{" ,;, ", 0, "missing"},
	} {
		if got := levelOf(c, tc.rec, tc.i); got != tc.want {
			t.Errorf("%q vs %q: %s, want %s", tc.rec, reg[tc.i], got, tc.want)
		}
	}
}

func TestPostcodeIDTextLevels(t *testing.T) {
	for _, tc := range []struct {
		comparison, reg, rec, want string
	}{
		{"postcode", "70000", "70000", "exact"},
		{"postcode", "70000", "700 00", "exact"},
		{"postcode", "70000", "70150", "same_province"},
		{"postcode", "70000", "10000", "different"},
		{"postcode", "70000", "7000a", "missing"},
		{"postcode", "", "70000", "missing"},
		{"id", "7912345678", "7912345678", "exact"},
		{"id", "7912345678", "79-1234-5678", "exact"},
		{"id", "0012345678", "12345678", "different"}, // leading zeros count
		{"id", "7912345678", "7912345670", "one_edit"},
		{"id", "7912345678", "7921345678", "one_edit"}, // adjacent swap
		{"id", "7912345678", "791234567", "one_edit"},  // a digit dropped
		{"id", "7912345678", "7912340000", "different"},
		{"id", "HS4797912345678", "hs4797912345678", "exact"}, // a card number with letters
		{"id", "HS4797912345678", "HS4797912345679", "one_edit"},
		{"id", "7912345678", "—", "missing"},
		{"exact", "Kỹ sư xây dựng", "KỸ SƯ  XÂY DỰNG", "exact"},
		{"exact", "Kỹ sư xây dựng", "Ky su xay dung", "different"},
		{"jaro_winkler", "Công ty Điện lực Hà Nội", "cong ty dien luc ha noi", "exact"},
		{"jaro_winkler", "Công ty Điện lực Hà Nội", "Cong ty Dien luc Ha Noj", "jw_0.92"},
		{"jaro_winkler", "Công ty Điện lực Hà Nội", "Cong ty Dien Hai Phong", "jw_0.80"},
		{"jaro_winkler", "Công ty Điện lực Hà Nội", "Bệnh viện Bạch Mai", "different"},
	} {
		c := column(t, tc.comparison, tc.reg)
		if got := levelOf(c, tc.rec, 0); got != tc.want {
			t.Errorf("%s: %q vs %q: %s, want %s", tc.comparison, tc.rec, tc.reg, got, tc.want)
		}
	}
}

func TestMappingExtrasBadInput(t *testing.T) {
	for _, tc := range []struct{ mapping, want string }{
		{`{"full_name":"n","extra":[{"name":"a","column":"x","comparison":"soundex"}]}`, `unknown comparison "soundex"`},
		{`{"full_name":"n","extra":[{"name":"dob","column":"x","comparison":"exact"}]}`, `"dob" is taken`},
		{`{"full_name":"n","extra":[{"name":"a","column":"x","comparison":"exact"},{"name":"a","column":"y","comparison":"id"}]}`, `"a" used twice`},
		{`{"full_name":"n","extra":[{"name":"a","comparison":"exact"}]}`, `"a" names no column`},
		{`{"full_name":"n","extra":[{"column":"x","comparison":"exact"}]}`, `has no name`},
		{`{"full_name":"n","extra":[{"name":"a","column":"x","comparison":"id","weight":3}]}`, `unknown field "weight"`},
	} {
		_, err := ParseMapping(strings.NewReader(tc.mapping))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.mapping, err, tc.want)
		}
	}
	var many []string
	for k := range maxExtra + 1 {
		many = append(many, `{"name":"f`+string(rune('a'+k))+`","column":"c","comparison":"exact"}`)
	}
	if _, err := ParseMapping(strings.NewReader(`{"full_name":"n","extra":[` + strings.Join(many, ",") + `]}`)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("too many extra fields: %v", err)
	}

	// a world with an address kept
	cs := []store.Citizen{
		{ID: "079185001234", FullName: "Nguyễn Văn An", DOB: "1985-04-12", Sex: "M", BirthProvince: "079", Residence: "Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"},
		{ID: "079185001235", FullName: "Nguyễn Văn An", DOB: "1985-04-12", Sex: "M", BirthProvince: "079", Residence: "Số 40 Trần Phú, Phường 7, Quận 5, Thành phố Hồ Chí Minh"},
		{ID: "001090004455", FullName: "Bùi Thị Hường", DOB: "1990-11-30", Sex: "F", BirthProvince: "001"},
	}
	fields := []ExtraField{{Name: "address", Column: "dia_chi", PopulationColumn: "residence", Comparison: "address"}}
	pop, err := BuildPopulation(func(yield func(store.Citizen, []string) bool) {
		for _, c := range cs {
			if !yield(c, []string{CitizenColumn(c, "residence")}) {
				return
			}
		}
	}, len(cs), fields)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BuildPopulation(func(func(store.Citizen, []string) bool) {}, 0, []ExtraField{{Name: "a", Column: "x", Comparison: "nope"}}); err == nil {
		t.Error("BuildPopulation took an unknown comparison")
	}
	idx := identity.NewIndex(len(cs))
	for _, c := range cs {
		idx.Add(c)
	}
	cfg := DefaultConfig()
	cfg.RandomPairs = 1000
	l := Train(pop, nil, cfg)
	m := &Mapping{RecordID: "id", FullName: "name", DOB: "dob", Sex: "sex", Extra: fields}

	// a column the mapping names is missing: fails at the start, naming it
	csvIn := "id,name,dob,sex\n1,Nguyễn Văn An,1985-04-12,M\n"
	var out bytes.Buffer
	if _, err := Reconcile(context.Background(), idx, l, strings.NewReader(csvIn), &out, BulkOptions{Format: CSV, Mapping: m}); err == nil || !strings.Contains(err.Error(), `"dia_chi"`) {
		t.Errorf("missing column: %v", err)
	}
	if _, err := ReadSample(strings.NewReader(`{"id":"1","name":"An","dob":"1985-04-12","sex":"M"}`+"\n"), NDJSON, m, 10); err == nil || !strings.Contains(err.Error(), `"dia_chi"`) {
		t.Errorf("missing NDJSON key: %v", err)
	}
	// a mapping whose extras are not the population's
	other := *m
	other.Extra = []ExtraField{{Name: "zip", Column: "dia_chi", Comparison: "postcode"}}
	if _, err := Reconcile(context.Background(), idx, l, strings.NewReader(csvIn), &out, BulkOptions{Format: CSV, Mapping: &other}); err == nil || !strings.Contains(err.Error(), "zip (postcode)") {
		t.Errorf("extras not the population's: %v", err)
	}
	if _, err := NewLinker(pop, l.Model(), cfg); err != nil {
		t.Errorf("model read back: %v", err)
	}
	if base, _ := PopulationOf(cs); base != nil {
		if _, err := NewLinker(base, l.Model(), cfg); err == nil || !strings.Contains(err.Error(), "address (address)") {
			t.Errorf("model with extras on a population without: %v", err)
		}
	}

	// the namesakes are told apart by the address; an empty or garbled
	// address is missing, with a reason, never an error
	in := "id,name,dob,sex,dia_chi\n" +
		"a,Nguyễn Văn An,1985-04-12,M,\"40 Tran Phu, P.7, Q.5, TP.HCM\"\n" +
		"b,Nguyễn Văn An,1985-04-12,M,\n" +
		"c,Nguyễn Văn An,1985-04-12,M,\" ,;, \"\n" +
		"d,Nguyễn Văn An,1985-04-12,M,\"\xff\xfe\"\n"
	out.Reset()
	if _, err := Reconcile(context.Background(), idx, l, strings.NewReader(in), &out, BulkOptions{Format: CSV, Mapping: m, BatchSize: 1}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %s", len(lines), out.String())
	}
	if !strings.Contains(lines[0], `"personal_id":"079185001235"`) || !strings.Contains(lines[0], `"field":"address","level":"exact"`) {
		t.Errorf("the address should pick the second namesake: %s", lines[0])
	}
	if !strings.Contains(lines[1], `"field":"address","level":"missing"`) {
		t.Errorf("empty address: %s", lines[1])
	}
	if !strings.Contains(lines[2], `address \",;,\" not understood as an address (ignored)`) {
		t.Errorf("garbled address: %s", lines[2])
	}
	if !strings.Contains(lines[3], `is not valid UTF-8 (ignored)`) {
		t.Errorf("address in a legacy encoding: %s", lines[3])
	}
}

func TestScanPopulationRows(t *testing.T) {
	csvIn := "personal_id,full_name,dob,sex,residence,insurance_number\n079185001234,Nguyễn Văn An,1985-04-12,M,\"Số 12 Lê Lợi, Quận 1\",7912345678\n"
	var got []string
	var res string
	if _, err := ScanPopulationRows(strings.NewReader(csvIn), CSV, []string{"insurance_number", "residence"}, func(c store.Citizen, extra []string) bool {
		got, res = slices.Clone(extra), c.Residence
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"7912345678", "Số 12 Lê Lợi, Quận 1"}) || res != "Số 12 Lê Lợi, Quận 1" {
		t.Errorf("extra %q, residence %q", got, res)
	}
	none := func(store.Citizen, []string) bool { return true }
	if _, err := ScanPopulationRows(strings.NewReader(csvIn), CSV, []string{"postcode"}, none); err == nil || !strings.Contains(err.Error(), `"postcode"`) {
		t.Errorf("missing CSV column: %v", err)
	}
	nd := `{"personal_id":"079185001234","full_name":"An","dob":"1985-04-12","sex":"M"}` + "\n"
	if _, err := ScanPopulationRows(strings.NewReader(nd), NDJSON, []string{"postcode"}, none); err == nil || !strings.Contains(err.Error(), `"postcode"`) {
		t.Errorf("missing NDJSON key: %v", err)
	}
}
