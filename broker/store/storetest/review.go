package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// RunReview checks store.ReviewStore: insertion order, one item per
// record, filters and a stable cursor, and decisions taken once even when
// clerks race.
func RunReview(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, rs store.ReviewStore)
	}{
		{"RoundTrip", testReviewRoundTrip},
		{"OncePerRecord", testReviewOncePerRecord},
		{"ListCursor", testReviewListCursor},
		{"Decide", testReviewDecide},
		{"ConcurrentDecide", testReviewConcurrentDecide},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			rs, ok := st.(store.ReviewStore)
			if !ok {
				t.Fatalf("%T does not implement store.ReviewStore", st)
			}
			tc.fn(t, rs)
		})
	}
}

var reviewT0 = time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC)

func reviewItem(source, record string) store.ReviewItem {
	return store.ReviewItem{Source: source, RecordID: record, PersonalID: "001090012345", Score: 12.5, Probability: 0.4321,
		Explanation: []byte(`{"prior":-17.2,"fields":[{"field":"name","level":"spelling","weight":6.1}],"total":12.5}`),
		Reason:      "probability below 0.9: another citizen scores close"}
}

func testReviewRoundTrip(t *testing.T, rs store.ReviewStore) {
	ctx := ctxFor(t)
	a, b := reviewItem("tax.taxpayer", "e1"), reviewItem("land.land_use_right", "e2")
	b.Explanation, b.Reason, b.Score = nil, "", -3.25 // optional parts empty
	seqs, err := rs.AddReviews(ctx, []store.ReviewItem{a, b}, reviewT0)
	if err != nil || len(seqs) != 2 || seqs[0] <= 0 || seqs[1] <= seqs[0] {
		t.Fatalf("AddReviews = %v, %v; want two increasing positive seqs", seqs, err)
	}
	for k, want := range []store.ReviewItem{a, b} {
		got, err := rs.GetReview(ctx, seqs[k])
		if err != nil {
			t.Fatalf("GetReview(%d): %v", seqs[k], err)
		}
		want.Seq, want.Status, want.Created = seqs[k], store.ReviewPending, reviewT0
		if got.Seq != want.Seq || got.Source != want.Source || got.RecordID != want.RecordID || got.PersonalID != want.PersonalID ||
			got.Score != want.Score || got.Probability != want.Probability || !bytes.Equal(got.Explanation, want.Explanation) ||
			got.Reason != want.Reason || got.Status != want.Status || !got.Created.Equal(want.Created) || got.Created.Location() != time.UTC ||
			!got.Decided.IsZero() || got.DecidedBy != "" || got.Note != "" {
			t.Errorf("item %d:\n got %+v\nwant %+v", k, got, want)
		}
		if (want.Explanation == nil) != (got.Explanation == nil) {
			t.Errorf("item %d: explanation %q, want %q", k, got.Explanation, want.Explanation)
		}
	}
	if _, err := rs.GetReview(ctx, seqs[1]+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetReview(unknown) = %v, want ErrNotFound", err)
	}
	if seqs, err := rs.AddReviews(ctx, nil, reviewT0); err != nil || len(seqs) != 0 {
		t.Errorf("AddReviews(nil) = %v, %v", seqs, err)
	}
}

