package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// RunStateScan checks store.StateScanner: every row of one dataset, in
// key order, across page boundaries, none of another dataset, and an early
// stop that returns the caller's error.
func RunStateScan(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := ctxFor(t)
	st := open(t)
	ss, ok1 := st.(store.StateStore)
	sc, ok2 := st.(store.StateScanner)
	if !ok1 || !ok2 {
		t.Fatalf("%T does not implement StateStore and StateScanner", st)
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 123000, time.UTC)
	const n = 2345 // more than two pages of every backend
	var rows []store.StateRow
	for i := range n {
		// keys in an order that is not insertion order; "" is a key too
		key := fmt.Sprintf("k%05d", (i*7919)%n)
		if i == 0 {
			key = ""
		}
		rows = append(rows, store.StateRow{Dataset: "tax.taxpayer", Key: key, CitizenKey: "c", Row: []byte(fmt.Sprintf(`{"i":%d}`, i)), EventID: fmt.Sprint("e", i), Updated: t0})
	}
	other := store.StateRow{Dataset: "tax.taxpayerx", Key: "k00001", Row: []byte(`{}`), EventID: "x", Updated: t0}
	if err := ss.ApplyState(ctx, append(rows, other), nil); err != nil {
		t.Fatal(err)
	}
	if c, err := sc.CountState(ctx, "tax.taxpayer"); err != nil || c != n {
		t.Fatalf("CountState = %d, %v; want %d", c, err, n)
	}
	if c, err := sc.CountState(ctx, "land.land_parcel"); err != nil || c != 0 {
		t.Fatalf("CountState(no rows) = %d, %v", c, err)
	}
	byKey := map[string]store.StateRow{}
	for _, r := range rows {
		byKey[r.Key] = r
	}
	var got []store.StateRow
	if err := sc.ScanState(ctx, "tax.taxpayer", func(r store.StateRow) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("ScanState gave %d rows, want %d", len(got), n)
	}
	for k, r := range got {
		want := byKey[r.Key]
		if r.Dataset != "tax.taxpayer" || string(r.Row) != string(want.Row) || r.EventID != want.EventID || r.CitizenKey != "c" || !r.Updated.Equal(t0) {
			t.Fatalf("row %d = %+v, want %+v", k, r, want)
		}
		if k > 0 && got[k-1].Key >= r.Key {
			t.Fatalf("rows out of key order: %q then %q", got[k-1].Key, r.Key)
		}
	}
	stop := errors.New("enough")
	seen := 0
	err := sc.ScanState(ctx, "tax.taxpayer", func(store.StateRow) error {
		if seen++; seen == 1500 {
			return stop
		}
		return nil
	})
	if err != stop || seen != 1500 {
		t.Fatalf("ScanState stopped after %d rows with %v; want the caller's error after 1500", seen, err)
	}
	if err := sc.ScanState(ctx, "land.land_parcel", func(store.StateRow) error { return stop }); err != nil {
		t.Fatalf("ScanState(no rows) = %v", err)
	}
}
