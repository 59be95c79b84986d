package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.ReviewStore = (*Store)(nil)

const reviewColumns = `seq, source, record_id, personal_id, score, probability, explanation, reason, status, created, decided, decided_by, note`

func scanReview(r pgx.Row) (store.ReviewItem, error) {
	var it store.ReviewItem
	var decided *time.Time
	if err := r.Scan(&it.Seq, &it.Source, &it.RecordID, &it.PersonalID, &it.Score, &it.Probability, &it.Explanation,
		&it.Reason, &it.Status, &it.Created, &decided, &it.DecidedBy, &it.Note); err != nil {
		return it, err
	}
	it.Created = it.Created.UTC()
	if decided != nil {
		it.Decided = decided.UTC()
	}
	return it, nil
}

// AddReviews implements store.ReviewStore.
func (s *Store) AddReviews(ctx context.Context, items []store.ReviewItem, created time.Time) ([]int64, error) {
	seqs := make([]int64, len(items))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for i, it := range items {
			err := tx.QueryRow(ctx, `INSERT INTO review_queue (source, record_id, personal_id, score, probability, explanation, reason, status, created)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8)
				ON CONFLICT (source, record_id) WHERE record_id <> '' DO NOTHING RETURNING seq`,
				it.Source, it.RecordID, it.PersonalID, it.Score, it.Probability, it.Explanation, it.Reason, created.UTC()).Scan(&seqs[i])
			if errors.Is(err, pgx.ErrNoRows) { // queued before
				err = tx.QueryRow(ctx, `SELECT seq FROM review_queue WHERE source = $1 AND record_id = $2 AND record_id <> ''`, it.Source, it.RecordID).Scan(&seqs[i])
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: add %d review items (nothing was queued; retry): %w", len(items), err)
	}
	return seqs, nil
}

// GetReview implements store.ReviewStore.
func (s *Store) GetReview(ctx context.Context, seq int64) (store.ReviewItem, error) {
	it, err := scanReview(s.pool.QueryRow(ctx, `SELECT `+reviewColumns+` FROM review_queue WHERE seq = $1`, seq))
	if errors.Is(err, pgx.ErrNoRows) {
		return it, store.ErrNotFound
	}
	if err != nil {
		return it, fmt.Errorf("pgstore: get review item %d: %w", seq, err)
	}
	return it, nil
}

// ListReviews implements store.ReviewStore.
func (s *Store) ListReviews(ctx context.Context, status string, afterSeq int64, limit int) ([]store.ReviewItem, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+reviewColumns+` FROM review_queue
		WHERE seq > $1 AND ($2 = '' OR status = $2) ORDER BY seq LIMIT $3`, afterSeq, status, store.ReviewListLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("pgstore: list review items: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ReviewItem, error) { return scanReview(r) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: list review items: %w", err)
	}
	if out == nil {
		out = []store.ReviewItem{}
	}
	return out, nil
}

// DecideReview implements store.ReviewStore.
func (s *Store) DecideReview(ctx context.Context, seq int64, status, by, note string, at time.Time) (store.ReviewItem, error) {
	if status != store.ReviewAccepted && status != store.ReviewRejected {
		return store.ReviewItem{}, fmt.Errorf("pgstore: decide review item %d: status %q is not %s or %s", seq, status, store.ReviewAccepted, store.ReviewRejected)
	}
	it, err := scanReview(s.pool.QueryRow(ctx, `UPDATE review_queue SET status = $2, decided = $3, decided_by = $4, note = $5
		WHERE seq = $1 AND status = 'pending' RETURNING `+reviewColumns, seq, status, at.UTC(), by, note))
	if err == nil {
		return it, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return it, fmt.Errorf("pgstore: decide review item %d (not decided; retry): %w", seq, err)
	}
	// Nothing pending under seq: unknown, or decided before.
	it, err = s.GetReview(ctx, seq)
	if err != nil {
		return it, err
	}
	return it, fmt.Errorf("pgstore: review item %d was already %s: %w", seq, it.Status, store.ErrConflict)
}
