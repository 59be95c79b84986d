package sqlitestore

import (
	"context"
	"fmt"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.StateScanner = (*Store)(nil)

// CountState implements store.StateScanner.
func (s *Store) CountState(ctx context.Context, dataset string) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM dataset_state WHERE dataset = ?`, dataset).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count state of %s: %w", dataset, err)
	}
	return n, nil
}

// ScanState implements store.StateScanner, scanPage rows per query.
func (s *Store) ScanState(ctx context.Context, dataset string, fn func(store.StateRow) error) error {
	pageErr, fnErr := store.ScanStatePages(scanPage, func(first bool, after string) ([]store.StateRow, error) {
		return s.statePage(ctx, dataset, first, after)
	}, fn)
	if pageErr != nil {
		return fmt.Errorf("sqlitestore: scan state of %s: %w", dataset, pageErr)
	}
	return fnErr // the caller's own error, unwrapped
}

func (s *Store) statePage(ctx context.Context, dataset string, first bool, after string) ([]store.StateRow, error) {
	// two statements rather than "(? OR entity_key > ?)", which the planner
	// cannot turn into a seek on the primary key
	q, args := `SELECT dataset, entity_key, citizen_key, row_json, event_id, updated_us FROM dataset_state
		WHERE dataset = ? ORDER BY entity_key LIMIT ?`, []any{dataset, scanPage}
	if !first {
		q, args = `SELECT dataset, entity_key, citizen_key, row_json, event_id, updated_us FROM dataset_state
		WHERE dataset = ? AND entity_key > ? ORDER BY entity_key LIMIT ?`, []any{dataset, after, scanPage}
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return scanStateRows(rows) // state.go
}
