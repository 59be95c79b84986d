package linkage

import (
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

func TestSoundex(t *testing.T) {
	for _, c := range [][2]string{{"robert", "R163"}, {"rupert", "R163"}, {"ashcraft", "A261"}, {"tymczak", "T522"}, {"pfister", "P236"}, {"lee", "L000"}, {"", ""}} {
		if got := soundex(c[0]); got != c[1] {
			t.Errorf("soundex(%q) = %q, want %q", c[0], got, c[1])
		}
	}
}

// A blocking rule on a field the mapping does not read, or an unknown
// field or transform, fails when the mapping is read (before the run).
func TestBlockingRuleChecked(t *testing.T) {
	base := `"record_id":"id","full_name":"ten","dob":"ns","extra":[{"name":"address","column":"dc","population_column":"residence","comparison":"address"}]`
	for _, c := range []struct{ blocking, want string }{
		{`[{"name":"addr+given","keys":["address","given"]}]`, ""},
		{`[{"name":"street","keys":["address:street","surname:soundex","dob_year"]}]`, ""},
		{`[{"name":"pc","keys":["postcode"]}]`, `key "postcode" names no field of the mapping`},
		{`[{"name":"sx","keys":["sex","dob_year"]}]`, `key "sex" is on a field the mapping does not read`},
		{`[{"name":"p","keys":["dob:3"]}]`, `unknown transform "3"`},
		{`[{"name":"","keys":["given"]}]`, "give a name"},
	} {
		_, err := ParseMapping(strings.NewReader(`{` + base + `,"blocking":` + c.blocking + `}`))
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want %q", c.blocking, err, c.want)
		}
	}
}

// TestCustomBlocking: records whose date is wholly wrong meet no built-in
// block; a rule on the address's commune and the given name finds them,
// and the report's coverage lists it. Regression for issue 16 (a record
// whose date is wholly wrong never got a candidate).
func TestCustomBlocking(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	pop := addressPopulation(t)
	_, view := testPopulation(t)
	o := synthetic.DefaultLegacyOptions()
	o.Moved, o.NoAddress, o.Outsiders = 0, 0, 0
	fields := []ExtraField{addressField}
	train, _ := legacyWith(view, 0, 3000, o, fields)
	recs, truth := legacyWith(view, 90_000, 400, o, fields)
	for k := range recs {
		recs[k].DOB = "1901-01-01" // wholly wrong: no year, month or day in common with anyone's
		recs[k].OldID = ""
	}
	rule := BlockingRule{Name: "address+given", Keys: []string{"address", "given"}}
	plain := Train(pop, train, DefaultConfig())
	custom, err := TrainWith(pop, train, DefaultConfig(), []BlockingRule{rule})
	if err != nil {
		t.Fatal(err)
	}
	found := func(l *Linker) (blocked, linked int) {
		for k, d := range l.LinkBatch(recs) {
			r := l.prepare(recs[k])
			cands, _ := l.candidates(&r, nil)
			for _, c := range cands {
				if l.pop.personalID(c) == truth[k].Truth {
					blocked++
				}
			}
			if d.PersonalID == truth[k].Truth && d.Outcome != "unmatched" {
				linked++
			}
		}
		return
	}
	pb, pl := found(plain)
	cb, cl := found(custom)
	t.Logf("built-in rules: %d of %d blocked, %d linked or proposed; with %s: %d blocked, %d linked or proposed", pb, len(recs), pl, rule.Name, cb, cl)
	if pb > len(recs)/20 || cb < len(recs)*8/10 || cl < len(recs)*6/10 {
		t.Errorf("blocked %d → %d, linked or proposed %d → %d of %d", pb, cb, pl, cl, len(recs))
	}
	cov := custom.Model().Blocking
	if len(cov) != nRulesAll+1 || cov[nRulesAll].Rule != rule.Name || cov[nRulesAll].Share < 0.5 {
		t.Errorf("coverage %+v", cov)
	}
	if _, err := TrainWith(pop, train, DefaultConfig(), []BlockingRule{{Name: "x", Keys: []string{"postcode"}}}); err == nil || !strings.Contains(err.Error(), "postcode") {
		t.Errorf("a rule on a field the population lacks: %v", err)
	}
}

// FuzzBlockingRule: any list of key parts either fails to parse with an
// error or gives a key that a record and a citizen with the same fields
// share (the record's name is read in written order, the citizen's as
// registered: the same here), without panicking.
func FuzzBlockingRule(f *testing.F) {
	f.Add("surname:soundex,dob_year", "Nguyễn Văn Hòa", "1985-03-14", "M", "001085012345")
	f.Add("given:3,personal_id:6,sex", "Robert Smith", "1901-01-01", "F", "")
	f.Add("address:street,name,dob", "", "0000-00-00", "x", "12345678901a")
	f.Add("middle,province,dob_month,dob_day", "A B C D", "2020-02-30", "", "999999999999")
	f.Fuzz(func(t *testing.T, keys, name, dob, sex, pid string) {
		rule := BlockingRule{Name: "r", Keys: strings.Split(keys, ",")}
		parts, err := parseRule(rule, []ExtraField{addressField}, nil)
		if err != nil {
			if !strings.Contains(err.Error(), `blocking rule "r"`) {
				t.Fatalf("error does not name the rule: %v", err)
			}
			return
		}
		ri := &ruleIndex{name: "r", parts: parts}
		rec := prepare(Record{Name: name, DOB: dob, Sex: sex, PersonalID: pid})
		var cz side
		cz.setName(name)
		cz.setDOB(dob)
		cz.setSex(sex)
		cz.setPID(pid)
		none := func(int) *extProbe { return nil }
		k1, ok1 := ri.key(&rec.side, none)
		k2, ok2 := ri.key(&cz, none)
		if ok1 != ok2 || (ok1 && k1 != k2) {
			t.Fatalf("record key %d/%v, citizen key %d/%v for %q", k1, ok1, k2, ok2, keys)
		}
	})
}
