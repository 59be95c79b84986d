package linkage

import (
	"github.com/lgsp-bus/lgsp/broker/store"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors/cccd"
)

func nameSide(s string) *side { var x side; x.setName(s); return &x }

func TestNameLevels(t *testing.T) {
	for _, tc := range []struct {
		rec, reg string
		want     string
	}{
		{"Nguyễn Văn Hòa", "Nguyễn Văn Hòa", "exact"},
		{"NGUYỄN  VĂN HOÀ", "Nguyễn Văn Hòa", "exact"},                        // case, spaces, new tone placement
		{"Nguye\u0302\u0303n Va\u0306n Ho\u0300a", "Nguyễn Văn Hòa", "exact"}, // NFD input
		{"Nguyen Van Hoa", "Nguyễn Văn Hòa", "diacritics"},
		{"Dang Thi Thuy", "Đặng Thị Thúy", "diacritics"}, // đ folds to d
		{"Văn Hòa Nguyễn", "Nguyễn Văn Hòa", "reordered"},
		{"Nguyễn Hòa", "Nguyễn Văn Hòa", "middle_dropped"},
		{"Nguyễn Văn Minh Hòa", "Nguyễn Văn Hòa", "middle_dropped"},
		{"Nguyễn Văn Hoq", "Nguyễn Văn Hòa", "one_word_slip"},
		{"Nguyễn Văn Hoaf", "Nguyễn Văn Hòa", "one_word_slip"},
		{"Văn Hoq Nguyễn", "Nguyễn Văn Hòa", "one_word_slip"},
		{"Thị Nga Nguyễk", "Nguyễn Thị Nga", "one_word_slip"}, // surname last, with a slip in it: was "different"
		{"van thang dsng", "Đặng Văn Thắng", "one_word_slip"},
		{"Thị Nga Trần", "Nguyễn Thị Nga", "different"},
		{"Nguyễn Văn Hào", "Nguyễn Văn Hòa", "one_word_slip"}, // adjacent swap
		{"Nguyễn Văn Hùng", "Nguyễn Văn Hòa", "jw_0.92"},      // the shared prefix dominates: weak evidence, learned as such
		{"Nguyễn Văn Hùng", "Nguyễn Thị Hòa", "jw_0.80"},
		{"Trần Thị Lan", "Nguyễn Văn Hòa", "different"},
		{"", "Nguyễn Văn Hòa", "missing"},
	} {
		lv := nameLevel(nameSide(tc.rec), nameSide(tc.reg))
		got := "missing"
		if lv >= 0 {
			got = levelNames[CompName][lv]
		}
		if got != tc.want {
			t.Errorf("%q vs %q: %s, want %s", tc.rec, tc.reg, got, tc.want)
		}
	}
}

func TestDOBLevels(t *testing.T) {
	for _, tc := range []struct {
		rec, reg string
		want     string
	}{
		{"1985-03-14", "1985-03-14", "exact"},
		{"1985-14-03", "1985-03-14", "day_month_swapped"}, // month 14: a swap, still read
		{"1985-04-03", "1985-03-04", "day_month_swapped"},
		{"1986-03-14", "1985-03-14", "one_digit_year"},
		{"1985-03-24", "1985-03-14", "one_digit_day_month"},
		{"1985-03-19", "1985-03-14", "within_days"},
		{"1996-02-20", "1996-02-19", "within_days"}, // two digits differ, one day apart (issue 16)
		{"1996-03-01", "1996-02-28", "within_days"}, // across a month
		{"1969-02-19", "1996-02-19", "digits_transposed"},
		{"1985-03-41", "1985-03-14", "missing"},           // day 41: not a date
		{"1985-12-03", "1985-21-03", "digits_transposed"}, // month 21 read as written
		{"1985-03-12", "1985-03-21", "digits_transposed"},
		{"1975-03-14", "1985-03-14", "one_digit_year"},
		{"1985-07-22", "1985-03-14", "same_year"},
		{"1990-03-14", "1985-03-14", "different"},
		{"14/03/1985", "1985-03-14", "missing"},
		{"", "1985-03-14", "missing"},
		{"1985-00-14", "1985-03-14", "missing"},
	} {
		var a, b side
		a.setDOB(tc.rec)
		b.setDOB(tc.reg)
		lv := dobLevel(&a, &b)
		got := "missing"
		if lv >= 0 {
			got = levelNames[CompDOB][lv]
		}
		if got != tc.want {
			t.Errorf("%q vs %q: %s, want %s", tc.rec, tc.reg, got, tc.want)
		}
	}
}

