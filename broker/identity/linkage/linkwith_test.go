package linkage

import (
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// LinkWith with no change since the build decides exactly as Link.
func TestLinkWithNoChangeIsLink(t *testing.T) {
	l := testLinker(t)
	_, view := testPopulation(t)
	recs, _ := legacy(view, 90_000, 300, synthetic.DefaultLegacyOptions())
	for _, rec := range recs {
		rec.PersonalID = ""
		a, b := l.Link(rec), l.LinkWith(rec, nil, nil)
		if a.Outcome != b.Outcome || a.PersonalID != b.PersonalID || a.Score != b.Score || a.Probability != b.Probability || a.RunnerUp != b.RunnerUp {
			t.Fatalf("record %s: Link %s %s %.2f p=%.4f runner-up %.2f, LinkWith %s %s %.2f p=%.4f runner-up %.2f",
				rec.ID, a.Outcome, a.PersonalID, a.Score, a.Probability, a.RunnerUp, b.Outcome, b.PersonalID, b.Score, b.Probability, b.RunnerUp)
		}
	}
}

// Between two rebuilds of the population, LinkWith follows the register:
// a citizen registered since is found, a renamed one is found under the
// new name and no longer under the old, and a death is reported.
func TestLinkWithFollowsTheRegister(t *testing.T) {
	l := testLinker(t)
	noStale := func(string) bool { return false }
	c := findCitizen(t, 1000, func(c store.Citizen) bool { return !c.Deceased && len([]rune(c.FullName)) > 8 })
	rec := func(name string) Record { return Record{ID: "r", Name: name, DOB: c.DOB, Sex: c.Sex} }

	// registered after the build: a citizen of another seed, not in the population
	born := synthetic.Citizen(testSeed+1, 5)
	if d := l.Link(rec(born.FullName)); d.PersonalID == born.ID {
		t.Fatal("the new citizen is already in the population: the test proves nothing")
	}
	nb := Record{ID: "b", Name: born.FullName, DOB: born.DOB, Sex: born.Sex}
	if d := l.LinkWith(nb, []store.Citizen{born}, noStale); d.Outcome != identity.Linked || d.PersonalID != born.ID {
		t.Errorf("registered since the build: %s %s (%s), want linked %s", d.Outcome, d.PersonalID, d.Reason, born.ID)
	}

	// renamed after the build
	renamed := c
	renamed.FullName = "Đoàn Thị Quỳnh Giao"
	stale := func(id string) bool { return id == c.ID }
	if d := l.Link(rec(renamed.FullName)); d.Outcome == identity.Linked && d.PersonalID == c.ID {
		t.Fatal("the new name already links: the test proves nothing")
	}
	if d := l.LinkWith(rec(renamed.FullName), []store.Citizen{renamed}, stale); d.Outcome != identity.Linked || d.PersonalID != c.ID {
		t.Errorf("new name: %s %s (%s), want linked %s", d.Outcome, d.PersonalID, d.Reason, c.ID)
	}
	if d := l.Link(rec(c.FullName)); d.Outcome != identity.Linked || d.PersonalID != c.ID {
		t.Fatalf("old name before the change: %s %s: the test proves nothing", d.Outcome, d.PersonalID)
	}
	if d := l.LinkWith(rec(c.FullName), []store.Citizen{renamed}, stale); d.Outcome == identity.Linked && d.PersonalID == c.ID &&
		d.Explanation.Fields[CompName].Level == "exact" {
		t.Errorf("old name after the change still links on an exact name: %+v", d)
	}

	// died after the build
	dead := c
	dead.Deceased = true
	if d := l.LinkWith(rec(c.FullName), []store.Citizen{dead}, stale); d.PersonalID != c.ID || !d.Deceased {
		t.Errorf("after the death: %s %s deceased=%v, want %s deceased", d.Outcome, d.PersonalID, d.Deceased, c.ID)
	}
}
