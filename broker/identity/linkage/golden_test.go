package linkage

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	lOnce   sync.Once
	lLinker *Linker
)

// testLinker is trained on 3,000 legacy records of the test population.
func testLinker(t testing.TB) *Linker {
	pop, view := testPopulation(t)
	lOnce.Do(func() {
		train, _ := legacy(view, 0, 3000, synthetic.DefaultLegacyOptions())
		lLinker = Train(pop, train, DefaultConfig())
	})
	return lLinker
}

// findCitizen returns the first citizen of the test population after
// from that satisfies ok.
func findCitizen(t testing.TB, from int, ok func(store.Citizen) bool) store.Citizen {
	_, view := testPopulation(t)
	for i := from; i < view.Len(); i++ {
		if c := view.At(i); ok(c) {
			return c
		}
	}
	t.Fatal("no such citizen")
	return store.Citizen{}
}

func words(s string) []string { return strings.Fields(s) }

// TestGolden records linkage decisions, with the weight of every field,
// for one record per kind of error.
func TestGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	l := testLinker(t)
	three := func(c store.Citizen) bool { return len(words(c.FullName)) == 3 && !c.Deceased }
	withOld := func(c store.Citizen) bool { return c.OldID != "" && !c.Deceased }
	swappable := func(c store.Citizen) bool {
		return three(c) && c.DOB[8] == '0' && c.DOB[9] != '0' && c.DOB[5:7] != "0"+c.DOB[9:10]
	}
	c1 := findCitizen(t, 1000, three)
	c2 := findCitizen(t, 2000, withOld)
	c3 := findCitizen(t, 3000, swappable)
	c4 := findCitizen(t, 4000, func(c store.Citizen) bool { return c.Deceased })
	c5 := findCitizen(t, 5000, func(c store.Citizen) bool { _, m := cccdMerged(c.BirthProvince); return three(c) && m })
	w := words(c1.FullName)
	rec := func(id string, c store.Citizen) Record {
		return Record{ID: id, Name: c.FullName, DOB: c.DOB, Sex: c.Sex, Province: c.BirthProvince}
	}
	cases := []struct {
		what string
		rec  Record
	}{
		{"exact copy of the register", rec("exact", c1)},
		{"no diacritics, upper case", func() Record { r := rec("fold", c1); r.Name = strings.ToUpper(stripMarks(c1.FullName)); return r }()},
		{"surname written last", func() Record { r := rec("reorder", c1); r.Name = w[1] + " " + w[2] + " " + w[0]; return r }()},
		{"middle name dropped", func() Record { r := rec("dropmid", c1); r.Name = w[0] + " " + w[2]; return r }()},
		{"typo in the given name", func() Record { r := rec("typo", c1); r.Name = w[0] + " " + w[1] + " " + w[2] + "x"; return r }()},
		{"day and month swapped", func() Record { r := rec("swap", c3); r.DOB = c3.DOB[:5] + c3.DOB[8:10] + "-" + c3.DOB[5:7]; return r }()},
		{"one digit of the year wrong", func() Record {
			r := rec("digit", c1)
			b := []byte(c1.DOB)
			b[3] = '0' + (b[3]-'0'+1)%10
			r.DOB = string(b)
			return r
		}()},
		{"province written with its 2025 code", func() Record { r := rec("merged", c5); r.Province, _ = cccdMerged(c5.BirthProvince); return r }()},
		{"CMND only, name without diacritics", func() Record {
			r := rec("cmnd", c2)
			r.Name, r.DOB, r.Province, r.OldID = stripMarks(c2.FullName), "", "", c2.OldID
			return r
		}()},
		{"CMND one digit off, no date", func() Record {
			r := rec("cmndtypo", c2)
			b := []byte(c2.OldID)
			b[8] = '0' + (b[8]-'0'+1)%10
			r.OldID, r.DOB = string(b), ""
			return r
		}()},
		{"wrong sex", func() Record {
			r := rec("sex", c1)
			r.Sex = map[string]string{"M": "F", "F": "M"}[c1.Sex]
			return r
		}()},
		{"deceased citizen", rec("deceased", c4)},
		{"nobody: invented person", Record{ID: "nobody", Name: "Quách Thị Khuê Uyển", DOB: "1931-02-28", Sex: "F", Province: "002"}},
		{"empty record", Record{ID: "empty"}},
		{"unparseable date and sex", func() Record { r := rec("garbage", c1); r.DOB, r.Sex = "31/31/31", "?"; return r }()},
	}
	// one batch per record: several records describe the same citizen,
	// and within a batch only one of them could be linked
	ds := make([]Decision, len(cases))
	for k, c := range cases {
		ds[k] = l.Link(c.rec)
	}
	var b bytes.Buffer
	b.WriteString("# Linkage decisions with their explanation (see golden_test.go).\n# Regenerate: go test ./broker/identity/linkage -run TestGolden -update\n")
	for k, c := range cases {
		d := ds[k]
		r := c.rec
		fmt.Fprintf(&b, "\n%s\n  record: name=%q dob=%q sex=%q province=%q old=%q\n", c.what, r.Name, r.DOB, r.Sex, r.Province, r.OldID)
		writeDecision(&b, d)
	}
	checkGolden(t, "testdata/linkage.golden", b.Bytes())
	// the decisions the golden file records must also be right
	wantLinked := map[string]string{"exact": c1.ID, "fold": c1.ID, "reorder": c1.ID, "dropmid": c1.ID, "typo": c1.ID,
		"swap": c3.ID, "merged": c5.ID, "cmnd": c2.ID}
	for _, d := range ds {
		if id, ok := wantLinked[d.RecordID]; ok && (d.Outcome == identity.Unmatched || d.PersonalID != id) {
			t.Errorf("%s: %s %s, want %s", d.RecordID, d.Outcome, d.PersonalID, id)
		}
		if (d.RecordID == "nobody" || d.RecordID == "empty") && d.Outcome != identity.Unmatched {
			t.Errorf("%s: %s", d.RecordID, d.Outcome)
		}
	}
}

