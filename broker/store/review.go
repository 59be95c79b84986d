package store

import (
	"context"
	"time"
)

// Review statuses.
const (
	ReviewPending  = "pending"
	ReviewAccepted = "accepted"
	ReviewRejected = "rejected"
)

// ReviewItem is a candidate link between a record without a usable
// personal number and a citizen, waiting for (or decided by) a clerk.
type ReviewItem struct {
	Seq         int64  // increasing in insertion order (maybe with gaps), set by AddReviews
	Source      string // which file, dataset or ministry
	RecordID    string // the record within its source; with Source, unique when not ""
	PersonalID  string // the candidate citizen's 12-digit number
	Score       float64
	Probability float64
	Explanation []byte // JSON, as the linkage explains the score; nil when none
	Reason      string
	Status      string    // ReviewPending, ReviewAccepted or ReviewRejected
	Created     time.Time // UTC, microsecond precision is kept
	Decided     time.Time // zero while pending
	DecidedBy   string
	Note        string
}

// ReviewStore keeps the review queue of the probabilistic linkage; both
// backends implement it.
type ReviewStore interface {
	// AddReviews stores items as pending at time created and returns their
	// Seq, in order. An item whose (Source, RecordID) is already stored,
	// with a RecordID that is not "", is not stored again: its Seq is the
	// stored item's, whatever that item's status, so a record re-read after
	// a crash is not queued twice. All items are stored or none.
	AddReviews(ctx context.Context, items []ReviewItem, created time.Time) ([]int64, error)
	// GetReview returns ErrNotFound for an unknown seq.
	GetReview(ctx context.Context, seq int64) (ReviewItem, error)
	// ListReviews returns up to limit items (limit ≤ 0 or over 1000 means
	// 1000) with the status ("" = any) and a Seq above afterSeq, in Seq
	// order. Seq never changes, so the cursor is stable while items are
	// added and decided.
	ListReviews(ctx context.Context, status string, afterSeq int64, limit int) ([]ReviewItem, error)
	// DecideReview sets a pending item's status to ReviewAccepted or
	// ReviewRejected, once, and returns the item as stored. ErrNotFound for
	// an unknown seq; ErrConflict, with the item as stored, when it was
	// decided already.
	DecideReview(ctx context.Context, seq int64, status, by, note string, at time.Time) (ReviewItem, error)
}

// ReviewListLimit is the effective page size of a ListReviews limit.
func ReviewListLimit(limit int) int {
	if limit <= 0 || limit > 1000 {
		return 1000
	}
	return limit
}
