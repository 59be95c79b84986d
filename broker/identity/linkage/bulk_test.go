package linkage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

var (
	iOnce sync.Once
	iIdx  *identity.Index
)

func testIndex(t testing.TB) *identity.Index {
	_, view := testPopulation(t)
	iOnce.Do(func() {
		iIdx = identity.NewIndex(view.Len())
		for _, c := range synthetic.Population(testSeed, view.Len()) {
			if err := iIdx.Add(c); err != nil {
				panic(err)
			}
		}
	})
	return iIdx
}

// TestStrictMismatchRecognised: of the records that carry the right
// personal number but that a strict comparison calls mismatch, the share
// the comparison recognises as the same person (verified with a note).
func TestStrictMismatchRecognised(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	idx, l := testIndex(t), testLinker(t)
	_, view := testPopulation(t)
	o := synthetic.DefaultLegacyOptions()
	o.WithNumber = true
	recs, truth := legacy(view, 20_000, 5000, o)
	var strict, same, confirmed, falseConfirm, differentStrict int
	for k, r := range recs {
		res := identity.Reconcile(idx, identity.Claim{ID: r.PersonalID, Name: r.Name, DOB: r.DOB, Sex: r.Sex})
		if res.Outcome != identity.Mismatch {
			continue
		}
		strict++
		d := decideNumber(idx, l, r, "", BulkOptions{ConfirmWeight: 10})
		if truth[k].Truth == r.PersonalID {
			same++
			if d.Outcome == identity.Verified {
				confirmed++
			}
		}
	}
	// the other way round: a number given with someone else's name and date
	// must not be confirmed
	for k := range 2000 {
		a, b := view.At(k), view.At(k+100_000)
		r := Record{ID: "x", PersonalID: a.ID, Name: b.FullName, DOB: b.DOB, Sex: b.Sex}
		if identity.Reconcile(idx, identity.Claim{ID: r.PersonalID, Name: r.Name, DOB: r.DOB, Sex: r.Sex}).Outcome != identity.Mismatch {
			continue
		}
		differentStrict++
		if decideNumber(idx, l, r, "", BulkOptions{ConfirmWeight: 10}).Outcome == identity.Verified {
			falseConfirm++
		}
	}
	share := float64(confirmed) / float64(max(same, 1))
	t.Logf("strict mismatches %d, same person %d, recognised %d (%.3f); other person's data %d, wrongly confirmed %d", strict, same, confirmed, share, differentStrict, falseConfirm)
	if share < 0.9 {
		t.Errorf("recognised %.3f of the same-person strict mismatches, want ≥ 0.9", share)
	}
	if falseConfirm > 0 {
		t.Errorf("%d records with another person's name and date confirmed", falseConfirm)
	}
}

