package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage/reconcilerun"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/unicode/norm"
)

// A ministry reconciles its person file, with its own column names and
// date format, against the register of a dev bus.
func TestReconcileCommand(t *testing.T) {
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic = config.Synthetic{Population: 3000, Seed: 5}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
	if err != nil {
		t.Fatal(err)
	}
	var people []store.Citizen
	_ = bus.Store.ScanCitizens(ctx, func(c store.Citizen) error {
		if !c.Deceased && len(people) < 200 {
			people = append(people, c)
		}
		return nil
	})
	bus.Close(context.Background())

	var sb strings.Builder
	sb.WriteString("ma_ho_so,so_dinh_danh,ho_ten,ngay_sinh,gioi_tinh\n")
	for i, p := range people {
		id, name := p.ID, p.FullName
		switch {
		case i%4 == 1: // no usable number: linked by name, date and sex
			id = ""
		case i%4 == 2: // misspelled name: a strict mismatch
			name += "h"
		}
		dob, _ := time.Parse("2006-01-02", p.DOB)
		fmt.Fprintf(&sb, "HS%04d,%s,%s,%s,%s\n", i, id, name, dob.Format("02/01/2006"), map[string]string{"M": "Nam", "F": "Nữ"}[p.Sex])
	}
	input := filepath.Join(dir, "nguoi_nop_thue.csv")
	mapping := filepath.Join(dir, "mapping.json")
	os.WriteFile(input, []byte(sb.String()), 0o644)
	os.WriteFile(mapping, []byte(`{"record_id":"ma_ho_so","personal_id":"so_dinh_danh","full_name":"ho_ten","dob":"ngay_sinh","dob_layouts":["02/01/2006"],"sex":"gioi_tinh"}`), 0o644)

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"reconcile", "--input", input, "--mapping", mapping, "--data-dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var sum struct {
		Records  int            `json:"records"`
		Outcomes map[string]int `json:"outcomes"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if sum.Records != len(people) || sum.Outcomes["verified"] < len(people)/2 || sum.Outcomes["linked"] == 0 {
		t.Fatalf("summary %+v", sum)
	}
	f, err := os.Open(input + ".results.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r["outcome"] == nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines != len(people) {
		t.Fatalf("%d result lines for %d records", lines, len(people))
	}
	if code := run(context.Background(), []string{"reconcile", "--input", input, "--format", "xml"}, &out, &errb); code != 1 {
		t.Fatal("bad format accepted")
	}
}

// genWorld writes a generated population, extract and truth into a temp
// dir and returns the dir.
func genWorld(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, errs, code := runCmd(t, append([]string{"gen", "--dir", dir}, args...)...); code != 0 {
		t.Fatal(errs)
	}
	return dir
}

// readResults reads an NDJSON results file into records by id, checking
// that every line has the documented fields.
func readResults(t *testing.T, path string) (map[string]map[string]any, []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string]any{}
	var order []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("result line %q: %v", sc.Text(), err)
		}
		for _, k := range []string{"record_id", "outcome", "personal_id", "score", "explanation", "reason"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("result line without %s: %s", k, sc.Text())
			}
		}
		if r["outcome"] == "" || r["reason"] == "" {
			t.Fatalf("result line without outcome or reason: %s", sc.Text())
		}
		id := r["record_id"].(string)
		out[id] = r
		order = append(order, id)
	}
	return out, order
}

// A ministry reconciles a generated extract against a population file:
// results, summary with the quality against the ground truth, progress bar,
// and the report as HTML and JSON.
func TestReconcileFiles(t *testing.T) {
	dir := genWorld(t, "--citizens", "20000", "--records", "3000", "--seed", "3")
	out := filepath.Join(dir, "results.ndjson")
	rep := filepath.Join(dir, "report.html")
	stdout, stderr, code := runCmd(t, "reconcile", "--population", filepath.Join(dir, "population.csv"), "--records", filepath.Join(dir, "records.csv"),
		"--out", out, "--report", rep, "--truth", filepath.Join(dir, "truth.csv"), "--progress")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum reconcilerun.Summary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err, stdout)
	}
	q := sum.Quality
	if sum.Records != 3000 || q == nil || q.Records != 3000 || q.Precision < 0.995 || q.Recall < 0.97 || q.LinkPrec < 0.99 || q.LinkRecall < 0.95 {
		t.Fatalf("summary %+v quality %+v", sum, q)
	}
	res, _ := readResults(t, out)
	if len(res) != 3000 {
		t.Fatalf("%d results", len(res))
	}
	for _, s := range []string{"loading population", "reconciling", "100%", "3000/3000", "records/s"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("progress output lacks %q:\n%s", s, stderr)
		}
	}
	page, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	var figures struct {
		Records  int `json:"records"`
		Outcomes []struct {
			Outcome string `json:"outcome"`
			Count   int    `json:"count"`
		} `json:"outcomes"`
		Histogram []struct{ Count int } `json:"weight_histogram"`
		Model     struct {
			Comparisons []struct {
				Levels []struct{ M, U float64 } `json:"levels"`
			} `json:"comparisons"`
		} `json:"model"`
	}
	js, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &figures); err != nil {
		t.Fatal(err)
	}
	if figures.Records != 3000 || len(figures.Histogram) == 0 || len(figures.Model.Comparisons) != 6 { // name, dob, sex, province, old_id, personal_id
		t.Fatalf("report figures %s", js)
	}
	for _, o := range figures.Outcomes {
		if o.Count != sum.Outcomes[identity.Outcome(o.Outcome)] {
			t.Errorf("%s: report %d, summary %d", o.Outcome, o.Count, sum.Outcomes[identity.Outcome(o.Outcome)])
		}
		if !strings.Contains(string(page), fmt.Sprintf("<td>%s</td><td>%d</td>", o.Outcome, o.Count)) {
			t.Errorf("HTML lacks %s = %d", o.Outcome, o.Count)
		}
	}
	for _, s := range []string{`id="outcome-chart"`, `id="histogram-chart"`, `id="model-name"`, `id="quality"`} {
		if !strings.Contains(string(page), s) {
			t.Errorf("HTML lacks %s", s)
		}
	}

	// NDJSON files, the old flag names, and the report's JSON elsewhere
	nd := genWorld(t, "--citizens", "5000", "--records", "500", "--format", "ndjson")
	out2 := filepath.Join(nd, "r.ndjson")
	_, stderr, code = runCmd(t, "reconcile", "--population", filepath.Join(nd, "population.ndjson"), "--input", filepath.Join(nd, "records.ndjson"),
		"--output", out2, "--report-json", filepath.Join(nd, "figures.json"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if res, _ := readResults(t, out2); len(res) != 500 {
		t.Errorf("%d NDJSON results", len(res))
	}
	if _, err := os.Stat(filepath.Join(nd, "figures.json")); err != nil {
		t.Error(err)
	}
	if strings.Contains(stderr, "reconciling") {
		t.Error("progress bar drawn on a stderr that is not a terminal, without --progress")
	}
}

// A mapping naming a column the file lacks fails at the start, naming it,
// before the population is read.
func TestReconcileMissingColumn(t *testing.T) {
	dir := t.TempDir()
	csvIn := filepath.Join(dir, "in.csv")
	ndIn := filepath.Join(dir, "in.ndjson")
	mapping := filepath.Join(dir, "m.json")
	os.WriteFile(csvIn, []byte("ma,ho_ten,ngay_sinh\nA1,Nguyễn Văn An,1990-01-01\n"), 0o644)
	os.WriteFile(ndIn, []byte(`{"ma":"A1","ho_ten":"Nguyễn Văn An","ngay_sinh":"1990-01-01"}`+"\n"), 0o644)
	os.WriteFile(mapping, []byte(`{"record_id":"ma","full_name":"ho_ten","dob":"ngay_sinh","sex":"gioi_tinh"}`), 0o644)
	for _, in := range []string{csvIn, ndIn} {
		_, stderr, code := runCmd(t, "reconcile", "--records", in, "--mapping", mapping, "--population", filepath.Join(dir, "absent.csv"))
		if code != 1 || !strings.Contains(stderr, `"gioi_tinh"`) {
			t.Errorf("%s: exit %d, %s", in, code, stderr)
		}
	}
	// without a mapping, the name column is the one that must be there
	os.WriteFile(csvIn, []byte("record_id,ten\nA1,An\n"), 0o644)
	if _, stderr, code := runCmd(t, "reconcile", "--records", csvIn, "--population", filepath.Join(dir, "absent.csv")); code != 1 || !strings.Contains(stderr, `"full_name"`) {
		t.Errorf("default mapping: exit %d, %s", code, stderr)
	}
}

// Bad input never stops a reconciliation: every record gets an outcome and
// a reason saying what could not be used.
func TestReconcileBadInput(t *testing.T) {
	dir := genWorld(t, "--citizens", "5000", "--records", "1000", "--seed", "11")
	pop := readCSV(t, filepath.Join(dir, "population.csv"))[1:]
	var live [][]string // personal_id, old_cmnd, full_name, dob, sex, birth_province, deceased
	for _, c := range pop {
		if c[6] == "false" && len(strings.Fields(c[2])) >= 3 {
			live = append(live, c)
		}
	}
	a, b, c, d := live[0], live[1], live[2], live[3]
	nfd := norm.NFD.String(c[2])
	w := strings.Fields(d[2])
	mixed := norm.NFD.String(w[0]) + " " + strings.Join(w[1:], " ")
	cases := []struct {
		id, number, name, dob, sex, prov string
		outcomes                         []identity.Outcome
		reason                           string
	}{
		{"unparseable-date", "", a[2], "31/31/31", a[4], "", []identity.Outcome{identity.Linked, identity.Review, identity.Unmatched}, `date of birth "31/31/31" not understood`},
		{"date-words", "", a[2], "ngày mười", a[4], "", []identity.Outcome{identity.Linked, identity.Review, identity.Unmatched}, "not understood"},
		{"empty-name", "", "", a[3], a[4], "", []identity.Outcome{identity.Unmatched, identity.Review}, "no name"},
		{"empty-name-with-number", a[0], "", a[3], a[4], "", []identity.Outcome{identity.Verified}, "no name"},
		{"number-with-letters", "0" + b[0][1:11] + "A", b[2], b[3], b[4], b[5], []identity.Outcome{identity.Linked, identity.InvalidID}, "personal number is invalid (non_digit)"},
		{"letters-only", "không có", "Trần Văn Không", "1970-01-01", "M", "", []identity.Outcome{identity.InvalidID}, "personal number is invalid (length)"},
		{"number-with-spaces", b[0][:4] + " " + b[0][4:8] + " " + b[0][8:], b[2], b[3], b[4], "", []identity.Outcome{identity.Verified}, "written with separators"},
		{"leading-zero-lost", b[0][1:], b[2], b[3], b[4], "", []identity.Outcome{identity.Verified}, "leading zero restored"},
		{"windows-1258-name", "", "Nguy\xea\xden V\xe6n Thi\xf2nh", "1980-05-06", "M", "", []identity.Outcome{identity.Unmatched, identity.Review, identity.Linked}, "not valid UTF-8"},
		{"tcvn3-name", "", "Tr\xc7n Th\xde H\xad\xacng", "1990-02-03", "F", "", []identity.Outcome{identity.Unmatched, identity.Review, identity.Linked}, "not valid UTF-8"},
		{"nfd-name", c[0], nfd, c[3], c[4], "", []identity.Outcome{identity.Verified}, "decomposed"},
		{"mixed-nfc-nfd", d[0], mixed, d[3], d[4], "", []identity.Outcome{identity.Verified}, "decomposed"},
		{"nfd-name-no-number", "", nfd, c[3], c[4], c[5], []identity.Outcome{identity.Linked}, "decomposed"},
		{"sex-unknown", a[0], a[2], a[3], "?", "", []identity.Outcome{identity.Verified}, `sex "?" not understood`},
		{"province-unknown", "", a[2], a[3], a[4], "999", []identity.Outcome{identity.Linked}, `province code "999" unknown`},
		{"all-empty", "", "", "", "", "", []identity.Outcome{identity.Unmatched}, "no candidate"},
		{"control-characters", "", "\x00\x01\x02", "\x7f", "\x00", "\x1b", []identity.Outcome{identity.Unmatched}, "not understood"},
	}
	var sb strings.Builder
	sb.WriteString("record_id,personal_id,full_name,dob,sex,province_code\n")
	cw := csv.NewWriter(&sb)
	for _, c := range cases {
		cw.Write([]string{c.id, c.number, c.name, c.dob, c.sex, c.prov})
	}
	cw.Flush()
	sb.WriteString("short-row,\n")                               // fewer columns
	sb.WriteString("long-row,,Lê Văn Dài,1980-01-01,M,,x,y,z\n") // more columns
	sb.WriteString("quote\"inside,,Ng\"uyễn,1980-01-01,M,\n")    // a stray quote
	sb.WriteString("\"open-quote,,Phạm Văn Mở,1980-01-01,M,\n")  // a quote never closed: swallows the rest
	in := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(in, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bad.results.ndjson")
	_, stderr, code := runCmd(t, "reconcile", "--population", filepath.Join(dir, "population.csv"), "--records", in, "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	res, order := readResults(t, out)
	if len(order) != len(cases)+4 {
		t.Errorf("%d results for %d rows: %v", len(order), len(cases)+4, order)
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			r, ok := res[c.id]
			if !ok {
				t.Fatal("no result")
			}
			if !slices.Contains(c.outcomes, identity.Outcome(r["outcome"].(string))) || !strings.Contains(r["reason"].(string), c.reason) {
				t.Errorf("%s (%s), want one of %v and a reason with %q", r["outcome"], r["reason"], c.outcomes, c.reason)
			}
		})
	}
	for _, id := range []string{"short-row", "long-row", "quote\"inside"} {
		if _, ok := res[id]; !ok {
			t.Errorf("row %s has no result", id)
		}
	}

	// with the file's encoding named, the legacy names read right
	person := live[4]
	enc, err := charmap.Windows1258.NewEncoder().String(cp1258Form(person[2]))
	if err != nil {
		t.Fatalf("name %q not in Windows-1258: %v", person[2], err)
	}
	in1258 := filepath.Join(dir, "cp1258.csv")
	os.WriteFile(in1258, []byte("record_id,personal_id,full_name,dob,sex\nx1,"+person[0]+","+enc+","+person[3]+","+person[4]+"\n"), 0o644)
	for _, e := range []struct {
		encoding string
		outcome  identity.Outcome
	}{{"utf-8", ""}, {"windows-1258", identity.Verified}} {
		_, stderr, code = runCmd(t, "reconcile", "--population", filepath.Join(dir, "population.csv"), "--records", in1258, "--out", out, "--encoding", e.encoding)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		res, _ = readResults(t, out)
		r := res["x1"]
		if e.outcome != "" && (r["outcome"] != string(e.outcome) || strings.Contains(r["reason"].(string), "UTF-8")) {
			t.Errorf("--encoding %s: %v", e.encoding, r)
		}
		if e.outcome == "" && !strings.Contains(r["reason"].(string), "not valid UTF-8") {
			t.Errorf("--encoding %s: %v", e.encoding, r)
		}
	}
}

// cp1258Form writes the tone marks of s as combining characters after
// letters that keep their other marks precomposed, as Windows-1258 does.
func cp1258Form(s string) string {
	var b strings.Builder
	for _, r := range norm.NFC.String(s) {
		var base, tones []rune
		for _, m := range norm.NFD.String(string(r)) {
			switch m {
			case '\u0300', '\u0301', '\u0303', '\u0309', '\u0323':
				tones = append(tones, m)
			default:
				base = append(base, m)
			}
		}
		b.WriteString(norm.NFC.String(string(base)))
		b.WriteString(string(tones))
	}
	return b.String()
}

var (
	// a frame of the reconciling bar: percent, count, total, rate, unit and
	// [elapsed:ETA] or, once finished, [elapsed]
	recFrame = regexp.MustCompile(`reconciling +\d+% \|[^|]*\| \((\d+)/(\d+), (\d+) records/(s|min|hr)\)(?: \[([^\]:]*)(?::([^\]]*))?\])?`)
	// a frame of the population bar: bytes read / size, rate
	popFrame = regexp.MustCompile(`loading population +\d+% \|[^|]*\| \(([\d.]+)( [kMGT]?B)?/([\d.]+) ([kMGT]?B)(?:, ([\d.]+) ([kMGT]?B)/s)?\)(?: \[([^\]:]*)(?::([^\]]*))?\])?`)
)

func siBytes(v, unit string) float64 {
	x, _ := strconv.ParseFloat(v, 64)
	return x * map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[strings.TrimSpace(unit)]
}

// No frame of the progress bars shows a rate the work cannot have had: a
// frame drawn before the end comes at least one throttle period after the
// bar's start (so its rate is at most what it counts over that period),
// the last one is the run's average, and the ETA is what the rate gives.
func TestReconcileProgressRates(t *testing.T) {
	dir := genWorld(t, "--citizens", "60000", "--records", "20000", "--seed", "9")
	var stdout, stderr bytes.Buffer
	err := runReconcile(context.Background(), []string{"--population", filepath.Join(dir, "population.csv"), "--records", filepath.Join(dir, "records.csv"),
		"--out", filepath.Join(dir, "r.ndjson"), "--batch", "2000", "--progress"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var avg float64 // the run's records per second, as logged
	if m := regexp.MustCompile(`\((\d+) records, (\d+) records/s\)`).FindStringSubmatch(stderr.String()); m != nil {
		avg, _ = strconv.ParseFloat(m[2], 64)
	}
	if avg <= 0 {
		t.Fatalf("no average rate in the log:\n%s", stderr.String())
	}
	throttle := reconcilerun.BarThrottle.Seconds()
	var frames, running int
	for _, seg := range strings.FieldsFunc(stderr.String(), func(r rune) bool { return r == '\r' || r == '\n' }) {
		if m := recFrame.FindStringSubmatch(seg); m != nil {
			frames++
			count, _ := strconv.ParseFloat(m[1], 64)
			total, _ := strconv.ParseFloat(m[2], 64)
			rate, _ := strconv.ParseFloat(m[3], 64)
			rate *= map[string]float64{"s": 1, "min": 1.0 / 60, "hr": 1.0 / 3600}[m[4]]
			if m[5] != "" {
				if _, err := time.ParseDuration(m[5]); err != nil {
					t.Errorf("elapsed %q: %v in %q", m[5], err, seg)
				}
			}
			if count < total { // drawn on the way
				running++
				if count == 0 || rate > count/throttle+1 {
					t.Errorf("%q: %.0f records/s after %.0f records is more than they took at least %v for", seg, rate, count, reconcilerun.BarThrottle)
				}
				eta, err := time.ParseDuration(m[6])
				if err != nil || eta < 0 {
					t.Errorf("%q: ETA %q (%v)", seg, m[6], err)
					continue
				}
				// the ETA is (total-count)/rate, whole seconds; rate is rounded
				lo, hi := math.Floor((total-count)/(rate+0.5))-1, (total-count)/math.Max(rate-0.5, 0.5)+1
				if s := eta.Seconds(); s < lo || s > hi {
					t.Errorf("%q: ETA %v, want (%.0f-%.0f)/%.0f s", seg, eta, total, count, rate)
				}
			} else if rate > 1.5*avg+1 { // the last frame: the whole run
				t.Errorf("%q: last frame %.0f records/s, the run averaged %.0f", seg, rate, avg)
			}
			continue
		}
		if m := popFrame.FindStringSubmatch(seg); m != nil {
			frames++
			unit := m[2]
			if unit == "" {
				unit = m[4]
			}
			read, size := siBytes(m[1], unit), siBytes(m[3], m[4])
			if m[5] == "" || read >= size*0.99 {
				continue // no rate yet, or the last frame
			}
			running++
			if rate := siBytes(m[5], m[6]); rate > 1.1*read/throttle {
				t.Errorf("%q: %s%s/s after %s%s is more than they took at least %v for", seg, m[5], m[6], m[1], unit, reconcilerun.BarThrottle)
			}
		}
	}
	if frames == 0 || !strings.Contains(stderr.String(), "20000/20000") {
		t.Fatalf("no progress frames:\n%q", stderr.String())
	}
	t.Logf("%d frames, %d drawn on the way; the run averaged %.0f records/s", frames, running, avg)
}

// Against a bus's register (--data-dir on SQLite, --config on PostgreSQL),
// a mapping's extra fields compare with the residence the register keeps:
// the address weighs in the explanations, linked recall improves, and the
// results are those of the same population given as a file. An extra
// field naming another population column fails at the start, naming it.
func TestReconcileRegisterResidence(t *testing.T) {
	world := genWorld(t, "--citizens", "20000", "--records", "2000", "--seed", "7")
	popFile := filepath.Join(world, "population.csv")
	var pop []store.Citizen
	pf, err := os.Open(popFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := linkage.ScanPopulation(pf, linkage.CSV, func(c store.Citizen) bool { pop = append(pop, c); return true }); err != nil {
		t.Fatal(err)
	}
	pf.Close()
	if len(pop) != 20000 || pop[0].Residence == "" {
		t.Fatalf("generated population: %d citizens, first %+v", len(pop), pop[0])
	}
	// the same population as a file in the register's order (ID order),
	// so that the model is estimated from the same random pairs
	slices.SortFunc(pop, func(a, b store.Citizen) int { return strings.Compare(a.ID, b.ID) })
	sorted := filepath.Join(world, "population-sorted.csv")
	var sb strings.Builder
	w := csv.NewWriter(&sb)
	w.Write([]string{"personal_id", "old_cmnd", "full_name", "dob", "sex", "birth_province", "deceased", "residence"})
	for _, c := range pop {
		w.Write([]string{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, strconv.FormatBool(c.Deceased), c.Residence})
	}
	w.Flush()
	if err := os.WriteFile(sorted, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const fields = `"record_id":"record_id","personal_id":"personal_id","old_id":"old_cmnd","full_name":"full_name","dob":"dob","sex":"sex","province_code":"province_code"`
	writeMapping := func(name, extra string) string {
		p := filepath.Join(world, name)
		if err := os.WriteFile(p, []byte(`{`+fields+`,"extra":[`+extra+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := writeMapping("plain.json", "")
	address := writeMapping("address.json", `{"name":"address","column":"dia_chi","population_column":"residence","comparison":"address"}`)
	postcode := writeMapping("postcode.json", `{"name":"address","column":"dia_chi","population_column":"residence","comparison":"address"},
		{"name":"postcode","column":"ma_buu_chinh","comparison":"postcode"}`)
	records, truth := filepath.Join(world, "records.csv"), filepath.Join(world, "truth.csv")

	reconcile := func(t *testing.T, bus []string, mapping, out string) *linkage.Quality {
		t.Helper()
		args := append([]string{"reconcile", "--records", records, "--mapping", mapping, "--truth", truth, "--out", out}, bus...)
		stdout, stderr, code := runCmd(t, args...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", filepath.Base(mapping), code, stderr)
		}
		var sum reconcilerun.Summary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil || sum.Quality == nil {
			t.Fatalf("%s: summary %s (%v)", filepath.Base(mapping), stdout, err)
		}
		return sum.Quality
	}
	fromFile := reconcile(t, []string{"--population", sorted}, address, filepath.Join(world, "file.ndjson"))

	for _, backend := range []struct {
		name string
		open func(t *testing.T) (store.Store, []string) // the store and the flags naming it
	}{
		{"sqlite", func(t *testing.T) (store.Store, []string) {
			dir := t.TempDir()
			c := config.Defaults()
			c.DataDir = dir
			st, err := runtime.OpenStore(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			return st, []string{"--data-dir", dir}
		}},
		{"postgres", func(t *testing.T) (store.Store, []string) {
			url := pgtest.SchemaURL(t, "lgsp_cli_residence")
			st, err := pgstore.Open(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(t.TempDir(), "lgsp.yaml")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf("store:\n  driver: postgres\n  url: %q\n", url)), 0o600); err != nil {
				t.Fatal(err)
			}
			return st, []string{"--config", cfg}
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			st, bus := backend.open(t)
			defer st.Close()
			if err := st.PutCitizens(context.Background(), pop); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			without := reconcile(t, bus, plain, filepath.Join(dir, "plain.ndjson"))
			with := reconcile(t, bus, address, filepath.Join(dir, "address.ndjson"))
			t.Logf("linked precision %.4f → %.4f, recall %.4f → %.4f (%d to link); identified precision %.4f → %.4f, recall %.4f → %.4f",
				without.LinkPrec, with.LinkPrec, without.LinkRecall, with.LinkRecall, with.ToLink,
				without.Precision, with.Precision, without.Recall, with.Recall)
			if with.ToLink < 100 || with.LinkRecall <= without.LinkRecall || with.LinkPrec < 0.99 || with.Recall < without.Recall {
				t.Errorf("with the register's residence: linked precision %.4f recall %.4f, without: %.4f %.4f",
					with.LinkPrec, with.LinkRecall, without.LinkPrec, without.LinkRecall)
			}
			if *with != *fromFile {
				t.Errorf("quality against the register %+v, against the population file %+v", *with, *fromFile)
			}
			res, _ := readResults(t, filepath.Join(dir, "address.ndjson"))
			levels := map[string]int{}
			for _, r := range res {
				raw, _ := json.Marshal(r["explanation"])
				var expl struct {
					Fields []struct {
						Field, Level string
						Weight       float64
					}
				}
				_ = json.Unmarshal(raw, &expl)
				for _, e := range expl.Fields {
					if e.Field == "address" {
						levels[e.Level]++
						if e.Level == "exact" && e.Weight <= 0 || e.Level == "different" && e.Weight >= 0 {
							t.Fatalf("address level %s with weight %.2f: %s", e.Level, e.Weight, raw)
						}
					}
				}
			}
			if levels["exact"] == 0 || levels["different"] == 0 {
				t.Errorf("address levels in the explanations: %v", levels)
			}

			// another population column: refused at the start, before the
			// records are read (this records file does not exist)
			_, stderr, code := runCmd(t, append([]string{"reconcile", "--records", filepath.Join(dir, "absent.csv"), "--mapping", postcode}, bus...)...)
			if code != 1 || !strings.Contains(stderr, `population column "postcode"`) || !strings.Contains(stderr, `only "residence"`) {
				t.Errorf("extra field on a column the register lacks: exit %d, %s", code, stderr)
			}
		})
	}
}

// Another ministry's file as the population side: its own column names,
// the name in parts, dates as dd/mm/yyyy and sex as Nam/Nữ, read with
// --population-mapping, links as well as the register's own file; a
// mapping wrong for the whole file fails before the run, naming what to
// change, and skipped rows are counted by reason.
func TestReconcilePopulationMapping(t *testing.T) {
	dir := genWorld(t, "--citizens", "8000", "--records", "1500", "--seed", "21")
	pop := readCSV(t, filepath.Join(dir, "population.csv"))
	col := map[string]int{}
	for k, h := range pop[0] {
		col[h] = k
	}
	write := func(name string, dob func(string) string, sex func(string) string, extra [][]string) string {
		var sb strings.Builder
		cw := csv.NewWriter(&sb)
		cw.Write([]string{"so_dinh_danh", "cmnd_cu", "ho", "ten_dem", "ten", "ngay_sinh", "gioi_tinh", "tinh"})
		for _, r := range pop[1:] {
			w := strings.Fields(r[col["full_name"]])
			cw.Write([]string{r[col["personal_id"]], r[col["old_cmnd"]], w[0], strings.Join(w[1:len(w)-1], " "), w[len(w)-1],
				dob(r[col["dob"]]), sex(r[col["sex"]]), r[col["birth_province"]]})
		}
		for _, r := range extra {
			cw.Write(r)
		}
		cw.Flush()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dmy := func(d string) string { return d[8:10] + "/" + d[5:7] + "/" + d[:4] }
	namNu := func(s string) string { return map[string]string{"M": "Nam", "F": "Nữ"}[s] }
	other := write("bhxh.csv", dmy, namNu, [][]string{
		{"1234567", "", "Lê", "Văn", "Bảy", "01/01/1980", "Nam", "001"},        // a 7-digit number
		{"001080012345", "", "Lê", "Văn", "Tám", "31/02/1980", "Nam", "001"},   // no such date
		{"001080012346", "", "Lê", "Văn", "Chín", "01/01/1980", "khác", "001"}, // sex not understood
	})
	pm := filepath.Join(dir, "pm.json")
	os.WriteFile(pm, []byte(`{"personal_id":"so_dinh_danh","old_id":"cmnd_cu","surname":"ho","middle_name":"ten_dem","given_name":"ten",
		"dob":"ngay_sinh","dob_layouts":["02/01/2006"],"sex":"gioi_tinh","province_code":"tinh"}`), 0o644)
	run := func(popFile string, extra ...string) (reconcilerun.Summary, string, int) {
		args := append([]string{"reconcile", "--population", popFile, "--records", filepath.Join(dir, "records.csv"),
			"--out", filepath.Join(dir, "out.ndjson"), "--truth", filepath.Join(dir, "truth.csv")}, extra...)
		stdout, stderr, code := runCmd(t, args...)
		var sum reconcilerun.Summary
		if code == 0 {
			if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
				t.Fatal(err, stdout)
			}
		}
		return sum, stderr, code
	}
	own, stderr, code := run(filepath.Join(dir, "population.csv"))
	if code != 0 {
		t.Fatalf("register's own file: exit %d: %s", code, stderr)
	}
	mapped, stderr, code := run(other, "--population-mapping", pm)
	if code != 0 {
		t.Fatalf("mapped file: exit %d: %s", code, stderr)
	}
	if q, o := mapped.Quality, own.Quality; q.Precision < o.Precision-0.002 || q.Recall < o.Recall-0.002 || q.LinkRecall < 0.95 {
		t.Errorf("mapped population: %+v; the register's own file: %+v", q, o)
	}
	for _, s := range []string{"3 of 8003 rows skipped", "1 personal number not 12 digits", "1 date of birth missing or not read", "1 sex missing or not M/F"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q: %s", s, stderr)
		}
	}
	if strings.Contains(stderr, "1234567") {
		t.Error("a number of the population file is in the log")
	}

	// a mapping wrong for the whole file: an error before the run
	iso := write("iso.csv", func(d string) string { return d[:4] + "." + d[5:7] + "." + d[8:] }, namNu, nil)
	for _, c := range []struct {
		what, file, mapping, want string
	}{
		{"a column the file lacks", other, `{"personal_id":"so_dinh_danh","full_name":"ho_ten","dob":"ngay_sinh","sex":"gioi_tinh"}`, `"ho_ten"`},
		{"dates in a layout not listed", iso, `{"personal_id":"so_dinh_danh","given_name":"ten","dob":"ngay_sinh","dob_layouts":["02/01/2006"],"sex":"gioi_tinh"}`, "dob_layouts"},
		{"an unknown id format", other, `{"personal_id":"so_dinh_danh","id_format":"tax","given_name":"ten","dob":"ngay_sinh"}`, "id_format"},
		{"the CMND as the number", other, `{"personal_id":"cmnd_cu","given_name":"ten","dob":"ngay_sinh","dob_layouts":["02/01/2006"],"sex":"gioi_tinh"}`, "no usable citizen in the population file (8003 personal number not 12 digits"},
	} {
		os.WriteFile(pm, []byte(c.mapping), 0o644)
		if _, stderr, code := run(c.file, "--population-mapping", pm); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, %s", c.what, code, stderr)
		}
	}
}
