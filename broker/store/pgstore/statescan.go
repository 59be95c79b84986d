package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.StateScanner = (*Store)(nil)

// CountState implements store.StateScanner.
func (s *Store) CountState(ctx context.Context, dataset string) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM dataset_state WHERE dataset = $1`, dataset).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count state of %s: %w", dataset, err)
	}
	return n, nil
}

// ScanState implements store.StateScanner, scanPage rows per query.
func (s *Store) ScanState(ctx context.Context, dataset string, fn func(store.StateRow) error) error {
	pageErr, fnErr := store.ScanStatePages(scanPage, func(first bool, after string) ([]store.StateRow, error) {
		// two statements rather than "($2 OR entity_key > $3)", which a
		// generic plan cannot turn into a seek on the primary key
		q, args := `SELECT dataset, entity_key, citizen_key, row_json, event_id, updated FROM dataset_state
			WHERE dataset = $1 ORDER BY entity_key LIMIT $2`, []any{dataset, scanPage}
		if !first {
			q, args = `SELECT dataset, entity_key, citizen_key, row_json, event_id, updated FROM dataset_state
			WHERE dataset = $1 AND entity_key > $3 ORDER BY entity_key LIMIT $2`, []any{dataset, scanPage, after}
		}
		rows, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StateRow, error) {
			var sr store.StateRow
			err := r.Scan(&sr.Dataset, &sr.Key, &sr.CitizenKey, &sr.Row, &sr.EventID, &sr.Updated)
			sr.Updated = sr.Updated.UTC()
			return sr, err
		})
	}, fn)
	if pageErr != nil {
		return fmt.Errorf("pgstore: scan state of %s: %w", dataset, pageErr)
	}
	return fnErr // the caller's own error, unwrapped
}