func TestBulkReconcile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 200,000-citizen population")
	}
	idx, l := testIndex(t), testLinker(t)
	_, view := testPopulation(t)
	c := view.At(7)
	o := synthetic.DefaultLegacyOptions()
	var in bytes.Buffer
	w := csv.NewWriter(&in)
	w.Write([]string{"record_id", "personal_id", "old_cmnd", "full_name", "dob", "sex", "province_code"})
	w.Write([]string{"r1", c.ID, "", c.FullName, c.DOB, c.Sex, ""})                        // verified
	w.Write([]string{"r2", "", "", c.FullName, c.DOB, c.Sex, c.BirthProvince})             // linked
	w.Write([]string{"r3", "12345", "", "Nguyễn Văn A", "1990-01-01", "M", ""})            // invalid id, nobody fits
	w.Write([]string{"r4", "", "", "", "not a date", "?", ""})                             // nothing usable
	w.Write([]string{"r5", c.ID, "", strings.ToUpper(c.FullName) + "x", c.DOB, c.Sex, ""}) // strict mismatch, same person
	w.Write([]string{"r6", "", "", "Nguy\xe1n V\xe0n", "1990-01-01", "M", ""})             // legacy encoding
	recs, _ := legacy(view, 30_000, 200, o)
	for _, r := range recs {
		w.Write([]string{r.ID, r.PersonalID, r.OldID, r.Name, r.DOB, r.Sex, r.Province})
	}
	w.Flush()
	var out bytes.Buffer
	q := NewMemoryReviewQueue()
	sum, err := Reconcile(context.Background(), idx, l, bytes.NewReader(in.Bytes()), &out, BulkOptions{Format: CSV, Review: q, BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Result{}
	sc := bufio.NewScanner(&out)
	n := 0
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		got[r.RecordID] = r
		n++
	}
	if n != 206 || sum.Records != 206 {
		t.Fatalf("%d lines, summary %d, want 206", n, sum.Records)
	}
	for id, want := range map[string]identity.Outcome{"r1": identity.Verified, "r2": identity.Linked, "r3": identity.InvalidID, "r4": identity.Unmatched, "r5": identity.Verified} {
		if got[id].Outcome != want {
			t.Errorf("%s: %+v, want %s", id, got[id], want)
		}
	}
	if got["r2"].PersonalID != c.ID || got["r5"].Fields == nil || got["r5"].Explanation == nil {
		t.Errorf("r2 %+v r5 %+v", got["r2"], got["r5"])
	}
	if _, ok := got["r6"]; !ok {
		t.Error("legacy-encoded row lost")
	}
	total := 0
	for _, k := range sum.Outcomes {
		total += k
	}
	pending, _ := q.List(context.Background(), ReviewPending, "", 0)
	if total != 206 || len(pending) != sum.Outcomes[identity.Review] {
		t.Errorf("summary %+v, %d pending reviews", sum.Outcomes, len(pending))
	}
	t.Logf("summary %v", sum.Outcomes)
	// the values compared go to the review queue's clerk, not into the output
	explained := 0
	for id, r := range got {
		if r.Explanation == nil {
			continue
		}
		explained++
		for _, f := range r.Explanation.Fields {
			if f.Record != "" || f.Candidate != "" {
				t.Fatalf("%s: the output carries the values compared: %+v", id, f)
			}
		}
	}
	if explained < 100 {
		t.Errorf("only %d results explained", explained)
	}
	for _, it := range pending {
		if it.Explanation == nil || it.Explanation.Fields[CompDOB].Candidate == "" {
			t.Errorf("review item %s without the candidate's values: %+v", it.ID, it.Explanation)
		}
	}

	// NDJSON with a broken line, and a mapping naming other columns
	nd := `{"id":"a1","ho":"` + strings.Fields(c.FullName)[0] + `","ten":"` + strings.Join(strings.Fields(c.FullName)[1:], " ") + `","ngay_sinh":"` + c.DOB[8:] + "/" + c.DOB[5:7] + "/" + c.DOB[:4] + `","gioi_tinh":"` + c.Sex + `"}
{broken
{"id":"a3","ho":"","ten":"","ngay_sinh":12}
`
	m := Mapping{RecordID: "id", Surname: "ho", Given: "ten", DOB: "ngay_sinh", DOBLayouts: []string{"02/01/2006"}, Sex: "gioi_tinh"}
	out.Reset()
	sum, err = Reconcile(context.Background(), idx, l, strings.NewReader(nd), &out, BulkOptions{Format: NDJSON, Mapping: &m})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"outcome":"linked"`) || !strings.Contains(lines[1], "unreadable") {
		t.Errorf("ndjson out:\n%s", out.String())
	}

	// a mapping naming a column the file lacks fails at the start
	m2 := DefaultMapping()
	m2.FullName = "ho_ten"
	_, err = Reconcile(context.Background(), idx, l, bytes.NewReader(in.Bytes()), &out, BulkOptions{Format: CSV, Mapping: &m2})
	if err == nil || !strings.Contains(err.Error(), `"ho_ten"`) {
		t.Errorf("missing column: %v", err)
	}
	if _, err := ParseMapping(strings.NewReader(`{"full_name":"x","bogus":1}`)); err == nil {
		t.Error("unknown mapping key accepted")
	}
}