func cccdMerged(code string) (string, bool) {
	n, _ := cccdProvince2025(code)
	return n, n != code
}

// stripMarks drops diacritics the way a keyboard without Vietnamese input
// would (identity.Fold, keeping the case of the first letters).
func stripMarks(s string) string {
	f := words(identity.Fold(s))
	o := words(s)
	for i := range f {
		if i < len(o) && strings.ToUpper(o[i][:1]) == o[i][:1] {
			f[i] = strings.ToUpper(f[i][:1]) + f[i][1:]
		}
	}
	return strings.Join(f, " ")
}

// TestBatchIsOneToOne: no citizen is linked twice in a batch, even when
// the batch repeats a person.
func TestBatchIsOneToOne(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	l := testLinker(t)
	_, view := testPopulation(t)
	recs, _ := legacy(view, 50_000, 500, synthetic.DefaultLegacyOptions())
	recs = append(recs, recs[:100]...) // duplicates
	for k := 500; k < len(recs); k++ {
		recs[k].ID += "-dup"
	}
	ds := l.LinkBatch(recs)
	seen := map[string]string{}
	for _, d := range ds {
		if d.Outcome != identity.Linked {
			continue
		}
		if prev, ok := seen[d.PersonalID]; ok {
			t.Fatalf("citizen linked to %s and %s", prev, d.RecordID)
		}
		seen[d.PersonalID] = d.RecordID
		if d.Explanation == nil || len(d.Explanation.Fields) < nBase {
			t.Fatalf("%s: no explanation", d.RecordID)
		}
		sum := d.Explanation.Prior
		for _, f := range d.Explanation.Fields {
			sum += f.Weight
		}
		if diff := sum - d.Explanation.Total; diff > 0.05 || diff < -0.05 {
			t.Fatalf("%s: field weights sum to %.2f, total %.2f", d.RecordID, sum, d.Explanation.Total)
		}
		if !(d.Probability >= 0 && d.Probability <= 1) {
			t.Fatalf("%s: probability %v", d.RecordID, d.Probability)
		}
	}
	dups := 0
	for _, d := range ds[500:] {
		if d.Outcome == identity.Review && strings.Contains(d.Reason, "already linked") {
			dups++
		}
	}
	if dups == 0 {
		t.Error("no duplicate record was sent to review")
	}
}

