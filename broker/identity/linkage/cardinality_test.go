package linkage

import (
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// withRepeats is legacy(view, from, n) followed by repeats more records of
// people already among them (every n/repeats-th record's person, corrupted
// anew): Legacy's record i and i+N describe the same person for a
// population of N (its permutation is taken modulo N), with independent
// errors. An outsider's repeat is another outsider.
func withRepeats(view *synthetic.Pop, from, n, repeats int, o synthetic.LegacyOptions) ([]Record, []synthetic.LegacyRecord) {
	recs, truth := legacy(view, from, n, o)
	step := max(n/max(repeats, 1), 1)
	for k := 0; k < n && repeats > 0; k += step {
		l := synthetic.Legacy(testSeed, view, uint64(from+k+view.Len()), o)
		l.RecordID = recs[k].ID + "-again"
		truth = append(truth, l)
		recs = append(recs, Record{ID: l.RecordID, PersonalID: l.PersonalID, OldID: l.OldID, Name: l.FullName, DOB: l.DOB, Sex: l.Sex, Province: l.Province})
		repeats--
	}
	return recs, truth
}

func TestParseCardinality(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Cardinality
		err  bool
	}{
		{"", OneToOne, false}, {"one_to_one", OneToOne, false}, {"one-to-one", OneToOne, false}, {"1:1", OneToOne, false},
		{"many_to_one", ManyToOne, false}, {"Many-To-One", ManyToOne, false}, {"n:1", ManyToOne, false},
		{"many", "", true}, {"one_to_many", "", true},
	} {
		got, err := ParseCardinality(c.in)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("ParseCardinality(%q) = %q, %v; want %q (error %v)", c.in, got, err, c.want, c.err)
		}
		if err != nil && !strings.Contains(err.Error(), "many_to_one") {
			t.Errorf("ParseCardinality(%q): the error does not say what to pass: %v", c.in, err)
		}
	}
}

// TestManyToOneLinksRepeats: a transactional file holds several records of
// one person (here 12.5 % repeats). One-to-one sends the repeats to review
// ("already linked"); many-to-one links them to the same citizen, at the
// same precision. Regression for issue 16 (563 true links went to review
// on a test set with 875 repeats).
func TestManyToOneLinksRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	base := testLinker(t)
	_, view := testPopulation(t)
	recs, truth := withRepeats(view, 70_000, 2000, 250, synthetic.DefaultLegacyOptions())
	cfg := base.Config()
	cfg.Cardinality = ManyToOne
	many, err := NewLinker(base.Population(), base.Model(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	q1, d1 := evaluate(base, recs, truth)
	qn, dn := evaluate(many, recs, truth)
	already := func(ds []Decision) int {
		n := 0
		for _, d := range ds {
			if strings.Contains(d.Reason, "already linked") {
				n++
			}
		}
		return n
	}
	t.Logf("one_to_one: precision %.4f recall %.4f, %d 'already linked'; many_to_one: precision %.4f recall %.4f",
		q1.precision(), q1.recall(), already(d1), qn.precision(), qn.recall())
	if already(d1) == 0 {
		t.Error("one_to_one sent no repeat to review: the test set has no repeats that link")
	}
	if n := already(dn); n != 0 {
		t.Errorf("many_to_one: %d records sent to review as already linked", n)
	}
	if qn.recall() <= q1.recall() {
		t.Errorf("many_to_one recall %.4f not above one_to_one %.4f", qn.recall(), q1.recall())
	}
	if qn.precision() < 0.995 {
		t.Errorf("many_to_one precision %.4f < 0.995", qn.precision())
	}
	// the repeats link to the same citizen as their first record
	byID := map[string]Decision{}
	for _, d := range dn {
		byID[d.RecordID] = d
	}
	both, same := 0, 0
	for _, d := range dn[2000:] {
		first := byID[strings.TrimSuffix(d.RecordID, "-again")]
		if d.Outcome == identity.Linked && first.Outcome == identity.Linked {
			both++
			if d.PersonalID == first.PersonalID {
				same++
			}
		}
	}
	if both < 200 || same < both-1 {
		t.Errorf("repeats linked with their first record: %d, to the same citizen: %d", both, same)
	}
}
