package linkage

import (
	"slices"
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

// Rules cost memory only where no built-in array serves them (issue 16,
// the bus's catalog rules took +16 bytes a citizen): the same key in
// another order shares one array; a key that fixes a built-in rule's
// (sex+dob, name+dob) builds nothing; name+dob_year reads a stretch of the
// built-in name+year+month array. Every rule still proposes exactly the
// citizens that agree on its key, checked against all citizens.
func TestRulesShareArrays(t *testing.T) {
	view := synthetic.NewPop(testSeed, 20_000)
	pop, err := PopulationOf(synthetic.Population(testSeed, view.Len()))
	if err != nil {
		t.Fatal(err)
	}
	rules := []BlockingRule{
		{Name: "name+sex", Keys: []string{"name", "sex"}},
		{Name: "sex+name", Keys: []string{" sex", "name", "name"}},
		{Name: "sex+dob", Keys: []string{"sex", "dob"}},
		{Name: "name+dob", Keys: []string{"name", "dob"}},
		{Name: "name+dob_year", Keys: []string{"name", "dob_year"}},
		{Name: "surname+given+dob_month", Keys: []string{"given", "surname", "dob_month"}},
		{Name: "given+dob_year", Keys: []string{"given", "dob_year"}},
	}
	cfg := DefaultConfig()
	cfg.RandomPairs = 20_000
	train, _ := legacy(view, 1000, 500, synthetic.DefaultLegacyOptions())
	l, err := TrainWith(pop, train, cfg, rules)
	if err != nil {
		t.Fatal(err)
	}
	own := map[string]bool{"name+sex": true, "sex+name": true, "given+dob_year": true} // the rules with an array
	for _, ri := range l.rules {
		if got := ri.via < 0; got != own[ri.name] {
			t.Errorf("%s: own array %v, want %v", ri.name, got, own[ri.name])
		}
	}
	if !l.rules[4].stretch || !l.rules[5].stretch || l.rules[3].stretch {
		t.Error("name+dob_year and surname+given+dob_month should read a stretch of a built-in array, name+dob not")
	}
	if &l.rules[0].ids[0] != &l.rules[1].ids[0] {
		t.Error("name+sex and sex+name do not share their array")
	}
	n := pop.Len() // every citizen has a name and a sex: a key under name+sex
	if got, want := l.RulesSizeBytes(), 2*4*(n+(n+fenceStep-1)/fenceStep); got != want {
		t.Errorf("rules hold %d bytes, want %d (two arrays of 4 bytes a citizen and their fences)", got, want)
	}
	if RuleKey(rules[0]) != RuleKey(rules[1]) || RuleKey(rules[0]) != "name+sex" {
		t.Errorf("RuleKey: %q, %q", RuleKey(rules[0]), RuleKey(rules[1]))
	}

	// each rule's block, against a scan of the whole population
	recs, _ := legacy(view, 0, 300, synthetic.DefaultLegacyOptions())
	var s side
	var buf [32]uint32
	type ck struct {
		key uint32
		ok  bool
	}
	keys := make([][]ck, len(l.rules)) // every citizen's key under every rule
	for k, ri := range l.rules {
		keys[k] = make([]ck, pop.Len())
		for i := range keys[k] {
			keys[k][i].key, keys[k][i].ok = l.citizenKey(ri, uint32(i), &s, buf[:0])
		}
	}
	nonEmpty := make([]int, len(l.rules))
	for _, rec := range recs {
		r := l.prepare(rec)
		for k, ri := range l.rules {
			got := l.ruleBlock(&r, k)
			key, ok := ri.key(&r.side, func(int) *extProbe { return nil })
			var want []uint32
			for i, c := range keys[k] {
				if ok && c.ok && c.key == key {
					want = append(want, uint32(i))
				}
			}
			if !slicesEqualSorted(got, want) {
				t.Fatalf("%s, record %q %s %s: block %v, want %v", ri.name, rec.Name, rec.DOB, rec.Sex, got, want)
			}
			if len(want) > 0 {
				nonEmpty[k]++
			}
		}
		// the rules that build nothing add nothing the built-in ones miss
		all, _ := l.candidatesBy(&r, allRules, nil)
		for _, k := range []int{2, 3} {
			for _, i := range l.ruleBlock(&r, k) {
				if !slices.Contains(all, i) {
					t.Fatalf("%s proposes %d, which the built-in rules do not", l.rules[k].name, i)
				}
			}
		}
	}
	for k, n := range nonEmpty {
		if n == 0 {
			t.Errorf("%s: no record has a citizen in its block; the check shows nothing", l.rules[k].name)
		}
	}
}

func slicesEqualSorted(a, b []uint32) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