// TestModelEstimated checks the fitted model's shape: agreement levels
// weigh for a match, full disagreement against it, and u comes from random
// pairs.
func TestModelEstimated(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	m := testLinker(t).Model()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Comparisons {
		first, last := c.Levels[0], c.Levels[len(c.Levels)-1]
		if first.Weight <= 0 || last.Weight >= 0 {
			t.Errorf("%s: exact %.2f, different %.2f", c.Field, first.Weight, last.Weight)
		}
	}
	if m.RandomPairs == 0 || len(m.Sessions) < 2 || m.PriorWeight >= 0 {
		t.Errorf("model %+v", m)
	}
	// a model read back gives the same linker
	l2, err := NewLinker(testLinker(t).Population(), m, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	r := Record{ID: "x", Name: "Nguyễn Văn An", DOB: "1990-01-01", Sex: "M"}
	if a, b := testLinker(t).Link(r), l2.Link(r); a.Score != b.Score {
		t.Errorf("reloaded model scores %v, trained %v", b.Score, a.Score)
	}
}

func TestReviewQueue(t *testing.T) {
	ctx := context.Background()
	var q ReviewQueue = NewMemoryReviewQueue()
	ids, err := q.Add(ctx, ReviewItem{RecordID: "a", PersonalID: "001085012345"}, ReviewItem{RecordID: "b"}, ReviewItem{RecordID: "c"})
	if err != nil || len(ids) != 3 || !slices.IsSorted(ids) {
		t.Fatal(ids, err)
	}
	if it, err := q.Decide(ctx, ids[0], true, "clerk1", "same person, checked the card"); err != nil || it.Status != ReviewAccepted || it.DecidedBy != "clerk1" {
		t.Fatal(it, err)
	}
	if _, err := q.Decide(ctx, ids[0], false, "clerk2", ""); err != ErrReviewDecided {
		t.Fatalf("second decision: %v", err)
	}
	if _, err := q.Decide(ctx, "nope", true, "", ""); err != ErrReviewNotFound {
		t.Fatalf("unknown id: %v", err)
	}
	q.Decide(ctx, ids[1], false, "clerk1", "")
	pending, _ := q.List(ctx, ReviewPending, "", 0)
	if len(pending) != 1 || pending[0].RecordID != "c" {
		t.Fatalf("pending %+v", pending)
	}
	all, _ := q.List(ctx, "", ids[0], 1)
	if len(all) != 1 || all[0].ID != ids[1] || all[0].Status != ReviewRejected {
		t.Fatalf("page after %s: %+v", ids[0], all)
	}
	if it, err := q.Get(ctx, ids[2]); err != nil || it.Status != ReviewPending {
		t.Fatal(it, err)
	}
}

var cccdProvince2025 = cccd.Province2025

// TestGoldenExtras records decisions with a mapping's extra fields (the
// address, the postcode and the social-insurance number of `lgsp gen`),
// each field's weight shown, for one record per kind of address.
func TestGoldenExtras(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	_, view := testPopulation(t)
	fields := []ExtraField{addressField, postcodeField, insuranceField}
	pop := populationWith(200_000, fields)
	train, _ := legacyWith(view, 0, 3000, synthetic.DefaultLegacyOptions(), fields)
	l := Train(pop, train, DefaultConfig())
	idx := func(c store.Citizen) int { // the citizen's index (the test population is in index order)
		for i := range view.Len() {
			if view.At(i).ID == c.ID {
				return i
			}
		}
		t.Fatal("no such citizen")
		return -1
	}
	urban := func(c store.Citizen) bool {
		return len(words(c.FullName)) == 3 && !c.Deceased && synthetic.Residence(testSeed, idx(c)).House != ""
	}
	c1 := findCitizen(t, 1000, urban)
	i1 := idx(c1)
	a1 := synthetic.Residence(testSeed, i1)
	ins := ""
	c2 := findCitizen(t, 2000, func(c store.Citizen) bool {
		if c.Deceased {
			return false
		}
		ins = synthetic.InsuranceNumber(testSeed, idx(c))
		return ins != ""
	})
	a2 := synthetic.Residence(testSeed, idx(c2))
	old := synthetic.OldAddress(testSeed, i1, 1)
	rec := func(id string, c store.Citizen, address, postcode, bhxh string) Record {
		return Record{ID: id, Name: c.FullName, DOB: c.DOB, Sex: c.Sex, Extra: []string{address, postcode, bhxh}}
	}
	abbrev := strings.NewReplacer("Phường ", "P. ", "Quận ", "Q. ", "Thành phố ", "TP. ", "Thị xã ", "TX. ", "Tỉnh ", "", "Số ", "SN ")
	cases := []struct {
		what string
		rec  Record
	}{
		{"the registered address, as registered", rec("exact", c1, a1.Line, a1.Postcode, "")},
		{"abbreviated, without diacritics, house number as SN", rec("abbrev", c1, stripMarks(abbrev.Replace(a1.Line)), "", "")},
		{"street and commune only", rec("partial", c1, a1.House+" "+a1.Street+", "+a1.Commune, "", "")},
		{"moved: an old address and its postcode", rec("moved", c1, old.Line, old.Postcode, "")},
		{"no address, the postcode of another province", rec("postcode", c1, "", "99999", "")},
		{"social-insurance number, one digit off; name without diacritics", func() Record {
			b := []byte(ins)
			b[9] = '0' + (b[9]-'0'+1)%10
			r := rec("bhxh", c2, a2.Line, "", string(b))
			r.Name = stripMarks(c2.FullName)
			return r
		}()},
		{"no date of birth: address and social-insurance number carry it", func() Record {
			r := rec("nodate", c2, a2.Line, a2.Postcode, ins)
			r.DOB = ""
			return r
		}()},
		{"a garbled address", rec("garbled", c1, "??? ,,, ###", "abc", "—")},
	}
	ds := make([]Decision, len(cases))
	for k, c := range cases {
		ds[k] = l.Link(c.rec)
	}
	var b bytes.Buffer
	b.WriteString("# Linkage decisions with extra fields: address, postcode, social-insurance number (see golden_test.go).\n# Regenerate: go test ./broker/identity/linkage -run TestGoldenExtras -update\n")
	for _, c := range l.Model().Comparisons[nBase:] {
		fmt.Fprintf(&b, "# model %s (%s):", c.Field, c.Comparison)
		for _, lv := range c.Levels {
			fmt.Fprintf(&b, " %s %+.2f", lv.Level, lv.Weight)
		}
		b.WriteByte('\n')
	}
	for k, c := range cases {
		d := ds[k]
		r := c.rec
		fmt.Fprintf(&b, "\n%s\n  record: name=%q dob=%q sex=%q address=%q postcode=%q bhxh=%q\n", c.what, r.Name, r.DOB, r.Sex, r.Extra[0], r.Extra[1], r.Extra[2])
		writeDecision(&b, d)
	}
	checkGolden(t, "testdata/linkage_extras.golden", b.Bytes())
	// what the golden file records must also be right
	levels := map[string]string{"exact": "exact", "abbrev": "exact", "partial": "exact", "moved": "same_province", "garbled": "missing"}
	for k, d := range ds {
		id := cases[k].rec.ID
		want := c1.ID
		if id == "bhxh" || id == "nodate" {
			want = c2.ID
		}
		if id != "postcode" && id != "garbled" && (d.Outcome != identity.Linked || d.PersonalID != want) {
			t.Errorf("%s: %s %s, want linked %s", id, d.Outcome, d.PersonalID, want)
		}
		if lv, ok := levels[id]; ok && (d.Explanation == nil || d.Explanation.Fields[nBase].Level != lv) {
			t.Errorf("%s: address level %+v, want %s", id, d.Explanation, lv)
		}
	}
	if f := ds[5].Explanation.Fields[nBase+2]; f.Field != "bhxh" || f.Level != "one_edit" || f.Weight <= 0 {
		t.Errorf("bhxh one digit off: %+v", f)
	}
}

// writeDecision writes a decision and its explanation as the golden files
// hold them.
func writeDecision(b *bytes.Buffer, d Decision) {
	fmt.Fprintf(b, "  => %s %s score=%.2f p=%.4f", d.Outcome, d.PersonalID, d.Score, d.Probability)
	if d.Reason != "" {
		fmt.Fprintf(b, " (%s)", d.Reason)
	}
	b.WriteByte('\n')
	if d.Explanation != nil {
		fmt.Fprintf(b, "     prior %+.2f\n", d.Explanation.Prior)
		for _, f := range d.Explanation.Fields {
			fmt.Fprintf(b, "     %-14s %-18s %+.2f\n", f.Field, f.Level, f.Weight)
		}
		fmt.Fprintf(b, "     total %+.2f\n", d.Explanation.Total)
	}
}

// checkGolden compares got with the golden file at path (rewritten with
// -update).
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("decisions differ from %s (run with -update to accept):\n%s", path, got)
	}
}
