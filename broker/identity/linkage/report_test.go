package linkage

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// reportWorld is a 20,000-citizen register and 1,500 legacy records of it
// (every third carrying its number), written as a ministry's CSV, with the
// ground truth.
func reportWorld(t *testing.T) (*identity.Index, *Linker, []byte, map[string]string) {
	t.Helper()
	const n, seed = 20_000, 7
	cs := synthetic.Population(seed, n)
	idx := identity.NewIndex(n)
	for _, c := range cs {
		if err := idx.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	pop, err := PopulationOf(cs)
	if err != nil {
		t.Fatal(err)
	}
	view := synthetic.NewPop(seed, n)
	o := synthetic.DefaultLegacyOptions()
	var in bytes.Buffer
	w := csv.NewWriter(&in)
	w.Write([]string{"record_id", "personal_id", "old_cmnd", "full_name", "dob", "sex", "province_code"})
	truth := map[string]string{}
	var sample []Record
	for i := range 1500 {
		o.WithNumber = i%3 == 0
		r := synthetic.Legacy(seed, view, uint64(i), o)
		w.Write([]string{r.RecordID, r.PersonalID, r.OldID, r.FullName, r.DOB, r.Sex, r.Province})
		truth[r.RecordID] = r.Truth
		sample = append(sample, Record{ID: r.RecordID, PersonalID: r.PersonalID, OldID: r.OldID, Name: r.FullName, DOB: r.DOB, Sex: r.Sex, Province: r.Province})
	}
	w.Flush()
	return idx, Train(pop, sample, DefaultConfig()), in.Bytes(), truth
}

// TestReport reconciles a generated file and checks its report: the JSON
// against a golden file, the HTML for its charts and figures.
func TestReport(t *testing.T) {
	idx, l, in, truth := reportWorld(t)
	var out bytes.Buffer
	sum, err := Reconcile(context.Background(), idx, l, bytes.NewReader(in), &out, BulkOptions{Format: CSV, Truth: truth})
	if err != nil {
		t.Fatal(err)
	}
	rep := NewReport("Reconciliation of a generated extract", sum, l.Config())
	rep.Elapsed = 0 // the one figure that changes from run to run
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/report.golden.json"
	if *update {
		if err := os.WriteFile(golden, js.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, js.Bytes()) {
		t.Errorf("report differs from %s (run with -update to accept):\n%s", golden, js.String())
	}
	// the figures are the reconciliation's
	total := 0
	for _, o := range rep.Outcomes {
		total += o.Count
		if o.Count != sum.Outcomes[o.Outcome] {
			t.Errorf("%s: report %d, summary %d", o.Outcome, o.Count, sum.Outcomes[o.Outcome])
		}
	}
	hist := 0
	for _, b := range rep.Histogram {
		hist += b.Count
	}
	if total != 1500 || hist == 0 || len(rep.Model.Comparisons) != nBase || rep.Quality == nil || rep.Quality.LinkPrec < 0.99 {
		t.Errorf("report: %d records, %d in the histogram, %d comparisons, quality %+v", total, hist, len(rep.Model.Comparisons), rep.Quality)
	}

	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	h := page.String()
	for _, s := range []string{`<svg id="outcome-chart"`, `<svg id="histogram-chart"`, `id="model-name"`, `id="model-dob"`, `id="model-old_id"`,
		`<table id="outcomes">`, `<table id="model">`, `<table id="quality">`, "dropped_and_slip"} {
		if !strings.Contains(h, s) {
			t.Errorf("HTML lacks %s", s)
		}
	}
	for _, o := range rep.Outcomes {
		if !strings.Contains(h, fmt.Sprintf("<td>%s</td><td>%d</td>", o.Outcome, o.Count)) {
			t.Errorf("HTML lacks the count of %s (%d)", o.Outcome, o.Count)
		}
	}
	for _, c := range rep.Model.Comparisons {
		for _, lv := range c.Levels {
			if !strings.Contains(h, fmt.Sprintf("<td>%s</td><td>%s</td><td>%.4g</td><td>%.4g</td>", c.Field, lv.Level, lv.M, lv.U)) {
				t.Errorf("HTML lacks m/u of %s/%s", c.Field, lv.Level)
			}
		}
	}
	// the threshold table: one row per threshold, the run's among them,
	// fewer linked and no worse expected precision as the threshold rises
	tab := rep.Thresholds.Table
	if len(tab) < len(sweepThresholds) || !slices.ContainsFunc(tab, func(r ThresholdRow) bool { return r.Probability == rep.Thresholds.Link }) {
		t.Fatalf("threshold table %+v", tab)
	}
	for k, r := range tab {
		if r.Precision == nil || r.Recall == nil {
			t.Errorf("threshold %v: no measured precision with a ground truth", r.Probability)
		}
		if !strings.Contains(h, fmt.Sprintf("<td>%v</td><td>%d</td><td>%v</td><td>%v</td><td>%v</td><td>%v</td>", r.Probability, r.Linked, r.ExpectedPrecision, r.ExpectedRecall, *r.Precision, *r.Recall)) {
			t.Errorf("HTML lacks the threshold row %v", r.Probability)
		}
		if k > 0 && (r.Linked > tab[k-1].Linked || r.ExpectedPrecision < tab[k-1].ExpectedPrecision || r.ExpectedRecall > tab[k-1].ExpectedRecall) {
			t.Errorf("threshold %v: %+v after %+v", r.Probability, r, tab[k-1])
		}
		if r.Probability == rep.Thresholds.Link && r.Linked != rep.Quality.Linked {
			t.Errorf("at the link threshold %d linked, the run linked %d", r.Linked, rep.Quality.Linked)
		}
	}
	// the blocking rules' shares of the true pairs: every rule listed,
	// dob+sex finds most, and what only one rule finds is part of its share
	if len(rep.Model.Blocking) != nRulesAll || rep.Model.Blocking[RuleDOBSex].Share < 0.8 || !strings.Contains(h, `<table id="blocking">`) {
		t.Errorf("blocking coverage %+v", rep.Model.Blocking)
	}
	for _, b := range rep.Model.Blocking {
		if b.Only > b.Share || b.Share > 1 || !strings.Contains(h, fmt.Sprintf("</td><td>%.2f%%</td><td>%.2f%%</td></tr>", 100*b.Share, 100*b.Only)) {
			t.Errorf("rule %+v (or not in the HTML)", b)
		}
	}
	// self-contained: no script, nothing fetched
	for _, s := range []string{"<script", "src=", "href=", "@import", "url("} {
		if strings.Contains(h, s) {
			t.Errorf("HTML contains %q", s)
		}
	}
	if n := strings.Count(h, "<rect"); n < 8+len(rep.Histogram) {
		t.Errorf("%d bars drawn", n)
	}
}

// The report of nothing still renders.
func TestReportEmpty(t *testing.T) {
	var page bytes.Buffer
	if err := NewReport("empty", Summary{Outcomes: map[identity.Outcome]int{}}, DefaultConfig()).WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "no record was decided by comparison") {
		t.Error(page.String())
	}
}

func TestReadTruth(t *testing.T) {
	m, err := ReadTruth(strings.NewReader("record_id,personal_id,errors\nr1,001090000001,typo\nr2,,\n"), CSV)
	if err != nil || len(m) != 2 || m["r1"] != "001090000001" || m["r2"] != "" {
		t.Fatal(m, err)
	}
	if _, err := ReadTruth(strings.NewReader("id,personal_id\n"), CSV); err == nil || !strings.Contains(err.Error(), `"record_id"`) {
		t.Errorf("missing column: %v", err)
	}
	m, err = ReadTruth(strings.NewReader(`{"record_id":"a","personal_id":"x"}`+"\n"), NDJSON)
	if err != nil || m["a"] != "x" {
		t.Fatal(m, err)
	}
}

func TestScanPopulation(t *testing.T) {
	in := "personal_id,full_name,dob,sex,province_code,deceased,old_cmnd\n" +
		"001090000001,Nguyễn Văn An,1990-01-02,M,,false,\n" +
		"002190000002,Trần Thị Bình,1990-03-04,Nữ,002,true,123456789\n"
	var got []string
	st, err := ScanPopulation(strings.NewReader(in), CSV, func(c store.Citizen) bool {
		got = append(got, c.ID+"|"+c.Sex+"|"+c.BirthProvince+"|"+strconv.FormatBool(c.Deceased)+"|"+c.OldID)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 2 || st.Unreadable != 0 || len(got) != 2 || got[0] != "001090000001|M|001|false|" || got[1] != "002190000002|F|002|true|123456789" {
		t.Fatalf("%+v %v", st, got)
	}
	if _, err := ScanPopulation(strings.NewReader("personal_id,name,dob\n"), CSV, nil); err == nil || !strings.Contains(err.Error(), `"full_name"`) {
		t.Errorf("missing column: %v", err)
	}
	nd := `{"personal_id":"001090000001","full_name":"A B","dob":"1990-01-02","sex":"F","birth_province":"001","deceased":true}` + "\n{broken\n"
	st, err = ScanPopulation(strings.NewReader(nd), NDJSON, func(c store.Citizen) bool {
		got = append(got[:0], c.ID+"|"+c.Sex+"|"+strconv.FormatBool(c.Deceased))
		return true
	})
	if err != nil || st.Rows != 2 || st.Unreadable != 1 || got[0] != "001090000001|F|true" {
		t.Fatal(st, got, err)
	}
	if _, err := ScanPopulation(io.MultiReader(strings.NewReader("personal_id,full_name,dob\n"), errReader{}), CSV, func(store.Citizen) bool { return true }); err == nil {
		t.Error("a read error was not reported")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("disk on fire") }

func TestEncodings(t *testing.T) {
	for _, c := range []struct {
		enc  string
		in   []byte
		want string
	}{
		// "Nguyễn Thị Hương" in the TCVN3 ("ABC") encoding
		{"tcvn3", []byte("Nguy\xd4n Th\xde H\xad\xacng"), "Nguyễn Thị Hương"},
		// Windows-1258 writes most tones as combining marks: ê (0xEA) +
		// tilde (0xDE), i + dot below (0xF2)
		{"windows-1258", []byte("Nguy\xea\xden Thi\xf2 H\xfd\xf5ng"), "Nguyễn Thị Hương"},
		{"utf-8", []byte("Nguyễn"), "Nguyễn"},
	} {
		e, err := ParseEncoding(c.enc)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(e.Decode(bytes.NewReader(c.in)))
		if err != nil {
			t.Fatal(err)
		}
		got := identity.Normalize(string(b))
		if got != identity.Normalize(c.want) {
			t.Errorf("%s: %q, want %q", c.enc, got, c.want)
		}
	}
	if _, err := ParseEncoding("vni"); err == nil {
		t.Error("unknown encoding accepted")
	}
}
