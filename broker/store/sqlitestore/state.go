package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var (
	_ store.StateStore = (*Store)(nil)
	_ store.TokenStore = (*Store)(nil)
)

// ApplyState implements store.StateStore.
func (s *Store) ApplyState(ctx context.Context, rows []store.StateRow, deletes []store.StateKey) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO dataset_state (dataset, entity_key, citizen_key, row_json, event_id, updated_us) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (dataset, entity_key) DO UPDATE SET citizen_key = excluded.citizen_key, row_json = excluded.row_json, event_id = excluded.event_id, updated_us = excluded.updated_us`,
				r.Dataset, r.Key, r.CitizenKey, r.Row, r.EventID, r.Updated.UnixMicro()); err != nil {
				return err
			}
		}
		for _, d := range deletes {
			if _, err := tx.ExecContext(ctx, `DELETE FROM dataset_state WHERE dataset = ? AND entity_key = ?`, d.Dataset, d.Key); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: apply state (retry): %w", err)
	}
	return nil
}

// StateByCitizen implements store.StateStore.
func (s *Store) StateByCitizen(ctx context.Context, dataset, citizenKey string, limit int) ([]store.StateRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.r.QueryContext(ctx, `SELECT dataset, entity_key, citizen_key, row_json, event_id, updated_us FROM dataset_state
		WHERE dataset = ? AND citizen_key = ? AND citizen_key <> '' ORDER BY updated_us DESC LIMIT ?`, dataset, citizenKey, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: state by citizen: %w", err)
	}
	out, err := scanStateRows(rows)
	if out == nil && err == nil {
		out = []store.StateRow{}
	}
	return out, err
}

// scanStateRows reads rows of (dataset, entity_key, citizen_key, row_json,
// event_id, updated_us) and closes them.
func scanStateRows(rows *sql.Rows) ([]store.StateRow, error) {
	defer rows.Close()
	var out []store.StateRow
	for rows.Next() {
		var r store.StateRow
		var us int64
		if err := rows.Scan(&r.Dataset, &r.Key, &r.CitizenKey, &r.Row, &r.EventID, &us); err != nil {
			return nil, err
		}
		r.Updated = time.UnixMicro(us).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// PutToken implements store.TokenStore.
func (s *Store) PutToken(ctx context.Context, t store.APIToken) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO api_tokens (id, agency, hash, created_us) VALUES (?, ?, ?, ?)`, t.ID, t.Agency, t.Hash, t.Created.UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlitestore: put token: %w", err)
	}
	return nil
}

func scanToken(sc interface{ Scan(...any) error }) (store.APIToken, error) {
	var t store.APIToken
	var created, revoked int64
	if err := sc.Scan(&t.ID, &t.Agency, &t.Hash, &created, &revoked); err != nil {
		return t, err
	}
	t.Created = time.UnixMicro(created).UTC()
	if revoked != 0 {
		t.RevokedAt = time.UnixMicro(revoked).UTC()
	}
	return t, nil
}

// TokenByHash implements store.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT id, agency, hash, created_us, revoked_us FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, store.ErrNotFound
	}
	return t, err
}

// RevokeToken implements store.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_us = ? WHERE id = ? AND revoked_us = 0`, at.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("sqlitestore: revoke token: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists int
		if err := s.r.QueryRowContext(ctx, `SELECT 1 FROM api_tokens WHERE id = ?`, id).Scan(&exists); errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
	}
	return nil
}

// ListTokens implements store.TokenStore.
func (s *Store) ListTokens(ctx context.Context, agency string) ([]store.APIToken, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, agency, hash, created_us, revoked_us FROM api_tokens WHERE agency = ? OR ? = '' ORDER BY created_us`, agency, agency)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list tokens: %w", err)
	}
	defer rows.Close()
	out := []store.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

var _ store.IdempotencyStore = (*Store)(nil)

// GetIdempotent implements store.IdempotencyStore.
func (s *Store) GetIdempotent(ctx context.Context, source, key string) (int, []byte, error) {
	var status int
	var body []byte
	err := s.r.QueryRowContext(ctx, `SELECT status, body FROM idempotency WHERE source = ? AND key = ?`, source, key).Scan(&status, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, store.ErrNotFound
	}
	return status, body, err
}

// PutIdempotent implements store.IdempotencyStore.
func (s *Store) PutIdempotent(ctx context.Context, source, key string, status int, body []byte) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO idempotency (source, key, status, body, created_us) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		source, key, status, body, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlitestore: put idempotency key: %w", err)
	}
	return nil
}
