package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// RunQuality checks store.QualityStore: counters add up across calls and
// concurrent writers (several bus instances), queries select by source,
// dataset and days, and items are made once per event id and change status
// only from the statuses a change allows, each change in the history.
func RunQuality(t *testing.T, open func(t *testing.T) store.Store) {
	t.Run("CountersAdd", func(t *testing.T) { testQualityCounters(t, open(t)) })
	t.Run("Items", func(t *testing.T) { testQualityItems(t, open(t)) })
	t.Run("RegisterChanges", func(t *testing.T) { testRegisterChanges(t, open(t)) })
}

func testQualityCounters(t *testing.T, st store.Store) {
	ctx := ctxFor(t)
	day := store.QualityDay(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	seen := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	delta := func(source, dataset string, d int64, n int64, at time.Time) store.QualityDelta {
		return store.QualityDelta{Source: source, Dataset: dataset, Day: d,
			QualityCounts: store.QualityCounts{Received: n, Valid: n - 1, Verified: n - 2, Mismatch: 1, Unreflected: 1, LastSeen: at},
			Fields:        []store.QualityFieldCount{{Kind: "present", Field: "full_name", N: n - 1}, {Kind: "mismatch", Field: "name", N: 1}},
			Reasons:       []store.QualityReason{{Kind: "schema", Path: "$.dob", Example: "dob: wrong format", N: 1}}}
	}
	// Two writers (two instances) add the same keys at once, 20 times each.
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				at := seen.Add(time.Duration(w*20+i) * time.Second)
				errs <- st.AddQuality(ctx, []store.QualityDelta{delta("insurance", "insurance.card", day, 10, at), delta("tax", "tax.taxpayer", day+1, 5, at)})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all := store.QualityQuery{FromDay: day - 10, ToDay: day + 10}
	rows, err := st.QualityDays(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("want 2 rows (insurance, tax), got %+v", rows)
	}
	ins := rows[0]
	if ins.Source != "insurance" || ins.Day != day || ins.Received != 400 || ins.Valid != 360 || ins.Verified != 320 || ins.Mismatch != 40 || ins.Unreflected != 40 {
		t.Fatalf("insurance counters did not add up: %+v", ins)
	}
	if want := seen.Add(39 * time.Second); !ins.LastSeen.Equal(want) {
		t.Fatalf("last seen %v, want the latest %v", ins.LastSeen, want)
	}
	// Selection by source, dataset and day.
	for _, tc := range []struct {
		q    store.QualityQuery
		want int
	}{
		{store.QualityQuery{Sources: []string{"tax"}, FromDay: day - 10, ToDay: day + 10}, 1},
		{store.QualityQuery{Sources: []string{}, FromDay: day - 10, ToDay: day + 10}, 0},
		{store.QualityQuery{Dataset: "insurance.card", FromDay: day - 10, ToDay: day + 10}, 1},
		{store.QualityQuery{FromDay: day + 1, ToDay: day + 1}, 1},
		{store.QualityQuery{FromDay: day + 2, ToDay: day + 9}, 0},
	} {
		got, err := st.QualityDays(ctx, tc.q)
		if err != nil || len(got) != tc.want {
			t.Fatalf("%+v: %d rows (%v), want %d", tc.q, len(got), err, tc.want)
		}
	}
	fields, err := st.QualityFields(ctx, store.QualityQuery{Sources: []string{"insurance"}, FromDay: day, ToDay: day})
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 2 || fields[0].Kind != "mismatch" || fields[0].N != 40 || fields[1].Field != "full_name" || fields[1].N != 360 {
		t.Fatalf("field counts: %+v", fields)
	}
	reasons, err := st.QualityReasons(ctx, all, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 1 || reasons[0].N != 40 || reasons[0].Path != "$.dob" || reasons[0].Example == "" {
		t.Fatalf("top reason: %+v", reasons)
	}
	if err := st.AddQuality(ctx, nil); err != nil {
		t.Fatalf("nothing to add: %v", err)
	}
}

func testQualityItems(t *testing.T, st store.Store) {
	ctx := ctxFor(t)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	mk := func(ev, source, kind, citizen string) store.QualityItem {
		return store.QualityItem{EventID: ev, Source: source, Connector: source, Dataset: source + ".d", Kind: kind, Path: "$.dob",
			Reason: "dob: wrong", Record: []byte(`{"dataset":"` + source + `.d"}`), EntityKey: "k-" + ev, CitizenKey: citizen}
	}
	n, err := st.AddQualityItems(ctx, []store.QualityItem{mk("e1", "insurance", "schema", ""), mk("e2", "insurance", "mismatch", "c1"), mk("e3", "tax", "schema", "")}, at)
	if err != nil || n != 3 {
		t.Fatalf("add: %d %v", n, err)
	}
	// A re-read batch makes no second item.
	if n, err := st.AddQualityItems(ctx, []store.QualityItem{mk("e1", "insurance", "schema", ""), mk("e4", "tax", "schema", "")}, at); err != nil || n != 1 {
		t.Fatalf("re-add: %d %v", n, err)
	}
	list, err := st.ListQualityItems(ctx, store.QualityItemQuery{Sources: []string{"insurance"}})
	if err != nil || len(list) != 2 || list[0].EventID != "e1" || list[0].Status != store.ItemOpen || string(list[0].Record) == "" {
		t.Fatalf("list of insurance: %+v %v", list, err)
	}
	if l, _ := st.ListQualityItems(ctx, store.QualityItemQuery{Sources: []string{}}); len(l) != 0 {
		t.Fatalf("no source selected, got %d", len(l))
	}
	if l, _ := st.ListQualityItems(ctx, store.QualityItemQuery{Kind: "schema", AfterID: list[0].ID, Limit: 1}); len(l) != 1 || l[0].EventID != "e3" {
		t.Fatalf("kind filter and cursor: %+v", l)
	}
	byCitizen, err := st.OpenQualityItemsByCitizen(ctx, "c1", 10)
	if err != nil || len(byCitizen) != 1 || byCitizen[0].EventID != "e2" {
		t.Fatalf("by citizen: %+v %v", byCitizen, err)
	}
	id := list[0].ID
	resub, err := st.ChangeQualityItem(ctx, id, store.QualityItemChange{From: []string{store.ItemOpen}, Status: store.ItemResubmitted,
		Record: []byte(`{"fixed":true}`), EventID: "r1", Attempt: true, Actor: "vss", Action: "resubmit", At: at.Add(time.Minute)})
	if err != nil || resub.Status != store.ItemResubmitted || resub.Attempts != 1 || resub.LastEventID != "r1" || string(resub.Record) != `{"fixed":true}` || resub.Kind != "schema" {
		t.Fatalf("resubmit: %+v %v", resub, err)
	}
	// A second resubmission while the first is in flight is refused.
	if _, err := st.ChangeQualityItem(ctx, id, store.QualityItemChange{From: []string{store.ItemOpen}, Status: store.ItemResubmitted, Actor: "vss", Action: "resubmit", At: at}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("resubmit in flight: %v, want ErrConflict", err)
	}
	reopened, err := st.ChangeQualityItem(ctx, id, store.QualityItemChange{From: []string{store.ItemResubmitted}, Status: store.ItemOpen,
		Kind: "range", Path: "$.valid_to", Reason: "still wrong", Actor: "bus", Action: "rejected", At: at.Add(2 * time.Minute)})
	if err != nil || reopened.Kind != "range" || reopened.Path != "$.valid_to" || reopened.Reason != "still wrong" || string(reopened.Record) != `{"fixed":true}` {
		t.Fatalf("reopen with the new reason: %+v %v", reopened, err)
	}
	if _, err := st.ChangeQualityItem(ctx, id, store.QualityItemChange{From: []string{store.ItemOpen, store.ItemResubmitted}, Status: store.ItemAccepted, Actor: "bus", Action: "accepted", At: at.Add(3 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := st.ChangeQualityItem(ctx, id, store.QualityItemChange{From: []string{store.ItemOpen}, Status: store.ItemDiscarded, Actor: "vss", Action: "discard", At: at})
	if !errors.Is(err, store.ErrConflict) || got.Status != store.ItemAccepted {
		t.Fatalf("discard an accepted item: %+v %v, want ErrConflict with the stored item", got, err)
	}
	if _, err := st.ChangeQualityItem(ctx, 999999, store.QualityItemChange{From: []string{store.ItemOpen}, Status: store.ItemDiscarded, At: at}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown item: %v", err)
	}
	if _, err := st.GetQualityItem(ctx, 999999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get unknown item: %v", err)
	}
	hist, err := st.QualityItemHistory(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, h := range hist {
		actions = append(actions, h.Action+":"+h.Status)
	}
	want := []string{"created:open", "resubmit:resubmitted", "rejected:open", "accepted:accepted"}
	if len(actions) != len(want) {
		t.Fatalf("history %v, want %v", actions, want)
	}
	for i := range want {
		if actions[i] != want[i] {
			t.Fatalf("history %v, want %v", actions, want)
		}
	}
	if hist[1].EventID != "r1" || !hist[2].At.Equal(at.Add(2*time.Minute)) || hist[2].Reason != "still wrong" {
		t.Fatalf("history lines: %+v", hist)
	}
}

// testRegisterChanges checks the register changes waiting to be reflected:
// noting the same change again (a replay, a second instance) keeps the
// first time, a newer value restarts it, resolving deletes only what was
// noted up to the given time, and due ones come oldest first.
func testRegisterChanges(t *testing.T, st store.Store) {
	ctx := ctxFor(t)
	t0 := time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)
	ch := func(citizen, field, expected string, at time.Time) store.RegisterChange {
		return store.RegisterChange{Source: "tax", Dataset: "tax.taxpayer", CitizenKey: citizen, Field: field, Expected: expected, Changed: at}
	}
	// Two instances note the same changes at once, the second a day later.
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := t0.Add(time.Duration(i) * 24 * time.Hour)
			errs <- st.NoteRegisterChanges(ctx, []store.RegisterChange{ch("k2", "name", "h-b", at), ch("k1", "name", "h-a", at)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.NoteRegisterChanges(ctx, []store.RegisterChange{ch("k1", "residence", "h-r", t0.Add(time.Hour)), ch("k1", "name", "h-a", t0.Add(48*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	due, err := st.DueRegisterChanges(ctx, t0.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 3 || !due[0].Changed.Equal(t0) || due[0].CitizenKey != "k1" || due[0].Field != "name" || due[0].Expected != "h-a" ||
		due[1].CitizenKey != "k2" || due[2].Field != "residence" || !due[2].Changed.Equal(t0.Add(time.Hour)) {
		t.Fatalf("due changes (the first time kept, oldest first): %+v", due)
	}
	if due, err := st.DueRegisterChanges(ctx, t0.Add(-time.Millisecond), 0); err != nil || len(due) != 0 {
		t.Fatalf("none due before the first: %+v %v", due, err)
	}
	if due, err := st.DueRegisterChanges(ctx, t0.Add(24*time.Hour), 2); err != nil || len(due) != 2 {
		t.Fatalf("limit 2: %+v %v", due, err)
	}
	// A newer value of k2's name restarts its clock.
	if err := st.NoteRegisterChanges(ctx, []store.RegisterChange{ch("k2", "name", "h-c", t0.Add(72*time.Hour))}); err != nil {
		t.Fatal(err)
	}
	// Resolving k2 as noted at t0 (its finding made) leaves the newer one.
	if err := st.ResolveRegisterChanges(ctx, []store.RegisterChange{ch("k2", "name", "", t0), ch("k1", "name", "", t0)}); err != nil {
		t.Fatal(err)
	}
	all, err := st.DueRegisterChanges(ctx, t0.Add(1000*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Field != "residence" || all[1].CitizenKey != "k2" || all[1].Expected != "h-c" || !all[1].Changed.Equal(t0.Add(72*time.Hour)) {
		t.Fatalf("after resolving: %+v", all)
	}
	if err := st.NoteRegisterChanges(ctx, nil); err != nil {
		t.Fatalf("nothing to note: %v", err)
	}
	if err := st.ResolveRegisterChanges(ctx, nil); err != nil {
		t.Fatalf("nothing to resolve: %v", err)
	}
}
