package streamlink_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/broker/streamlink"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

const seed = 42

// register stores n synthetic citizens in a real store.
func register(t *testing.T, n int) (*sqlitestore.Store, *synthetic.Pop) {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if n > 0 {
		if err := st.PutCitizens(context.Background(), synthetic.Population(seed, n)); err != nil {
			t.Fatal(err)
		}
	}
	return st, synthetic.NewPop(seed, n)
}

func legacy(view *synthetic.Pop, from, n int) ([]linkage.Record, []string) {
	recs := make([]linkage.Record, n)
	truth := make([]string, n)
	for k := range n {
		l := synthetic.Legacy(seed, view, uint64(from+k), synthetic.DefaultLegacyOptions())
		recs[k] = linkage.Record{ID: l.RecordID, OldID: l.OldID, Name: l.FullName, DOB: l.DOB, Sex: l.Sex, Province: l.Province}
		truth[k] = l.Truth
	}
	return recs, truth
}

type quality struct{ linked, right, review, inRegister int }

func (q quality) precision() float64 { return float64(q.right) / float64(max(q.linked, 1)) }
func (q quality) recall() float64    { return float64(q.right) / float64(max(q.inRegister, 1)) }

func measure(l *streamlink.Linker, recs []linkage.Record, truth []string) quality {
	var q quality
	for k, r := range recs {
		d := l.Link(r)
		if truth[k] != "" {
			q.inRegister++
		}
		switch d.Outcome {
		case identity.Linked:
			q.linked++
			if d.PersonalID == truth[k] {
				q.right++
			}
		case identity.Review:
			q.review++
		}
	}
	return q
}

// Before records have been seen the model comes from the register itself
// and links cautiously; once MinSample records were linked the model is
// estimated from them and links most of them, still precisely.
func TestModelFromRecordsSeen(t *testing.T) {
	st, view := register(t, 20_000)
	l, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{MinSample: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := l.State(); s.Citizens != 20_000 || s.SampleFrom != "register" || s.SampleSize != 5000 {
		t.Fatalf("first build: %+v", s)
	}
	// An exact copy of a citizen's particulars links to that citizen.
	c := view.At(123)
	if d := l.Link(linkage.Record{Name: c.FullName, DOB: c.DOB, Sex: c.Sex}); d.Outcome != identity.Linked || d.PersonalID != c.ID || d.Explanation == nil {
		t.Fatalf("exact copy: %+v", d)
	}
	recs, truth := legacy(view, 0, 2000)
	before := measure(l, recs, truth)
	if !l.Due() {
		t.Fatal("2001 records seen with MinSample 1000: a rebuild must be due")
	}
	if err := l.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := l.State(); s.SampleFrom != "records" || s.SampleSize != 2001 || s.RecordsSeen != 2001 {
		t.Fatalf("after the refresh: %+v", s)
	}
	if l.Due() {
		t.Error("a rebuild is due right after one")
	}
	recs, truth = legacy(view, 10_000, 2000)
	after := measure(l, recs, truth)
	t.Logf("register model: %+v precision %.4f recall %.4f; records model: %+v precision %.4f recall %.4f",
		before, before.precision(), before.recall(), after, after.precision(), after.recall())
	if before.precision() < 0.99 || after.precision() < 0.995 || after.recall() < 0.95 || after.recall() <= before.recall() {
		t.Errorf("precision %.4f → %.4f, recall %.4f → %.4f: want ≥ 0.99 → ≥ 0.995 and recall ≥ 0.95, improved",
			before.precision(), after.precision(), before.recall(), after.recall())
	}
}

// A citizen registered through the live index is linked at once, before
// Run has rebuilt the linker (linkage.LinkWith over the changes since the
// build), and still after the rebuild has put it in the population.
func TestFollowsRegister(t *testing.T) {
	st, _ := register(t, 3000)
	l, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{Refresh: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	newborn := synthetic.Citizen(seed, 3000) // not in the register yet
	rec := linkage.Record{Name: newborn.FullName, DOB: newborn.DOB, Sex: newborn.Sex}
	if d := l.Link(rec); d.PersonalID == newborn.ID {
		t.Fatalf("linked to a citizen not registered yet: %+v", d)
	}
	// The population stream stores the change, then adds it to the index.
	idx := identity.NewIndex(3001)
	live := streamlink.Notifying(idx, l)
	if err := st.PutCitizens(t.Context(), []store.Citizen{newborn}); err != nil {
		t.Fatal(err)
	}
	if err := live.Add(newborn); err != nil {
		t.Fatal(err)
	}
	if _, ok := idx.Lookup(newborn.ID); !ok {
		t.Fatal("Notifying did not add to the index")
	}
	if err := live.Add(store.Citizen{ID: "12"}); err == nil {
		t.Fatal("a malformed citizen was accepted")
	}
	if d := l.Link(rec); d.Outcome != identity.Linked || d.PersonalID != newborn.ID {
		t.Fatalf("the new citizen is not linked before the rebuild: %+v", d)
	}
	if l.Pending() != 1 || !l.Due() || l.State().Citizens != 3000 {
		t.Fatalf("before the rebuild: %d pending, due %v, %+v", l.Pending(), l.Due(), l.State())
	}
	if err := l.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := l.Link(rec); d.Outcome != identity.Linked || d.PersonalID != newborn.ID {
		t.Fatalf("the new citizen is not linked after the rebuild: %+v", d)
	}
	if s := l.State(); l.Pending() != 0 || s.Citizens != 3001 || s.SampleFrom != "register" || !s.Built.After(s.Estimated) {
		t.Errorf("after the rebuild: %d pending, %+v; want the population rebuilt with the change and the model kept", l.Pending(), s)
	}
}

// Run rebuilds when the register changed, on its own.
func TestRunRebuildsAfterAChange(t *testing.T) {
	st, _ := register(t, 3000)
	l, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{Refresh: 20 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { l.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	newborn := synthetic.Citizen(seed, 3000)
	if err := st.PutCitizens(t.Context(), []store.Citizen{newborn}); err != nil {
		t.Fatal(err)
	}
	if err := streamlink.Notifying(identity.NewIndex(3001), l).Add(newborn); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); l.State().Citizens != 3001 || l.Pending() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never rebuilt: %d pending, %+v", l.Pending(), l.State())
		}
	}
}

// Link is safe while a refresh swaps the linker.
func TestLinkDuringRefresh(t *testing.T) {
	st, view := register(t, 3000)
	l, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := legacy(view, 0, 400)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for _, r := range recs[w*100 : (w+1)*100] {
				if d := l.Link(r); d.Outcome == "" {
					t.Errorf("no outcome for %+v", r)
				}
			}
		})
	}
	for range 3 {
		if err := l.Refresh(t.Context()); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if s := l.State(); s.RecordsSeen != 400 {
		t.Errorf("records seen %d, want 400", s.RecordsSeen)
	}
}

