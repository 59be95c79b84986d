package streamlink_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/streamlink"
	"github.com/lgsp-bus/lgsp/schemas"
)

// The catalog's linkage settings reach the streaming linker: every
// dataset's blocking rules build, and the datasets sharing a rule share it.
func TestFromCatalog(t *testing.T) {
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	ds := streamlink.FromCatalog(cat)
	for _, name := range []string{"tax.taxpayer", "insurance.health_insurance_card", "land.land_use_right", "civil_servant.employee"} {
		if len(ds[name].Blocking) == 0 {
			t.Errorf("%s: no blocking rules from the catalog", name)
		}
	}
	if _, ok := ds["population.citizen"]; ok {
		t.Error("the register's own dataset has linkage settings")
	}
	st, _ := register(t, 3000)
	l, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{Datasets: ds}, nil)
	if err != nil {
		t.Fatalf("the catalog's rules do not build: %v", err)
	}
	if l.State().Citizens != 3000 {
		t.Errorf("state %+v", l.State())
	}
	// thresholds the linker refuses stop the start, naming the dataset
	bad := map[string]streamlink.Dataset{"tax.taxpayer": {LinkProbability: 0.5, ReviewProbability: 0.8}}
	if _, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{Datasets: bad}, nil); err == nil || !strings.Contains(err.Error(), "tax.taxpayer") {
		t.Errorf("review above link: %v", err)
	}
}

// A record of a dataset is blocked with the dataset's rules too: a record
// whose date of birth is wholly wrong gets no candidate from the built-in
// rules, and its citizen from the dataset's name+sex rule. The dataset's
// thresholds decide its records: with review = link there is no review
// band.
func TestDatasetRulesAndThresholds(t *testing.T) {
	st, view := register(t, 20_000)
	cfg := streamlink.Config{Datasets: map[string]streamlink.Dataset{
		"tax.taxpayer": {Blocking: []linkage.BlockingRule{{Name: "name+sex", Keys: []string{"name", "sex"}}}},
		"strict":       {LinkProbability: 0.99, ReviewProbability: 0.99},
	}}
	l, err := streamlink.New(t.Context(), st.ScanCitizens, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := view.At(11)
	y := c.DOB[:4]
	wrong := map[byte]string{'1': "2", '2': "1"}[y[0]] + y[1:] + "-" + map[bool]string{true: "11", false: "02"}[c.DOB[5:7] < "06"] + "-" + map[bool]string{true: "27", false: "03"}[c.DOB[8:] < "15"]
	rec := linkage.Record{ID: "r1", Name: c.FullName, DOB: wrong, Sex: c.Sex}
	plain := l.Link(rec)
	if plain.Candidates != 0 {
		t.Fatalf("%s against %s: the built-in rules found %d candidates; the test needs a date they cannot block on", wrong, c.DOB, plain.Candidates)
	}
	d := l.LinkDataset("tax.taxpayer", rec)
	if d.Candidates == 0 || d.Explanation == nil {
		t.Fatalf("the dataset's rule found no candidate: %+v", d)
	}
	if d.Outcome != identity.Unmatched && d.PersonalID != c.ID {
		t.Errorf("the dataset's rule proposed %s, want %s", d.PersonalID, c.ID)
	}
	if d := l.LinkDataset("no.such_dataset", rec); d.Candidates != 0 {
		t.Errorf("a dataset without settings used another's rules: %d candidates", d.Candidates)
	}

	recs, _ := legacy(view, 5000, 1500)
	var strictReview, defReview, strictLow int
	for _, r := range recs {
		s, p := l.LinkDataset("strict", r), l.Link(r)
		if s.Outcome == identity.Review {
			strictReview++
		}
		if s.Outcome == identity.Linked && s.Probability < 0.99 {
			strictLow++
		}
		if p.Outcome == identity.Review {
			defReview++
		}
	}
	if strictReview != 0 || strictLow != 0 {
		t.Errorf("strict dataset: %d reviews, %d linked below 0.99", strictReview, strictLow)
	}
	if defReview == 0 {
		t.Error("the default thresholds sent nothing to review: the test shows nothing")
	}
}

// Each dataset's date_within_days is its own (issue 16): a record whose
// date of birth is 5 days from its citizen's, across a month boundary (so
// no single digit explains it), agrees at within_days for a dataset with a
// 10-day window and not for one with a 3-day window; each window has its
// own model, and a rebuild that keeps the models keeps the windows.
func TestDatasetDateWindows(t *testing.T) {
	st, view := register(t, 20_000)
	rule := []linkage.BlockingRule{{Name: "name+dob_year", Keys: []string{"name", "dob_year"}}}
	cfg := streamlink.Config{Datasets: map[string]streamlink.Dataset{
		"narrow": {DateWithinDays: 3, Blocking: rule},
		"wide":   {DateWithinDays: 10, Blocking: rule},
	}}
	l, err := streamlink.New(t.Context(), st.ScanCitizens, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		found := 0
		for i := 0; i < view.Len() && found < 20; i++ {
			c := view.At(i)
			dob, err := time.Parse(time.DateOnly, c.DOB)
			if err != nil || dob.Day() < 27 || dob.Month() == time.December {
				continue
			}
			moved := dob.AddDate(0, 0, 5).Format(time.DateOnly) // next month
			rec := linkage.Record{ID: "r", Name: c.FullName, DOB: moved, Sex: c.Sex}
			n, w := l.LinkDataset("narrow", rec), l.LinkDataset("wide", rec)
			if n.PersonalID != c.ID || w.PersonalID != c.ID {
				continue // a namesake scores higher: not this test's point
			}
			found++
			if got := dobLevel(t, n); got == "within_days" {
				t.Errorf("%s: %s against %s, 3-day window: level %s", when, moved, c.DOB, got)
			}
			if got := dobLevel(t, w); got != "within_days" {
				t.Errorf("%s: %s against %s, 10-day window: level %s, want within_days", when, moved, c.DOB, got)
			}
			if n.Score == w.Score {
				t.Errorf("%s: both windows score %.2f", when, n.Score)
			}
		}
		if found == 0 {
			t.Fatalf("%s: no citizen to test with", when)
		}
	}
	check("first build")
	l.Changed()
	if err := l.Refresh(t.Context()); err != nil { // the population rebuilt, the models kept
		t.Fatal(err)
	}
	check("rebuilt")
}

func dobLevel(t *testing.T, d linkage.Decision) string {
	t.Helper()
	if d.Explanation == nil {
		t.Fatalf("no explanation: %+v", d)
	}
	for _, f := range d.Explanation.Fields {
		if f.Field == "dob" {
			return f.Level
		}
	}
	t.Fatalf("no dob in %+v", d.Explanation)
	return ""
}