func testReviewOncePerRecord(t *testing.T, rs store.ReviewStore) {
	ctx := ctxFor(t)
	first, err := rs.AddReviews(ctx, []store.ReviewItem{reviewItem("tax.taxpayer", "e1")}, reviewT0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.DecideReview(ctx, first[0], store.ReviewRejected, "clerk", "not the same person", reviewT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The record again (a retried batch), the same record id from another
	// source, a repeat inside one batch, and two items without a record id.
	again := reviewItem("tax.taxpayer", "e1")
	again.Score = 99
	seqs, err := rs.AddReviews(ctx, []store.ReviewItem{again, reviewItem("insurance.health_insurance_card", "e1"),
		reviewItem("land.land_use_right", "e9"), reviewItem("land.land_use_right", "e9"), reviewItem("file.csv", ""), reviewItem("file.csv", "")}, reviewT0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if seqs[0] != first[0] {
		t.Errorf("a record queued again got seq %d, want its first seq %d", seqs[0], first[0])
	}
	if seqs[1] == first[0] || seqs[2] == seqs[1] || seqs[3] != seqs[2] || seqs[4] == seqs[5] {
		t.Errorf("seqs %v (first %d): want one item per (source, record id) and one per item without a record id", seqs, first[0])
	}
	got, err := rs.GetReview(ctx, first[0])
	if err != nil || got.Status != store.ReviewRejected || got.Score != 12.5 || !got.Created.Equal(reviewT0) {
		t.Errorf("the stored item must stay as it was: %+v %v", got, err)
	}
	all, err := rs.ListReviews(ctx, "", 0, 0)
	if err != nil || len(all) != 5 {
		t.Errorf("ListReviews = %d items, %v; want 5", len(all), err)
	}
}

func testReviewListCursor(t *testing.T, rs store.ReviewStore) {
	ctx := ctxFor(t)
	var items []store.ReviewItem
	for i := range 7 {
		items = append(items, reviewItem("tax.taxpayer", fmt.Sprintf("e%d", i)))
	}
	seqs, err := rs.AddReviews(ctx, items, reviewT0)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 4} {
		if _, err := rs.DecideReview(ctx, seqs[k], store.ReviewAccepted, "clerk", "same person", reviewT0); err != nil {
			t.Fatal(err)
		}
	}
	pages := func(status string, limit int) [][]int64 {
		var out [][]int64
		var after int64
		for range 20 {
			page, err := rs.ListReviews(ctx, status, after, limit)
			if err != nil {
				t.Fatalf("ListReviews(%q, %d, %d): %v", status, after, limit, err)
			}
			if len(page) == 0 {
				return out
			}
			var ids []int64
			for _, it := range page {
				if status != "" && it.Status != status {
					t.Errorf("status %q listed with filter %q", it.Status, status)
				}
				ids = append(ids, it.Seq)
			}
			out = append(out, ids)
			after = page[len(page)-1].Seq
		}
		t.Fatal("paging did not end")
		return nil
	}
	want := func(ks ...int) []int64 {
		var out []int64
		for _, k := range ks {
			out = append(out, seqs[k])
		}
		return out
	}
	for _, tc := range []struct {
		status string
		limit  int
		want   [][]int64
	}{
		{store.ReviewAccepted, 1, [][]int64{want(1), want(4)}},
		{store.ReviewRejected, 2, nil},
		{store.ReviewPending, 2, [][]int64{want(0, 2), want(3, 5), want(6)}},
		{"", 3, [][]int64{want(0, 1, 2), want(3, 4, 5), want(6)}},
		{"", 0, [][]int64{want(0, 1, 2, 3, 4, 5, 6)}},
	} {
		if got := pages(tc.status, tc.limit); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("pages of %q by %d = %v, want %v", tc.status, tc.limit, got, tc.want)
		}
	}
	// The cursor is stable: an item added or decided while a clerk pages
	// neither repeats nor hides the others.
	first, err := rs.ListReviews(ctx, store.ReviewPending, 0, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("first page: %v %v", first, err)
	}
	more, err := rs.AddReviews(ctx, []store.ReviewItem{reviewItem("tax.taxpayer", "late")}, reviewT0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.DecideReview(ctx, seqs[0], store.ReviewRejected, "clerk", "n", reviewT0); err != nil {
		t.Fatal(err)
	}
	seqs = append(seqs, more[0])
	rest, err := rs.ListReviews(ctx, store.ReviewPending, first[1].Seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, it := range rest {
		got = append(got, it.Seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(want(3, 5, 6, 7)) {
		t.Errorf("after the first page: %v, want %v", got, want(3, 5, 6, 7))
	}
	if got, err := rs.ListReviews(ctx, "", seqs[len(seqs)-1], 10); err != nil || len(got) != 0 {
		t.Errorf("after the last item: %v %v", got, err)
	}
}

func testReviewDecide(t *testing.T, rs store.ReviewStore) {
	ctx := ctxFor(t)
	seqs, err := rs.AddReviews(ctx, []store.ReviewItem{reviewItem("s", "a"), reviewItem("s", "b")}, reviewT0)
	if err != nil {
		t.Fatal(err)
	}
	at := reviewT0.Add(90 * time.Minute)
	got, err := rs.DecideReview(ctx, seqs[0], store.ReviewAccepted, "Nguyễn Thị Lan", "giấy khai sinh khớp", at)
	if err != nil || got.Status != store.ReviewAccepted || !got.Decided.Equal(at) || got.DecidedBy != "Nguyễn Thị Lan" || got.Note != "giấy khai sinh khớp" || got.Seq != seqs[0] || got.PersonalID == "" {
		t.Fatalf("accept: %+v %v", got, err)
	}
	got, err = rs.DecideReview(ctx, seqs[0], store.ReviewRejected, "other", "changed my mind", at.Add(time.Hour))
	if !errors.Is(err, store.ErrConflict) || got.Status != store.ReviewAccepted || got.DecidedBy != "Nguyễn Thị Lan" || !got.Decided.Equal(at) {
		t.Errorf("second decision: %+v %v; want ErrConflict and the first decision kept", got, err)
	}
	if _, err := rs.DecideReview(ctx, seqs[1]+1000, store.ReviewAccepted, "c", "n", at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown item: %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"", store.ReviewPending, "maybe"} {
		if _, err := rs.DecideReview(ctx, seqs[1], bad, "c", "n", at); err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("status %q: %v, want a plain error", bad, err)
		}
	}
	if got, err := rs.GetReview(ctx, seqs[1]); err != nil || got.Status != store.ReviewPending {
		t.Errorf("a refused decision changed the item: %+v %v", got, err)
	}
	got, err = rs.DecideReview(ctx, seqs[1], store.ReviewRejected, "c", "", at)
	if err != nil || got.Status != store.ReviewRejected {
		t.Errorf("reject: %+v %v", got, err)
	}
}

func testReviewConcurrentDecide(t *testing.T, rs store.ReviewStore) {
	ctx := ctxFor(t)
	seqs, err := rs.AddReviews(ctx, []store.ReviewItem{reviewItem("s", "race")}, reviewT0)
	if err != nil {
		t.Fatal(err)
	}
	const clerks = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, lost := 0, 0
	for k := range clerks {
		wg.Go(func() {
			status := store.ReviewAccepted
			if k%2 == 1 {
				status = store.ReviewRejected
			}
			_, err := rs.DecideReview(ctx, seqs[0], status, fmt.Sprintf("clerk-%d", k), "n", reviewT0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, store.ErrConflict):
				lost++
			default:
				t.Errorf("clerk %d: %v", k, err)
			}
		})
	}
	wg.Wait()
	if won != 1 || lost != clerks-1 {
		t.Errorf("%d decisions taken, %d refused; want exactly one taken", won, lost)
	}
}
