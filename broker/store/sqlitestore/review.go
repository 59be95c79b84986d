package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.ReviewStore = (*Store)(nil)

const reviewColumns = `seq, source, record_id, personal_id, score, probability, explanation, reason, status, created_us, decided_us, decided_by, note`

func scanReview(sc interface{ Scan(...any) error }) (store.ReviewItem, error) {
	var it store.ReviewItem
	var created, decided int64
	if err := sc.Scan(&it.Seq, &it.Source, &it.RecordID, &it.PersonalID, &it.Score, &it.Probability, &it.Explanation,
		&it.Reason, &it.Status, &created, &decided, &it.DecidedBy, &it.Note); err != nil {
		return it, err
	}
	it.Created = time.UnixMicro(created).UTC()
	if decided != 0 {
		it.Decided = time.UnixMicro(decided).UTC()
	}
	return it, nil
}

// AddReviews implements store.ReviewStore.
func (s *Store) AddReviews(ctx context.Context, items []store.ReviewItem, created time.Time) ([]int64, error) {
	seqs := make([]int64, len(items))
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		for i, it := range items {
			err := tx.QueryRowContext(ctx, `INSERT INTO review_queue (source, record_id, personal_id, score, probability, explanation, reason, status, created_us)
				VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)
				ON CONFLICT (source, record_id) WHERE record_id <> '' DO NOTHING RETURNING seq`,
				it.Source, it.RecordID, it.PersonalID, it.Score, it.Probability, it.Explanation, it.Reason, created.UnixMicro()).Scan(&seqs[i])
			if errors.Is(err, sql.ErrNoRows) { // queued before
				err = tx.QueryRowContext(ctx, `SELECT seq FROM review_queue WHERE source = ? AND record_id = ? AND record_id <> ''`, it.Source, it.RecordID).Scan(&seqs[i])
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: add %d review items (nothing was queued; retry): %w", len(items), err)
	}
	return seqs, nil
}

// GetReview implements store.ReviewStore.
func (s *Store) GetReview(ctx context.Context, seq int64) (store.ReviewItem, error) {
	return getReview(ctx, s.r, seq)
}

func getReview(ctx context.Context, q queryer, seq int64) (store.ReviewItem, error) {
	it, err := scanReview(q.QueryRowContext(ctx, `SELECT `+reviewColumns+` FROM review_queue WHERE seq = ?`, seq))
	if errors.Is(err, sql.ErrNoRows) {
		return it, store.ErrNotFound
	}
	if err != nil {
		return it, fmt.Errorf("sqlitestore: get review item %d: %w", seq, err)
	}
	return it, nil
}

// ListReviews implements store.ReviewStore.
func (s *Store) ListReviews(ctx context.Context, status string, afterSeq int64, limit int) ([]store.ReviewItem, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+reviewColumns+` FROM review_queue
		WHERE seq > ? AND (? = '' OR status = ?) ORDER BY seq LIMIT ?`, afterSeq, status, status, store.ReviewListLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list review items: %w", err)
	}
	defer rows.Close()
	out := []store.ReviewItem{}
	for rows.Next() {
		it, err := scanReview(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list review items: %w", err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// DecideReview implements store.ReviewStore.
func (s *Store) DecideReview(ctx context.Context, seq int64, status, by, note string, at time.Time) (store.ReviewItem, error) {
	if status != store.ReviewAccepted && status != store.ReviewRejected {
		return store.ReviewItem{}, fmt.Errorf("sqlitestore: decide review item %d: status %q is not %s or %s", seq, status, store.ReviewAccepted, store.ReviewRejected)
	}
	var it store.ReviewItem
	var decided bool
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE review_queue SET status = ?, decided_us = ?, decided_by = ?, note = ? WHERE seq = ? AND status = 'pending'`,
			status, at.UnixMicro(), by, note, seq)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		decided = n == 1
		it, err = getReview(ctx, tx, seq)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return it, store.ErrNotFound
	case err != nil:
		return it, fmt.Errorf("sqlitestore: decide review item %d (not decided; retry): %w", seq, err)
	case !decided:
		return it, fmt.Errorf("sqlitestore: review item %d was already %s: %w", seq, it.Status, store.ErrConflict)
	}
	return it, nil
}
