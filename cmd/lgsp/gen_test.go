package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/examples/synthetic/gen"
)

// runCmd runs the binary's command line and returns stdout, stderr and
// the exit code.
func runCmd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// lgsp gen writes a population, an extract and its ground truth, the same
// for the same seed, with the corruption asked for.
func TestGen(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := runCmd(t, "gen", "--dir", dir, "--citizens", "5000", "--records", "2000", "--seed", "9")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var sum gen.Summary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err, out)
	}
	pop := readCSV(t, filepath.Join(dir, "population.csv"))
	recs := readCSV(t, filepath.Join(dir, "records.csv"))
	truth := readCSV(t, filepath.Join(dir, "truth.csv"))
	if strings.Join(pop[0], ",") != "personal_id,old_cmnd,full_name,dob,sex,birth_province,deceased,residence,postcode,insurance_number" ||
		strings.Join(recs[0], ",") != "record_id,personal_id,old_cmnd,full_name,dob,sex,province_code,dia_chi,ma_buu_chinh,so_bhxh" ||
		strings.Join(truth[0], ",") != "record_id,personal_id,errors" {
		t.Fatalf("headers %v %v %v", pop[0], recs[0], truth[0])
	}
	if len(pop) != 5001 || len(recs) != 2001 || len(truth) != 2001 || sum.Citizens != 5000 || sum.RecordRows != 2000 {
		t.Fatalf("%d citizens, %d records, %d truths; summary %+v", len(pop)-1, len(recs)-1, len(truth)-1, sum)
	}
	ids := map[string]bool{}
	for _, c := range pop[1:] {
		ids[c[0]] = true
	}
	counts := map[string]int{}
	withNumber, in := 0, 0
	for k, r := range recs[1:] {
		tr := truth[k+1]
		if tr[0] != r[0] {
			t.Fatalf("row %d: record %s, truth %s", k, r[0], tr[0])
		}
		if tr[1] != "" {
			in++
			if !ids[tr[1]] {
				t.Fatalf("truth %s of %s not in the population", tr[1], r[0])
			}
		}
		if r[1] != "" {
			withNumber++
		}
		for _, e := range strings.Split(tr[2], "|") {
			if e != "" {
				counts[e]++
			}
		}
		if strings.Contains(tr[2], "no_number") && (r[1] != "" || r[2] != "") {
			t.Fatalf("%s: no_number with numbers %q %q", r[0], r[1], r[2])
		}
		if strings.Contains(tr[2], "cmnd_only") && (r[1] != "" || r[2] == "") {
			t.Fatalf("%s: cmnd_only with %q %q", r[0], r[1], r[2])
		}
	}
	if withNumber != sum.WithNumber || in != sum.InRegister {
		t.Errorf("counted %d with number, %d in register; summary %+v", withNumber, in, sum)
	}
	for k, n := range counts {
		if sum.Errors[k] != n {
			t.Errorf("%s: %d in the truth file, %d in the summary", k, n, sum.Errors[k])
		}
	}
	// about the documented rates (2,000 records: loose bounds)
	for k, want := range map[string]float64{"typo": 0.10, "diacritics": 0.15, "no_number": 0.5 * 0.8, "typo_number": 0.5 * 0.02 * 0.95,
		"no_address": 0.1, "moved": 0.08, "address_abbrev": 0.4 * 0.9, "house_number": 0.3 * 0.9 * 0.5} {
		if got := float64(counts[k]) / 2000; got < want*0.6 || got > want*1.5 {
			t.Errorf("%s: rate %.3f, want about %.3f", k, got, want)
		}
	}
	if share := float64(withNumber) / 2000; share < 0.45 || share > 0.55 {
		t.Errorf("%.3f of the records carry a number, want about 0.5", share)
	}
	// the extra columns: a record's address is its citizen's registered
	// one, rewritten; the ids are the population's
	residence, insurance := map[string]string{}, map[string]bool{}
	for _, c := range pop[1:] {
		residence[c[0]] = c[7]
		insurance[c[9]] = c[9] != ""
	}
	var addresses, same, ins int
	for k, r := range recs[1:] {
		tr := truth[k+1]
		if r[7] != "" {
			addresses++
			if r[7] == residence[tr[1]] {
				same++
			}
		}
		if r[9] != "" && !strings.Contains(tr[2], "typo_insurance") {
			ins++
			if tr[1] != "" && !insurance[r[9]] {
				t.Fatalf("%s: insurance number %s not in the population", r[0], r[9])
			}
		}
	}
	if addresses < 1700 || same < 400 || same > addresses*6/10 || ins < 300 {
		t.Errorf("%d addresses, %d as registered, %d insurance numbers", addresses, same, ins)
	}

	// the same seed gives the same files; the rates are flags
	dir2 := t.TempDir()
	if _, errs, code := runCmd(t, "gen", "--dir", dir2, "--citizens", "5000", "--records", "2000", "--seed", "9"); code != 0 {
		t.Fatal(errs)
	}
	for _, f := range []string{"population.csv", "records.csv", "truth.csv"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same seed", f)
		}
	}
	dir3 := t.TempDir()
	out, errs, code = runCmd(t, "gen", "--dir", dir3, "--citizens", "3000", "--records", "1000", "--format", "ndjson",
		"--with-number", "0", "--typo", "0", "--diacritics", "1", "--no-date", "0.5")
	if code != 0 {
		t.Fatal(errs)
	}
	sum = gen.Summary{}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.WithNumber != 0 || sum.Errors["typo"] != 0 || sum.Errors["diacritics"] < 990 || sum.Errors["no_date"] < 400 {
		t.Errorf("rates not applied: %+v", sum)
	}
	f, err := os.Open(filepath.Join(dir3, "records.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r["record_id"] == nil || r["full_name"] == nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != 1000 {
		t.Errorf("%d NDJSON records", lines)
	}

	// without --extras, the files are as before
	dir4 := t.TempDir()
	if _, errs, code := runCmd(t, "gen", "--dir", dir4, "--citizens", "1000", "--records", "300", "--extras=false"); code != 0 {
		t.Fatal(errs)
	}
	pop = readCSV(t, filepath.Join(dir4, "population.csv"))
	recs = readCSV(t, filepath.Join(dir4, "records.csv"))
	truth = readCSV(t, filepath.Join(dir4, "truth.csv"))
	if len(pop[0]) != 7 || len(recs[0]) != 7 {
		t.Errorf("headers %v %v", pop[0], recs[0])
	}
	for _, tr := range truth[1:] {
		if strings.Contains(tr[2], "address") || strings.Contains(tr[2], "moved") {
			t.Fatalf("%v: address errors without --extras", tr)
		}
	}
}

func TestGenBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--records", "20", "--citizens", "10"},
		{"--typo", "1.5"},
		{"--moved", "-0.1"},
		{"--format", "xml"},
		{"--citizens", "0"},
	} {
		_, errs, code := runCmd(t, append([]string{"gen", "--dir", t.TempDir()}, args...)...)
		if code != 1 || errs == "" {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
	if _, errs, code := runCmd(t, "gen", "-h"); code != 0 || !strings.Contains(errs, "--diacritics") && !strings.Contains(errs, "-diacritics") {
		t.Errorf("help: %d %s", code, errs)
	}
}

// The extract's extra columns reconcile through a mapping's extra fields:
// the address, postcode and social-insurance number weigh in every
// explanation, and a mapping naming a population column the file lacks
// fails at the start, naming it.
func TestGenReconcileExtras(t *testing.T) {
	dir := t.TempDir()
	if _, errs, code := runCmd(t, "gen", "--dir", dir, "--citizens", "20000", "--records", "2000"); code != 0 {
		t.Fatal(errs)
	}
	mapping := filepath.Join(dir, "mapping.json")
	os.WriteFile(mapping, []byte(`{"record_id":"record_id","personal_id":"personal_id","old_id":"old_cmnd","full_name":"full_name","dob":"dob","sex":"sex","province_code":"province_code",
 "extra":[{"name":"address","column":"dia_chi","population_column":"residence","comparison":"address"},
  {"name":"postcode","column":"ma_buu_chinh","comparison":"postcode"},
  {"name":"bhxh","column":"so_bhxh","population_column":"insurance_number","comparison":"id"}]}`), 0o644)
	out, errs, code := runCmd(t, "reconcile", "--population", filepath.Join(dir, "population.csv"), "--records", filepath.Join(dir, "records.csv"),
		"--mapping", mapping, "--out", filepath.Join(dir, "out.ndjson"), "--truth", filepath.Join(dir, "truth.csv"), "--report", filepath.Join(dir, "report.html"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var sum struct {
		Quality struct {
			LinkPrec   float64 `json:"link_precision"`
			LinkRecall float64 `json:"link_recall"`
		} `json:"quality"`
	}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err, out)
	}
	if sum.Quality.LinkPrec < 0.99 || sum.Quality.LinkRecall < 0.97 {
		t.Errorf("linked precision %.4f recall %.4f with the extra fields", sum.Quality.LinkPrec, sum.Quality.LinkRecall)
	}
	res, _ := os.ReadFile(filepath.Join(dir, "out.ndjson"))
	for _, want := range []string{`{"field":"address","level":"exact"`, `{"field":"postcode","level":"exact"`, `{"field":"bhxh","level":"exact"`} {
		if !strings.Contains(string(res), want) {
			t.Errorf("no explanation with %s", want)
		}
	}
	rep, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if !strings.Contains(string(rep), `"comparison": "address"`) || !strings.Contains(string(rep), `"level": "same_commune"`) {
		t.Errorf("the report has no address model: %.300s", rep)
	}
	os.WriteFile(mapping, []byte(`{"full_name":"full_name","dob":"dob","extra":[{"name":"phone","column":"dia_chi","population_column":"phone","comparison":"exact"}]}`), 0o644)
	if _, errs, code := runCmd(t, "reconcile", "--population", filepath.Join(dir, "population.csv"), "--records", filepath.Join(dir, "records.csv"),
		"--mapping", mapping, "--out", filepath.Join(dir, "out2.ndjson")); code == 0 || !strings.Contains(errs, `population column "phone"`) {
		t.Errorf("missing population column: exit %d, %s", code, errs)
	}
}