func TestProvinceAndOldID(t *testing.T) {
	var a, b side
	a.setProvince("024") // Bắc Giang, or Bắc Ninh's… no: 027 is the new Bắc Ninh
	b.setProvince("027")
	a.sex, b.sex = 'M', 'M'
	if g := compare(&a, &b); g[CompProvince] != 1 {
		t.Errorf("Bắc Giang vs Bắc Ninh (merged 2025): level %d, want merged_2025", g[CompProvince])
	}
	b.setProvince("001")
	if g := compare(&a, &b); g[CompProvince] != 2 {
		t.Errorf("different provinces: level %d", g[CompProvince])
	}
	a.setProvince("79") // written without the leading zero
	if a.prov != 79 {
		t.Errorf("province 79 read as %d", a.prov)
	}
	for _, tc := range []struct {
		a, b uint64
		want bool
	}{
		{123456789, 123456789, false}, {123456789, 123456780, true}, {123456789, 123456798, true},
		{123456789, 213456789, true}, {123456789, 123456700, false}, {123456789, 132456798, false},
	} {
		if got := oneEdit(tc.a, tc.b, 9); got != tc.want && tc.a != tc.b {
			t.Errorf("oneEdit(%d, %d) = %v", tc.a, tc.b, got)
		}
	}
	for _, v := range oneEditVariants(123456789) {
		if !oneEdit(v, 123456789, 9) {
			t.Errorf("variant %09d is not one edit away", v)
		}
	}
}

func TestProvince2025(t *testing.T) {
	n := map[string]bool{}
	for _, p := range cccd.Provinces() {
		c, ok := cccd.Province2025(p.Code)
		if !ok {
			t.Fatalf("%s not mapped", p.Code)
		}
		if _, ok := cccd.ProvinceName(c); !ok {
			t.Errorf("%s maps to unknown %s", p.Code, c)
		}
		if c2, _ := cccd.Province2025(c); c2 != c {
			t.Errorf("%s → %s → %s: the new code must map to itself", p.Code, c, c2)
		}
		n[c] = true
	}
	if len(n) != 34 {
		t.Errorf("%d provinces after the 2025 merger, want 34", len(n))
	}
	if !cccd.SameProvince2025("074", "079") || cccd.SameProvince2025("001", "079") {
		t.Error("SameProvince2025")
	}
}

func TestWithinOneEdit(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"hoa", "hoa", true}, {"hoa", "hoq", true}, {"hoa", "hao", true}, {"hoa", "hoaf", true},
		{"hoa", "ho", true}, {"hoa", "oa", true}, {"hoa", "hqq", false}, {"hoa", "ahoq", false},
		{"", "a", true}, {"ab", "ba", true}, {"abc", "cba", false},
	} {
		if got := withinOneEdit(tc.a, tc.b); got != tc.want {
			t.Errorf("withinOneEdit(%q, %q) = %v", tc.a, tc.b, got)
		}
		if got := withinOneEdit(tc.b, tc.a); got != tc.want {
			t.Errorf("withinOneEdit(%q, %q) = %v (reversed)", tc.b, tc.a, got)
		}
	}
}

func TestPersonalIDLevels(t *testing.T) {
	for _, tc := range []struct {
		rec, reg, want string
	}{
		{"001090012345", "001090012345", "exact"},
		{"001090012346", "001090012345", "one_edit"},
		{"001090012354", "001090012345", "one_edit"}, // adjacent digits swapped
		{"010090012345", "001090012345", "one_edit"}, // swap within the province code
		{"001090999999", "001090012345", "same_facts"},
		{"001190012399", "001090012345", "different"}, // century/sex digit differs
		{"00109001234", "001090012345", "missing"},    // 11 digits: no number to compare
		{"00109001234x", "001090012345", "missing"},
	} {
		var a, b side
		a.setPID(tc.rec)
		b.setPID(tc.reg)
		lv := int(compare(&a, &b)[CompPersonalID])
		got := "missing"
		if lv >= 0 {
			got = levelNames[CompPersonalID][lv]
		}
		if got != tc.want {
			t.Errorf("%q vs %q: %s, want %s", tc.rec, tc.reg, got, tc.want)
		}
	}
}

