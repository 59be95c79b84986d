// Package review keeps the identity linkage's review queue in the bus's
// store: Queue is the linkage.ReviewQueue of the candidate links a clerk must
// accept or reject, persistent in SQLite (dev) or PostgreSQL (serve), so
// the queue survives restarts and every bus instance sees the same one.
package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// ErrBadCursor is returned by List for an after that is not an item id.
var ErrBadCursor = errors.New("review: the cursor is not a review item id")

// Queue is a linkage.ReviewQueue over a store.ReviewStore. Ids are "rv"
// and the store's sequence number in 12 digits, as the in-memory queue
// writes them, so id order is insertion order. Adding a record already
// queued from the same source (same Source and a non-empty RecordID)
// returns the existing item's id and changes nothing: a batch re-read
// after a crash does not queue its records twice.
type Queue struct {
	st  store.ReviewStore
	now func() time.Time
}

var _ linkage.ReviewQueue = (*Queue)(nil)

// New returns the queue kept in st.
func New(st store.ReviewStore) *Queue { return &Queue{st: st, now: time.Now} }

// ID is the item id of a store sequence number.
func ID(seq int64) string { return fmt.Sprintf("rv%012d", seq) }

// parseID returns the sequence number of an item id.
func parseID(id string) (int64, bool) {
	digits, ok := strings.CutPrefix(id, "rv")
	if !ok || len(digits) < 12 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	return seq, err == nil && seq > 0
}

// Add implements linkage.ReviewQueue.
func (q *Queue) Add(ctx context.Context, items ...linkage.ReviewItem) ([]string, error) {
	rows := make([]store.ReviewItem, len(items))
	for k, it := range items {
		var ex []byte
		if it.Explanation != nil {
			var err error
			if ex, err = json.Marshal(it.Explanation); err != nil {
				return nil, fmt.Errorf("review: explanation of record %q: %w", it.RecordID, err)
			}
		}
		rows[k] = store.ReviewItem{Source: it.Source, RecordID: it.RecordID, PersonalID: it.PersonalID, Score: it.Score,
			Probability: it.Probability, Explanation: ex, Reason: it.Reason}
	}
	seqs, err := q.st.AddReviews(ctx, rows, q.now().UTC())
	if err != nil {
		return nil, fmt.Errorf("review: queue %d items: %w", len(items), err)
	}
	ids := make([]string, len(seqs))
	for k, s := range seqs {
		ids[k] = ID(s)
	}
	return ids, nil
}

// Get implements linkage.ReviewQueue.
func (q *Queue) Get(ctx context.Context, id string) (linkage.ReviewItem, error) {
	seq, ok := parseID(id)
	if !ok {
		return linkage.ReviewItem{}, linkage.ErrReviewNotFound
	}
	row, err := q.st.GetReview(ctx, seq)
	if errors.Is(err, store.ErrNotFound) {
		return linkage.ReviewItem{}, linkage.ErrReviewNotFound
	}
	if err != nil {
		return linkage.ReviewItem{}, fmt.Errorf("review: get %s: %w", id, err)
	}
	return item(row)
}

// List implements linkage.ReviewQueue. A limit ≤ 0 or over 1000 lists
// 1000 items; an after that is not an item id is ErrBadCursor.
func (q *Queue) List(ctx context.Context, status linkage.ReviewStatus, after string, limit int) ([]linkage.ReviewItem, error) {
	var seq int64
	if after != "" {
		var ok bool
		if seq, ok = parseID(after); !ok {
			return nil, fmt.Errorf("%w: %q", ErrBadCursor, after)
		}
	}
	rows, err := q.st.ListReviews(ctx, string(status), seq, limit)
	if err != nil {
		return nil, fmt.Errorf("review: list: %w", err)
	}
	out := make([]linkage.ReviewItem, len(rows))
	for k, r := range rows {
		if out[k], err = item(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decide implements linkage.ReviewQueue.
func (q *Queue) Decide(ctx context.Context, id string, accept bool, by, note string) (linkage.ReviewItem, error) {
	seq, ok := parseID(id)
	if !ok {
		return linkage.ReviewItem{}, linkage.ErrReviewNotFound
	}
	status := store.ReviewRejected
	if accept {
		status = store.ReviewAccepted
	}
	row, err := q.st.DecideReview(ctx, seq, status, by, note, q.now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return linkage.ReviewItem{}, linkage.ErrReviewNotFound
	case errors.Is(err, store.ErrConflict):
		it, ierr := item(row)
		if ierr != nil {
			return it, ierr
		}
		return it, linkage.ErrReviewDecided
	case err != nil:
		return linkage.ReviewItem{}, fmt.Errorf("review: decide %s: %w", id, err)
	}
	return item(row)
}

func item(r store.ReviewItem) (linkage.ReviewItem, error) {
	it := linkage.ReviewItem{ID: ID(r.Seq), Source: r.Source, RecordID: r.RecordID, PersonalID: r.PersonalID, Score: r.Score,
		Probability: r.Probability, Reason: r.Reason, Status: linkage.ReviewStatus(r.Status), Created: r.Created,
		Decided: r.Decided, DecidedBy: r.DecidedBy, Note: r.Note}
	if r.Explanation != nil {
		it.Explanation = new(linkage.Explanation)
		if err := json.Unmarshal(r.Explanation, it.Explanation); err != nil {
			return it, fmt.Errorf("review: item %s: stored explanation is not readable: %w", it.ID, err)
		}
	}
	return it, nil
}