func TestEmptyAndUnreadableRegister(t *testing.T) {
	st, _ := register(t, 0)
	l, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := l.Link(linkage.Record{ID: "r1", Name: "Nguyễn Văn An", DOB: "1990-01-02"}); d.Outcome != identity.Unmatched || d.Reason == "" || d.RecordID != "r1" {
		t.Errorf("empty register: %+v", d)
	}
	broken := errors.New("disk on fire")
	scan := func(ctx context.Context, fn func(store.Citizen) error) error { return broken }
	if _, err := streamlink.New(t.Context(), scan, streamlink.Config{}, nil); !errors.Is(err, broken) {
		t.Errorf("unreadable register: %v", err)
	}
}

// BenchmarkLink is the per-record cost of linking a streamed record
// without a number (the legacy corruption mix) against 100,000 citizens,
// on one goroutine; cpu-ns/op is the process's CPU time per record, which
// a loaded machine does not inflate as it does the wall time.
func BenchmarkLink(b *testing.B) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "store.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.PutCitizens(context.Background(), synthetic.Population(seed, 100_000)); err != nil {
		b.Fatal(err)
	}
	l, err := streamlink.New(context.Background(), st.ScanCitizens, streamlink.Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	recs, _ := legacy(synthetic.NewPop(seed, 100_000), 0, 10_000)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	n := 0
	for ; b.Loop(); n++ {
		l.Link(recs[n%len(recs)])
	}
	if c := cpuTime() - cpu; c > 0 {
		b.ReportMetric(float64(c.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// More changes than MaxPending wait for the rebuild, as before: Link does
// not score a burst one by one.
func TestBurstWaitsForTheRebuild(t *testing.T) {
	st, _ := register(t, 3000)
	l, err := streamlink.New(t.Context(), st.ScanCitizens, streamlink.Config{Refresh: time.Hour, MaxPending: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := streamlink.Notifying(identity.NewIndex(3010), l)
	var born []store.Citizen
	for i := range 3 {
		born = append(born, synthetic.Citizen(seed, 3000+i))
	}
	if err := st.PutCitizens(t.Context(), born); err != nil {
		t.Fatal(err)
	}
	rec := linkage.Record{Name: born[0].FullName, DOB: born[0].DOB, Sex: born[0].Sex}
	for i, c := range born {
		if err := live.Add(c); err != nil {
			t.Fatal(err)
		}
		linked := l.Link(rec).PersonalID == born[0].ID
		if want := i < 2; linked != want {
			t.Errorf("after %d changes (MaxPending 2) linked %v, want %v", i+1, linked, want)
		}
	}
	if err := l.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := l.Link(rec); d.PersonalID != born[0].ID || l.Pending() != 0 {
		t.Errorf("after the rebuild: %+v, %d pending", d, l.Pending())
	}
}
