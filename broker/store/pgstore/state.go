package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/store"
)

var (
	_ store.StateStore = (*Store)(nil)
	_ store.TokenStore = (*Store)(nil)
)

// ApplyState implements store.StateStore.
func (s *Store) ApplyState(ctx context.Context, rows []store.StateRow, deletes []store.StateKey) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, r := range rows {
			b.Queue(`INSERT INTO dataset_state (dataset, entity_key, citizen_key, row_json, event_id, updated) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (dataset, entity_key) DO UPDATE SET citizen_key = excluded.citizen_key, row_json = excluded.row_json, event_id = excluded.event_id, updated = excluded.updated`,
				r.Dataset, r.Key, r.CitizenKey, r.Row, r.EventID, r.Updated.UTC())
		}
		for _, d := range deletes {
			b.Queue(`DELETE FROM dataset_state WHERE dataset = $1 AND entity_key = $2`, d.Dataset, d.Key)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("pgstore: apply state (retry): %w", err)
	}
	return nil
}

// StateByCitizen implements store.StateStore.
func (s *Store) StateByCitizen(ctx context.Context, dataset, citizenKey string, limit int) ([]store.StateRow, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT dataset, entity_key, citizen_key, row_json, event_id, updated FROM dataset_state
		WHERE dataset = $1 AND citizen_key = $2 AND citizen_key <> '' ORDER BY updated DESC LIMIT $3`, dataset, citizenKey, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: state by citizen: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.StateRow, error) {
		var sr store.StateRow
		err := r.Scan(&sr.Dataset, &sr.Key, &sr.CitizenKey, &sr.Row, &sr.EventID, &sr.Updated)
		sr.Updated = sr.Updated.UTC()
		return sr, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: state by citizen: %w", err)
	}
	if out == nil {
		out = []store.StateRow{}
	}
	return out, nil
}

// PutToken implements store.TokenStore.
func (s *Store) PutToken(ctx context.Context, t store.APIToken) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (id, agency, hash, created) VALUES ($1, $2, $3, $4)`, t.ID, t.Agency, t.Hash, t.Created.UTC()); err != nil {
		return fmt.Errorf("pgstore: put token: %w", err)
	}
	return nil
}

func scanToken(r pgx.Row) (store.APIToken, error) {
	var t store.APIToken
	var revoked *time.Time
	if err := r.Scan(&t.ID, &t.Agency, &t.Hash, &t.Created, &revoked); err != nil {
		return t, err
	}
	t.Created = t.Created.UTC()
	if revoked != nil {
		t.RevokedAt = revoked.UTC()
	}
	return t, nil
}

// TokenByHash implements store.TokenStore.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (store.APIToken, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT id, agency, hash, created, revoked FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return t, store.ErrNotFound
	}
	return t, err
}

// RevokeToken implements store.TokenStore.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked = COALESCE(revoked, $2) WHERE id = $1`, id, at.UTC())
	if err != nil {
		return fmt.Errorf("pgstore: revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// ListTokens implements store.TokenStore.
func (s *Store) ListTokens(ctx context.Context, agency string) ([]store.APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, agency, hash, created, revoked FROM api_tokens WHERE agency = $1 OR $1 = '' ORDER BY created`, agency)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list tokens: %w", err)
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
	err := s.pool.QueryRow(ctx, `SELECT status, body FROM idempotency WHERE source = $1 AND key = $2`, source, key).Scan(&status, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, store.ErrNotFound
	}
	return status, body, err
}

// PutIdempotent implements store.IdempotencyStore.
func (s *Store) PutIdempotent(ctx context.Context, source, key string, status int, body []byte) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO idempotency (source, key, status, body) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, source, key, status, body); err != nil {
		return fmt.Errorf("pgstore: put idempotency key: %w", err)
	}
	return nil
}
