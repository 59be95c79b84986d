package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// testAuditPrune checks store.AuditPruner: the deletion and its record are
// one transaction, the tail is never deleted, and sequence numbers are not
// reused.
func testAuditPrune(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	p, ok := s.(store.AuditPruner)
	if !ok {
		t.Fatalf("%T does not implement store.AuditPruner", s)
	}
	appendSeqs(t, s, 1, 10, nil)
	first := func() int64 {
		t.Helper()
		es, err := s.ListAudit(ctx, store.AuditQuery{Limit: 1})
		if err != nil || len(es) == 0 {
			t.Fatalf("ListAudit: %v %v", es, err)
		}
		return es[0].Seq
	}
	for _, bad := range []struct {
		name    string
		through int64
		rec     []store.AuditEntry
	}{
		{"no record", 4, nil},
		{"the tail", 10, []store.AuditEntry{entry(11)}},
		{"zero", 0, []store.AuditEntry{entry(11)}},
		{"record with a gap", 4, []store.AuditEntry{entry(12)}},
		{"record duplicating a seq", 4, []store.AuditEntry{entry(10)}},
	} {
		if err := p.PruneAudit(ctx, bad.through, bad.rec); err == nil {
			t.Errorf("PruneAudit %s: no error", bad.name)
		}
		if f, n := first(), mustCount(t, s); f != 1 || n != 10 {
			t.Fatalf("PruneAudit %s failed but changed the log: first %d, count %d", bad.name, f, n)
		}
	}
	if err := p.PruneAudit(ctx, 4, []store.AuditEntry{entry(11)}); err != nil {
		t.Fatalf("PruneAudit: %v", err)
	}
	if f, n := first(), mustCount(t, s); f != 5 || n != 11 {
		t.Fatalf("after pruning 1..4: first %d, count %d; want 5 and 11 (seq is never reused)", f, n)
	}
	last, err := s.LastAudit(ctx)
	if err != nil || last.Seq != 11 {
		t.Fatalf("LastAudit after prune: %d %v", last.Seq, err)
	}
	// The log continues as before, and a later prune deletes only what is left.
	appendSeqs(t, s, 12, 13, nil)
	if err := p.PruneAudit(ctx, 12, []store.AuditEntry{entry(14)}); err != nil {
		t.Fatalf("second PruneAudit: %v", err)
	}
	if f, n := first(), mustCount(t, s); f != 13 || n != 14 {
		t.Fatalf("after the second prune: first %d, count %d", f, n)
	}
}

func mustCount(t *testing.T, s store.Store) int64 {
	t.Helper()
	n, err := s.CountAudit(ctxFor(t))
	if err != nil {
		t.Fatalf("CountAudit: %v", err)
	}
	return n
}

// testAuditHiddenUntil checks that HiddenUntil reads back as written (zero
// stays zero) and that SearchAudit's VisibleAt leaves out what is still
// hidden at that time.
func testAuditHiddenUntil(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	until := time.Date(2027, 6, 1, 12, 30, 0, 123456000, time.UTC)
	es := appendSeqs(t, s, 1, 4, func(e *store.AuditEntry) {
		e.CitizenKey = "c1"
		if e.Seq%2 == 0 {
			e.HiddenUntil = until.Add(time.Duration(e.Seq) * time.Hour)
		}
	})
	got, err := s.ListAudit(ctx, store.AuditQuery{Limit: 10})
	if err != nil || len(got) != 4 {
		t.Fatalf("ListAudit: %d entries, %v", len(got), err)
	}
	for i := range got {
		if !got[i].HiddenUntil.Equal(es[i].HiddenUntil) || got[i].HiddenUntil.IsZero() != es[i].HiddenUntil.IsZero() {
			t.Errorf("entry %d: HiddenUntil %v, want %v", got[i].Seq, got[i].HiddenUntil, es[i].HiddenUntil)
		}
		if !got[i].HiddenUntil.IsZero() && got[i].HiddenUntil.Location() != time.UTC {
			t.Errorf("entry %d: HiddenUntil not in UTC", got[i].Seq)
		}
	}
	sr, ok := s.(store.AuditSearcher)
	if !ok {
		t.Fatalf("%T does not implement store.AuditSearcher", s)
	}
	seqs := func(at time.Time) []int64 {
		t.Helper()
		es, err := sr.SearchAudit(ctx, store.AuditSearch{CitizenKey: "c1", VisibleAt: at, Newest: true})
		if err != nil {
			t.Fatalf("SearchAudit: %v", err)
		}
		var out []int64
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out
	}
	for _, c := range []struct {
		at   time.Time
		want []int64
	}{
		{time.Time{}, []int64{4, 3, 2, 1}},           // auditors: everything
		{until, []int64{3, 1}},                       // before any hidden date
		{until.Add(2 * time.Hour), []int64{3, 2, 1}}, // entry 2's date reached (inclusive)
		{until.Add(5 * time.Hour), []int64{4, 3, 2, 1}},
	} {
		if got := seqs(c.at); !slices.Equal(got, c.want) {
			t.Errorf("VisibleAt %v: %v, want %v", c.at, got, c.want)
		}
	}
}