// TestPersonalIDEvidence: a record whose number the register does not
// know still carries evidence: one digit off the candidate's weighs for
// it; a number whose encoded province, century, sex and year contradict
// the candidate weighs against; the same facts weigh nothing more than the
// fields they encode. Regression for issue 16
// (a mistyped personal number did not change the score).
func TestPersonalIDEvidence(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	l := testLinker(t)
	c := findCitizen(t, 9000, func(c store.Citizen) bool { return !c.Deceased && len(words(c.FullName)) == 3 })
	typo := []byte(c.ID)
	typo[11] = '0' + (typo[11]-'0'+1)%10
	facts := c.ID[:6] + "999999"
	o := []byte(c.ID) // province of birth changed in two digits: not one edit
	o[1], o[2] = '0'+(o[1]-'0'+1)%10, '0'+(o[2]-'0'+1)%10
	other := string(o)
	weight := func(id string) (float64, string) {
		d := l.Link(Record{ID: "r", Name: c.FullName, DOB: c.DOB, Sex: c.Sex, PersonalID: id})
		if d.PersonalID != c.ID || d.Explanation == nil {
			t.Fatalf("number %s: %s %s, want %s", id, d.Outcome, d.PersonalID, c.ID)
		}
		for _, f := range d.Explanation.Fields {
			if f.Field == "personal_id" {
				return d.Score, f.Level
			}
		}
		t.Fatalf("number %s: no personal_id in the explanation %+v", id, d.Explanation)
		return 0, ""
	}
	none, lvNone := weight("")
	wTypo, lvTypo := weight(string(typo))
	wFacts, lvFacts := weight(facts)
	wOther, lvOther := weight(other)
	if lvNone != "missing" || lvTypo != "one_edit" || lvFacts != "same_facts" || lvOther != "different" {
		t.Errorf("levels: %s %s %s %s", lvNone, lvTypo, lvFacts, lvOther)
	}
	// agreeing facts weigh nothing: dob, sex and province already count
	// them (an outsider's own number agrees with every namesake born in
	// their year and province)
	if !(wTypo > wFacts && wFacts == none && none > wOther) {
		t.Errorf("weights: one digit off %.2f, same facts %.2f, none %.2f, contradicting %.2f", wTypo, wFacts, none, wOther)
	}
}

// An explanation names, per built-in field, the record's value and the
// candidate's as compared, so a clerk deciding a review item sees them side
// by side; a side without the field has none.
func TestExplanationValues(t *testing.T) {
	l := testLinker(t)
	c := findCitizen(t, 9100, func(c store.Citizen) bool { return !c.Deceased && len(words(c.FullName)) == 3 })
	typo := []byte(c.ID)
	typo[11] = '0' + (typo[11]-'0'+1)%10
	d := l.Link(Record{ID: "r", Name: c.FullName, DOB: c.DOB, Sex: c.Sex, PersonalID: string(typo)})
	if d.PersonalID != c.ID || d.Explanation == nil {
		t.Fatalf("%s %s, want %s", d.Outcome, d.PersonalID, c.ID)
	}
	got := map[string][2]string{}
	for _, f := range d.Explanation.Fields {
		got[f.Field] = [2]string{f.Record, f.Candidate}
	}
	for field, want := range map[string][2]string{
		"dob": {c.DOB, c.DOB}, "sex": {c.Sex, c.Sex}, "personal_id": {string(typo), c.ID}, "province": {"", c.ID[:3]},
	} {
		if got[field] != want {
			t.Errorf("%s: record %q, candidate %q; want %q", field, got[field][0], got[field][1], want)
		}
	}
	if n := got["name"]; n[0] == "" || n[0] != n[1] {
		t.Errorf("name: record %q, candidate %q; want the same name on both sides", n[0], n[1])
	}
}
