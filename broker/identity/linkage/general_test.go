package linkage

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"iter"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// ministryFiles writes the test population as another ministry's file (an
// insurance file: its own ids, dates as dd/mm/yyyy, no sex column; plus
// bad rows) and n records of it as a third ministry's (a tax file: a tax
// code, the name, the date, the province, no sex), with the ground truth
// in the insurance file's ids. The records' people are drawn from the
// whole test population, so the insurance file has them all.
func ministryFiles(t *testing.T, from, n int, bad [][]string) (pop, recs []byte, truth map[string]string) {
	t.Helper()
	_, view := testPopulation(t)
	insID := func(i int) string { return fmt.Sprintf("HS-%02d-%07d", i%97, i*7919%10_000_019) }
	byPID := make(map[string]string, view.Len())
	var pb bytes.Buffer
	w := csv.NewWriter(&pb)
	w.Write([]string{"so_bhxh", "ho_ten", "ngay_sinh"})
	for i := range view.Len() {
		c := view.At(i)
		byPID[c.ID] = insID(i)
		w.Write([]string{insID(i), c.FullName, c.DOB[8:10] + "/" + c.DOB[5:7] + "/" + c.DOB[:4]})
	}
	for _, r := range bad {
		w.Write(r)
	}
	w.Flush()
	rs, tr := legacy(view, from, n, DefaultLegacyNoNumber())
	truth = map[string]string{}
	var rb bytes.Buffer
	w = csv.NewWriter(&rb)
	w.Write([]string{"ma_ho_so", "ma_so_thue", "ho_ten", "ngay_sinh", "tinh"})
	for k, r := range rs {
		w.Write([]string{r.ID, fmt.Sprintf("%010d", k*104729%1_000_000_007), r.Name, r.DOB, r.Province})
		truth[r.ID] = byPID[tr[k].Truth] // "" for an outsider
	}
	w.Flush()
	return pb.Bytes(), rb.Bytes(), truth
}

// buildMapped reads a population file through a population mapping into a
// population of the form the mapping asks for.
func buildMapped(t *testing.T, file []byte, pm Mapping) (*Population, PopulationScan) {
	t.Helper()
	var st PopulationScan
	var scanErr error
	seq := iter.Seq2[store.Citizen, []string](func(yield func(store.Citizen, []string) bool) {
		st, scanErr = ScanPopulationMapped(bytes.NewReader(file), CSV, &pm, nil, yield)
	})
	pop, err := BuildPopulationWith(seq, 200_000, pm.GeneralPopulation())
	if scanErr != nil {
		t.Fatal(scanErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	return pop, st
}

// A ministry file against another: the population side keyed by an id
// that is not a personal number and without a sex column links about as
// well as the register itself, names each link by the file's own id, and
// skips the rows it cannot read, counted by reason with the column named.
func TestMinistryToMinistry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-row population")
	}
	bad := [][]string{
		{"HS-X-1", "Lê Văn Bảy", "31/02/1980"}, // no such date
		{"", "Lê Văn Tám", "01/01/1980"},       // no id
		{"HS-X-3", "", "01/01/1980"},           // no name
		{"HS-X-4", "Lê Văn Mười", ""},          // no date: kept (the general form takes it)
	}
	popFile, recFile, truth := ministryFiles(t, 120_000, 3000, bad)
	pm := Mapping{PersonalID: "so_bhxh", IDFormat: IDText, FullName: "ho_ten", DOB: "ngay_sinh", DOBLayouts: []string{"02/01/2006"}}
	form := pm.GeneralPopulation()
	if !form.General || form.CCCD {
		t.Fatalf("a text id without sex: form %+v, want general", form)
	}
	pop, st := buildMapped(t, popFile, pm)
	for why, want := range map[string]int{
		`date of birth missing or not read (column "ngay_sinh")`: 1,
		`no id (column "so_bhxh")`:                               1,
		`no name (column "ho_ten")`:                              1,
	} {
		if st.Skipped[why] != want {
			t.Errorf("skipped %q: %d, want %d (all: %v)", why, st.Skipped[why], want, st.Skipped)
		}
	}
	if pop.Len() != 200_001 {
		t.Errorf("population of %d rows, want 200,001 (200,000 and the one without a date)", pop.Len())
	}
	t.Logf("bytes per citizen: general form %.1f, packed %.1f", float64(pop.SizeBytes())/float64(pop.Len()), float64(testLinker(t).Population().SizeBytes())/200_000)
	if pop.SizeBytes() <= testLinker(t).Population().SizeBytes() {
		t.Errorf("the general form (%d bytes) keeps the ids, so it is larger than the packed one (%d)", pop.SizeBytes(), testLinker(t).Population().SizeBytes())
	}

	rm := Mapping{RecordID: "ma_ho_so", FullName: "ho_ten", DOB: "ngay_sinh", Province: "tinh"}
	sample, err := ReadSample(bytes.NewReader(recFile), CSV, &rm, 3000)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Cardinality = ManyToOne
	l, err := TrainWith(pop, sample, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := Reconcile(context.Background(), nil, l, bytes.NewReader(recFile), &out, BulkOptions{Format: CSV, Mapping: &rm, Truth: truth})
	if err != nil {
		t.Fatal(err)
	}
	q := sum.Quality
	t.Logf("general form: %d records, precision %.4f recall %.4f, outcomes %v", q.Records, q.Precision, q.Recall, sum.Outcomes)
	if q.Records != 3000 || q.InRegister < 2500 {
		t.Fatalf("quality over %d records, %d in the register", q.Records, q.InRegister)
	}
	if q.Precision < 0.99 || q.Recall < 0.9 {
		t.Errorf("precision %.4f recall %.4f, want ≥ 0.99 and ≥ 0.9", q.Precision, q.Recall)
	}
	if !strings.Contains(out.String(), `"personal_id":"HS-`) {
		t.Error("no result names its citizen by the insurance file's id")
	}
	// the sex is unknown on both sides: no weight, never "different"
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.Contains(line, `"field":"sex","level":"different"`) || strings.Contains(line, `"field":"sex","level":"exact"`) {
			t.Fatalf("a sex level without a sex: %s", line)
		}
	}
	if sum.Outcomes[identity.Verified] != 0 {
		t.Errorf("%d records verified without an index", sum.Outcomes[identity.Verified])
	}
}

