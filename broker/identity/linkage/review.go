package linkage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ReviewStatus is the state of a review item.
type ReviewStatus string

const (
	ReviewPending  ReviewStatus = "pending"
	ReviewAccepted ReviewStatus = "accepted" // the clerk confirmed: the record is this citizen
	ReviewRejected ReviewStatus = "rejected" // the clerk refused the candidate
)

// ReviewItem is a candidate link a clerk must confirm or refuse.
type ReviewItem struct {
	ID          string       `json:"id"`     // assigned by the queue
	Source      string       `json:"source"` // which file, dataset or ministry
	RecordID    string       `json:"record_id"`
	PersonalID  string       `json:"personal_id"` // the candidate citizen
	Score       float64      `json:"score"`
	Probability float64      `json:"probability"`
	Explanation *Explanation `json:"explanation,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	Status      ReviewStatus `json:"status"`
	Created     time.Time    `json:"created"`
	Decided     time.Time    `json:"decided,omitzero"`
	DecidedBy   string       `json:"decided_by,omitempty"`
	Note        string       `json:"note,omitempty"`
}

// Errors of a ReviewQueue.
var (
	ErrReviewNotFound = errors.New("linkage: no such review item")
	ErrReviewDecided  = errors.New("linkage: review item already decided")
)

// ReviewQueue holds the links that need a person. The in-memory queue
// implements it; a store-backed one can replace it without changing the
// callers.
type ReviewQueue interface {
	// Add enqueues items as pending and returns their ids.
	Add(ctx context.Context, items ...ReviewItem) ([]string, error)
	// Get returns one item.
	Get(ctx context.Context, id string) (ReviewItem, error)
	// List returns up to limit items with the status ("" = any) in id
	// order, starting after the id after ("" = from the start).
	List(ctx context.Context, status ReviewStatus, after string, limit int) ([]ReviewItem, error)
	// Decide accepts or rejects a pending item, once.
	Decide(ctx context.Context, id string, accept bool, by, note string) (ReviewItem, error)
}

// MemoryReviewQueue is a ReviewQueue in memory, safe for concurrent use.
type MemoryReviewQueue struct {
	mu    sync.Mutex
	next  uint64
	items map[string]*ReviewItem
	order []string
	now   func() time.Time
}

// NewMemoryReviewQueue returns an empty queue.
func NewMemoryReviewQueue() *MemoryReviewQueue {
	return &MemoryReviewQueue{items: map[string]*ReviewItem{}, now: time.Now}
}

func (q *MemoryReviewQueue) Add(ctx context.Context, items ...ReviewItem) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ids := make([]string, len(items))
	for k, it := range items {
		q.next++
		it.ID = fmt.Sprintf("rv%012d", q.next) // fixed width: id order is insertion order
		it.Status = ReviewPending
		it.Created = q.now().UTC()
		it.Decided, it.DecidedBy, it.Note = time.Time{}, "", ""
		q.items[it.ID] = &it
		q.order = append(q.order, it.ID)
		ids[k] = it.ID
	}
	return ids, nil
}

func (q *MemoryReviewQueue) Get(ctx context.Context, id string) (ReviewItem, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return ReviewItem{}, ErrReviewNotFound
	}
	return *it, nil
}

func (q *MemoryReviewQueue) List(ctx context.Context, status ReviewStatus, after string, limit int) ([]ReviewItem, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	start := 0
	if after != "" {
		start, _ = slices.BinarySearch(q.order, after)
		if start < len(q.order) && q.order[start] == after {
			start++
		}
	}
	var out []ReviewItem
	for _, id := range q.order[start:] {
		if limit > 0 && len(out) >= limit {
			break
		}
		if it := q.items[id]; status == "" || it.Status == status {
			out = append(out, *it)
		}
	}
	return out, nil
}

func (q *MemoryReviewQueue) Decide(ctx context.Context, id string, accept bool, by, note string) (ReviewItem, error) {
	if err := ctx.Err(); err != nil {
		return ReviewItem{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	it, ok := q.items[id]
	if !ok {
		return ReviewItem{}, ErrReviewNotFound
	}
	if it.Status != ReviewPending {
		return *it, ErrReviewDecided
	}
	it.Status = ReviewRejected
	if accept {
		it.Status = ReviewAccepted
	}
	it.Decided, it.DecidedBy, it.Note = q.now().UTC(), by, note
	return *it, nil
}
