package review_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

func openQueue(t *testing.T, path string) *review.Queue {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return review.New(st)
}

func candidate(record string) linkage.ReviewItem {
	return linkage.ReviewItem{Source: "tax.taxpayer", RecordID: record, PersonalID: "001090012345", Score: 8.25, Probability: 0.61,
		Explanation: &linkage.Explanation{Prior: -12.5, Fields: []linkage.FieldWeight{{Field: "name", Level: "spelling", Weight: 9.5}, {Field: "dob", Level: "exact", Weight: 11.25}}, Total: 8.25},
		Reason:      "probability below 0.9"}
}

// The store-backed queue behaves as the in-memory one the linkage package
// defines: same ids, same order, same errors.
func TestQueueLikeMemory(t *testing.T) {
	queues := map[string]linkage.ReviewQueue{
		"memory": linkage.NewMemoryReviewQueue(),
		"store":  openQueue(t, filepath.Join(t.TempDir(), "store.db")),
	}
	for name, q := range queues {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ids, err := q.Add(ctx, candidate("r1"), candidate("r2"), candidate("r3"))
			if err != nil || !reflect.DeepEqual(ids, []string{"rv000000000001", "rv000000000002", "rv000000000003"}) {
				t.Fatalf("Add = %v, %v", ids, err)
			}
			got, err := q.Get(ctx, ids[1])
			want := candidate("r2")
			want.ID, want.Status, want.Created = ids[1], linkage.ReviewPending, got.Created
			if err != nil || !reflect.DeepEqual(got, want) || got.Created.IsZero() {
				t.Fatalf("Get:\n got %+v\nwant %+v (%v)", got, want, err)
			}
			if _, err := q.Get(ctx, "rv000000000099"); !errors.Is(err, linkage.ErrReviewNotFound) {
				t.Errorf("Get(unknown) = %v", err)
			}
			dec, err := q.Decide(ctx, ids[0], true, "clerk", "same person")
			if err != nil || dec.Status != linkage.ReviewAccepted || dec.DecidedBy != "clerk" || dec.Note != "same person" || dec.Decided.IsZero() {
				t.Fatalf("Decide: %+v %v", dec, err)
			}
			if again, err := q.Decide(ctx, ids[0], false, "other", "no"); !errors.Is(err, linkage.ErrReviewDecided) || again.Status != linkage.ReviewAccepted {
				t.Errorf("second Decide = %+v, %v; want ErrReviewDecided and the first decision", again, err)
			}
			if _, err := q.Decide(ctx, "rv000000000099", true, "c", "n"); !errors.Is(err, linkage.ErrReviewNotFound) {
				t.Errorf("Decide(unknown) = %v", err)
			}
			pending, err := q.List(ctx, linkage.ReviewPending, "", 10)
			if err != nil || len(pending) != 2 || pending[0].ID != ids[1] || pending[1].ID != ids[2] {
				t.Errorf("List(pending) = %+v, %v", pending, err)
			}
			page, err := q.List(ctx, "", ids[0], 1)
			if err != nil || len(page) != 1 || page[0].ID != ids[1] {
				t.Errorf("List after %s = %+v, %v", ids[0], page, err)
			}
		})
	}
}

// Items survive a restart, a record queued again keeps its item, and
// malformed ids are unknown items (or, as a cursor, an error).
func TestQueuePersistsAndDedupes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	q := review.New(st)
	noExplanation := candidate("r2")
	noExplanation.Explanation = nil
	ids, err := q.Add(ctx, candidate("r1"), noExplanation)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Decide(ctx, ids[0], false, "clerk", "another person"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	q = openQueue(t, path)
	again, err := q.Add(ctx, candidate("r1"), candidate("r3"))
	if err != nil || again[0] != ids[0] || again[1] == ids[1] {
		t.Fatalf("Add after restart = %v (first ids %v), %v", again, ids, err)
	}
	got, err := q.Get(ctx, ids[0])
	if err != nil || got.Status != linkage.ReviewRejected || got.Note != "another person" || got.Explanation == nil || got.Explanation.Total != 8.25 {
		t.Errorf("after restart: %+v %v", got, err)
	}
	if got, err := q.Get(ctx, ids[1]); err != nil || got.Explanation != nil {
		t.Errorf("an item without explanation: %+v %v", got, err)
	}
	for _, id := range []string{"", "rv", "rv12", "xx000000000001", "rv00000000000x", "rv000000000000", "rv-00000000001"} {
		if _, err := q.Get(ctx, id); !errors.Is(err, linkage.ErrReviewNotFound) {
			t.Errorf("Get(%q) = %v, want ErrReviewNotFound", id, err)
		}
		if _, err := q.Decide(ctx, id, true, "c", "n"); !errors.Is(err, linkage.ErrReviewNotFound) {
			t.Errorf("Decide(%q) = %v, want ErrReviewNotFound", id, err)
		}
		if id == "" {
			continue
		}
		if _, err := q.List(ctx, "", id, 10); !errors.Is(err, review.ErrBadCursor) {
			t.Errorf("List after %q = %v, want ErrBadCursor", id, err)
		}
	}
	if review.ID(7) != "rv000000000007" {
		t.Errorf("ID(7) = %s", review.ID(7))
	}
}
