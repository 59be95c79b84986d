package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// RunStateVersions checks that dataset state never goes backwards: a row
// is written only over an older version, a delete leaves a tombstone that
// an older upsert cannot bring back, and tombstones are neither counted,
// scanned nor found by citizen.
func RunStateVersions(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := ctxFor(t)
	st := open(t)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	row := func(v int64) store.StateRow {
		return store.StateRow{Dataset: "tax.taxpayer", Key: "k1", CitizenKey: "c", Row: []byte(fmt.Sprintf(`{"v":%d}`, v)), EventID: fmt.Sprint("e", v), Updated: t0, Version: v}
	}
	del := func(v int64) store.StateKey {
		return store.StateKey{Dataset: "tax.taxpayer", Key: "k1", EventID: fmt.Sprint("e", v), Updated: t0, Version: v}
	}
	current := func() string {
		t.Helper()
		rows, err := st.StateByCitizen(ctx, "tax.taxpayer", "c", 10)
		if err != nil {
			t.Fatal(err)
		}
		n, err := st.CountState(ctx, "tax.taxpayer")
		if err != nil {
			t.Fatal(err)
		}
		var scanned int
		if err := st.ScanState(ctx, "tax.taxpayer", func(store.StateRow) error { scanned++; return nil }); err != nil {
			t.Fatal(err)
		}
		if len(rows) > 1 || int64(len(rows)) != n || scanned != len(rows) {
			t.Fatalf("by citizen %d rows, counted %d, scanned %d", len(rows), n, scanned)
		}
		if len(rows) == 0 {
			return "deleted"
		}
		return string(rows[0].Row)
	}
	steps := []struct {
		name    string
		rows    []store.StateRow
		deletes []store.StateKey
		want    string
	}{
		{"first write", []store.StateRow{row(5)}, nil, `{"v":5}`},
		{"older version is ignored", []store.StateRow{row(3)}, nil, `{"v":5}`},
		{"same version again is harmless", []store.StateRow{row(5)}, nil, `{"v":5}`},
		{"newer version applies", []store.StateRow{row(9)}, nil, `{"v":9}`},
		{"older delete is ignored", nil, []store.StateKey{del(7)}, `{"v":9}`},
		{"newer delete applies", nil, []store.StateKey{del(11)}, "deleted"},
		{"older upsert does not resurrect", []store.StateRow{row(10)}, nil, "deleted"},
		{"newer upsert after a delete applies", []store.StateRow{row(12)}, nil, `{"v":12}`},
		{"a delete of a key never seen leaves a tombstone", nil, []store.StateKey{{Dataset: "tax.taxpayer", Key: "k2", Version: 4, Updated: t0}}, `{"v":12}`},
		// One batch naming a key twice (the upsert is one multi-row
		// statement): the newest change wins whatever its place.
		{"newest of two in a batch wins, listed first", []store.StateRow{row(20), row(14)}, nil, `{"v":20}`},
		{"a delete newer than an upsert of the same batch wins", []store.StateRow{row(21)}, []store.StateKey{del(22)}, "deleted"},
		{"an upsert newer than a delete of the same batch wins", []store.StateRow{row(24)}, []store.StateKey{del(23)}, `{"v":24}`},
		{"a batch older than the stored row changes nothing", []store.StateRow{row(15), row(16)}, []store.StateKey{del(17)}, `{"v":24}`},
	}
	for _, s := range steps {
		if err := st.ApplyState(ctx, s.rows, s.deletes); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := current(); got != s.want {
			t.Fatalf("%s: state is %s, want %s", s.name, got, s.want)
		}
	}
	if err := st.ApplyState(ctx, []store.StateRow{{Dataset: "tax.taxpayer", Key: "k2", CitizenKey: "d", Row: []byte(`{}`), Updated: t0, Version: 3}}, nil); err != nil {
		t.Fatal(err)
	}
	if rows, _ := st.StateByCitizen(ctx, "tax.taxpayer", "d", 10); len(rows) != 0 {
		t.Fatal("an upsert older than the key's tombstone brought it back")
	}
}

// RunStateBatch checks an ApplyState batch larger than one statement's
// rows, with keys repeated across and within the statements: every key
// ends at its newest change.
func RunStateBatch(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	st, ok := open(t).(interface {
		store.StateStore
		store.StateScanner
	})
	if !ok {
		t.Fatal("the store does not implement StateStore and StateScanner")
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	const keys, per = 300, 3
	var rows []store.StateRow
	var deletes []store.StateKey
	for v := 0; v < per; v++ {
		for k := 0; k < keys; k++ {
			version := int64(v*keys + k)
			if k%10 == 0 && v == per-1 {
				deletes = append(deletes, store.StateKey{Dataset: "tax.taxpayer", Key: fmt.Sprint(k), Updated: t0, Version: version})
				continue
			}
			rows = append(rows, store.StateRow{Dataset: "tax.taxpayer", Key: fmt.Sprint(k), CitizenKey: "c", Row: []byte(fmt.Sprintf(`{"v":%d}`, version)), Updated: t0, Version: version})
		}
	}
	// newest first, so the order of the input cannot be what decides
	slices.Reverse(rows)
	if err := st.ApplyState(ctx, rows, deletes); err != nil {
		t.Fatal(err)
	}
	n, err := st.CountState(ctx, "tax.taxpayer")
	if err != nil || n != keys-keys/10 {
		t.Fatalf("%d rows (%v), want %d: the deleted keys must stay deleted", n, err, keys-keys/10)
	}
	err = st.ScanState(ctx, "tax.taxpayer", func(r store.StateRow) error {
		var k int
		fmt.Sscan(r.Key, &k)
		if want := fmt.Sprintf(`{"v":%d}`, (per-1)*keys+k); string(r.Row) != want {
			return fmt.Errorf("key %s is %s, want %s", r.Key, r.Row, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
