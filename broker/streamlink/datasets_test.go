package streamlink_test

import (
	"strings"
	"testing"

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