// In the packed form (a CCCD and a sex) a row without them is skipped,
// with the column named; in the general form a row without a sex is kept
// and probed under both sexes.
func TestPopulationForms(t *testing.T) {
	for _, c := range []struct {
		name    string
		pm      Mapping
		general bool
		cccd    bool
	}{
		{"cccd and sex", Mapping{PersonalID: "id", FullName: "n", DOB: "d", Sex: "s"}, false, true},
		{"cccd, no sex", Mapping{PersonalID: "id", FullName: "n", DOB: "d"}, true, true},
		{"cmnd", Mapping{PersonalID: "id", IDFormat: "cmnd", FullName: "n", DOB: "d", Sex: "s"}, true, false},
		{"tax code", Mapping{PersonalID: "id", IDFormat: "digits", FullName: "n", DOB: "d", Sex: "s"}, true, false},
		{"no id", Mapping{FullName: "n", DOB: "d", Sex: "s"}, true, false},
	} {
		f := c.pm.GeneralPopulation()
		if f.General != c.general || f.CCCD != c.cccd {
			t.Errorf("%s: %+v, want general %v cccd %v", c.name, f, c.general, c.cccd)
		}
	}
	file := "id,n,d,s\n" +
		"001090000001,Nguyễn Văn An,1990-01-02,M\n" +
		"001090000002,Trần Thị Bình,1990-01-02,\n" + // no sex
		"12345,Lê Văn Cường,1990-01-02,M\n" + // not 12 digits
		"001090000004,Phạm Văn Dũng,1990-01-02,x\n" // sex not understood
	pm := Mapping{PersonalID: "id", FullName: "n", DOB: "d", Sex: "s"}
	_, st := buildMapped(t, []byte(file), pm)
	for why, want := range map[string]int{
		`sex missing or not M/F (column "s")`:         2,
		`personal number not 12 digits (column "id")`: 1,
	} {
		if st.Skipped[why] != want {
			t.Errorf("packed: skipped %q: %d, want %d (all: %v)", why, st.Skipped[why], want, st.Skipped)
		}
	}
	pm.IDFormat = IDDigits
	pop, st := buildMapped(t, []byte(file), pm)
	if pop.Len() != 3 || st.Skipped[`sex missing or not M/F (column "s")`] != 1 {
		t.Fatalf("general: %d citizens, skipped %v; want 3, the one with sex x skipped", pop.Len(), st.Skipped)
	}
	if !pop.noSex || pop.personalID(1) != "001090000002" || pop.personalID(2) != "12345" {
		t.Errorf("general: noSex %v, ids %q %q", pop.noSex, pop.personalID(1), pop.personalID(2))
	}
	var s side
	pop.sideOf(1, &s)
	if s.sex != 0 || s.hasPID || !s.dobOK {
		t.Errorf("general citizen without sex: sex %q hasPID %v dobOK %v", s.sex, s.hasPID, s.dobOK)
	}
	// a record of either sex finds the citizen without one
	l := &Linker{pop: pop, cfg: DefaultConfig()}
	for _, sex := range []string{"M", "F"} {
		r := prepare(Record{Name: "Trần Thị Bình", DOB: "1990-01-02", Sex: sex})
		cands, _ := l.candidatesBy(&r, 1<<RuleDOBSex, nil)
		if !containsU32(cands, 1) {
			t.Errorf("record of sex %s: candidates %v lack the citizen without a sex", sex, cands)
		}
	}
}

