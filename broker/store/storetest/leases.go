package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// RunLeases checks store.LeaseStore: one owner at a time, takeover only
// after expiry (or release) with a new epoch, and a position saved under
// a lost lease refused as ErrFenced.
func RunLeases(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := ctxFor(t)
	st := open(t)
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	const ttl = 10 * time.Second
	acquire := func(owner string, at time.Time) store.Lease {
		t.Helper()
		l, err := st.AcquireLease(ctx, "land", owner, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := acquire("a", now)
	if a.Owner != "a" || a.Epoch != 1 {
		t.Fatalf("first acquire: %+v", a)
	}
	if l := acquire("b", now.Add(time.Second)); l.Owner != "a" || l.Epoch != 1 {
		t.Fatalf("b took a held lease: %+v", l)
	}
	if ok, err := st.RenewLease(ctx, "land", "a", 1, now.Add(5*time.Second), ttl); err != nil || !ok {
		t.Fatalf("renew by its owner: %v %v", ok, err)
	}
	if err := st.PutPositionUnder(ctx, "land", []byte{1}, "land", "a", 1); err != nil {
		t.Fatalf("position under a held lease: %v", err)
	}
	// a stops renewing (paused or dead): after expiry b takes over.
	if l := acquire("b", now.Add(14*time.Second)); l.Owner != "a" {
		t.Fatalf("taken before expiry: %+v", l)
	}
	b := acquire("b", now.Add(16*time.Second))
	if b.Owner != "b" || b.Epoch != 2 {
		t.Fatalf("takeover after expiry: %+v", b)
	}
	// a wakes up: it can neither renew nor write a position.
	if ok, err := st.RenewLease(ctx, "land", "a", 1, now.Add(17*time.Second), ttl); err != nil || ok {
		t.Fatalf("stale owner renewed: %v %v", ok, err)
	}
	if err := st.PutPositionUnder(ctx, "land", []byte{9}, "land", "a", 1); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("stale owner's position: %v, want ErrFenced", err)
	}
	if err := st.PutPositionUnder(ctx, "land#config", []byte{7}, "land", "b", 2); err != nil {
		t.Fatalf("a second record of the connector under its lease: %v", err)
	}
	if err := st.PutPositionUnder(ctx, "land", []byte{2}, "land", "b", 2); err != nil {
		t.Fatal(err)
	}
	if p, err := st.GetPosition(ctx, "land"); err != nil || len(p) != 1 || p[0] != 2 {
		t.Fatalf("position %v %v, want the new owner's", p, err)
	}
	// b restarts under the same instance id: it takes its own lease again, at a new epoch.
	if l := acquire("b", now.Add(18*time.Second)); l.Owner != "b" || l.Epoch != 3 {
		t.Fatalf("restarted owner: %+v", l)
	}
	// A released lease is free at once.
	if err := st.ReleaseLease(ctx, "land", "b", 3); err != nil {
		t.Fatal(err)
	}
	if l := acquire("a", now.Add(19*time.Second)); l.Owner != "a" || l.Epoch != 4 {
		t.Fatalf("after release: %+v", l)
	}
	ls, err := st.Leases(ctx)
	if err != nil || len(ls) != 1 || ls[0].Owner != "a" || ls[0].Epoch != 4 {
		t.Fatalf("Leases = %+v, %v", ls, err)
	}
}

// RunSharedDocs checks store.SharedDocStore: a document is created once,
// and a write based on a version another writer already replaced is
// refused as ErrStale.
func RunSharedDocs(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := ctxFor(t)
	st := open(t)
	if doc, v, err := st.SharedDoc(ctx, "creds"); err != nil || v != 0 || doc != nil {
		t.Fatalf("absent document: %q %d %v", doc, v, err)
	}
	if err := st.PutSharedDoc(ctx, "creds", []byte(`{"a":1}`), 0); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := st.PutSharedDoc(ctx, "creds", []byte(`{"b":1}`), 0); !errors.Is(err, store.ErrStale) {
		t.Fatalf("second create: %v, want ErrStale", err)
	}
	doc, v, err := st.SharedDoc(ctx, "creds")
	if err != nil || v != 1 || string(doc) != `{"a":1}` {
		t.Fatalf("after create: %q %d %v", doc, v, err)
	}
	// Two instances read version 1; the first write wins, the second is stale.
	if err := st.PutSharedDoc(ctx, "creds", []byte(`{"a":2}`), 1); err != nil {
		t.Fatalf("update at the version read: %v", err)
	}
	if err := st.PutSharedDoc(ctx, "creds", []byte(`{"c":2}`), 1); !errors.Is(err, store.ErrStale) {
		t.Fatalf("update at an old version: %v, want ErrStale", err)
	}
	if doc, v, _ := st.SharedDoc(ctx, "creds"); v != 2 || string(doc) != `{"a":2}` {
		t.Fatalf("after the race: %q %d", doc, v)
	}
	if _, v, _ := st.SharedDoc(ctx, "other"); v != 0 {
		t.Fatalf("documents are independent: version %d", v)
	}
}