func containsU32(s []uint32, v uint32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// id_format: an unknown one is refused naming the formats; a records
// file's ids read in another format are kept as written.
func TestIDFormat(t *testing.T) {
	if _, err := ParseMapping(strings.NewReader(`{"full_name":"n","id_format":"tax"}`)); err == nil || !strings.Contains(err.Error(), "digits") {
		t.Errorf("unknown id_format: %v", err)
	}
	for _, c := range []struct {
		format, in, want string
		bad              bool
	}{
		{"cccd", "01090000001", "001090000001", false},
		{"cmnd", "12345678", "012345678", false},
		{"cmnd", "1234567", "", true},
		{"digits", "0101-234-567", "0101234567", false},
		{"digits", "AB12", "", true},
		{"text", " HS-01-123 ", "HS-01-123", false},
	} {
		m := Mapping{PersonalID: "id", FullName: "n", IDFormat: c.format}
		r := m.Record(func(col string) string { return map[string]string{"id": c.in, "n": "An"}[col] })
		if r.PersonalID != c.want || r.badID != c.bad {
			t.Errorf("%s %q: %q (bad %v), want %q (bad %v)", c.format, c.in, r.PersonalID, r.badID, c.want, c.bad)
		}
	}
	// a sample whose ids are none in the format: an error naming it
	m := Mapping{PersonalID: "id", FullName: "n", IDFormat: IDCMND}
	var sample []Record
	for range 10 {
		sample = append(sample, m.Record(func(col string) string { return map[string]string{"id": "12", "n": "An"}[col] }))
	}
	if err := CheckSample(sample, m); err == nil || !strings.Contains(err.Error(), "format cmnd") {
		t.Errorf("ids none in the format: %v", err)
	}
}

// FuzzScanPopulationGeneral: any file read through a general population
// mapping (a text id, no sex) is either refused at the start or read row
// by row: every row is emitted, skipped with a reason naming a column, or
// unreadable, and every emitted row has an id and a name; the population
// built from them keeps every one.
func FuzzScanPopulationGeneral(f *testing.F) {
	f.Add([]byte("so_bhxh,ho_ten,ngay_sinh\nHS-1,Nguyễn Văn An,14/03/1985\nHS-2,,01/01/1990\n,Lê Bảy,01/01/1990\nHS-4,Trần Thị Bình,31/02/1980\nHS-5,Phạm Dũng,\n"))
	f.Add([]byte("so_bhxh,ho_ten,ngay_sinh\n\"HS \"\"6\"\"\",\"Đỗ, Văn\",1985-03-14\nHS-7\n"))
	f.Add([]byte("ho_ten,ngay_sinh\nAn,01/01/1990\n"))
	pm := Mapping{PersonalID: "so_bhxh", IDFormat: IDText, FullName: "ho_ten", DOB: "ngay_sinh", DOBLayouts: []string{"02/01/2006"}}
	f.Fuzz(func(t *testing.T, file []byte) {
		emitted := 0
		var cs []store.Citizen
		st, err := ScanPopulationMapped(bytes.NewReader(file), CSV, &pm, nil, func(c store.Citizen, _ []string) bool {
			if c.ID == "" || c.FullName == "" {
				t.Fatalf("emitted a row without an id or a name: %+v", c)
			}
			emitted++
			cs = append(cs, c)
			return true
		})
		if err != nil {
			return // refused at the start (a missing column, no date read, …)
		}
		skipped := 0
		for why, n := range st.Skipped {
			if !strings.Contains(why, "(column ") {
				t.Errorf("reason %q names no column", why)
			}
			skipped += n
		}
		if emitted+skipped+st.Unreadable != st.Rows {
			t.Fatalf("%d rows: %d emitted, %d skipped, %d unreadable", st.Rows, emitted, skipped, st.Unreadable)
		}
		rows := func(yield func(store.Citizen, []string) bool) {
			for _, c := range cs {
				if !yield(c, nil) {
					return
				}
			}
		}
		pop, _ := BuildPopulationWith(rows, len(cs), pm.GeneralPopulation())
		if pop.Len() != len(cs) {
			t.Fatalf("population of %d from %d rows", pop.Len(), len(cs))
		}
	})
}
