package store

import (
	"context"
	"time"
)

// StateRow is the latest row of one entity of a dataset, kept from the
// canonical topic so agencies can look it up under an agreement.
type StateRow struct {
	Dataset    string
	Key        string // the dataset's entity key, as the Kafka message key
	CitizenKey string // keyed HMAC of the row's personal number, "" if none
	Row        []byte // JSON of the row
	EventID    string // ce_id of the change that produced it
	Updated    time.Time
	// Version orders the changes of one entity (the canonical message's
	// offset): a row is written only over an older version, so a batch
	// delivered again after a pause or a takeover never reverts it.
	Version int64
}

// StateKey names a row to delete, at the version of its delete.
type StateKey struct {
	Dataset, Key string
	EventID      string
	Updated      time.Time
	Version      int64
}

// StateStore holds the latest row per entity.
type StateStore interface {
	// ApplyState upserts rows and removes deleted keys in one transaction;
	// each applies only if its version is not older than the stored one (a
	// deleted key keeps a tombstone with its version).
	ApplyState(ctx context.Context, rows []StateRow, deletes []StateKey) error
	// StateByCitizen returns a citizen's rows of a dataset, newest first.
	StateByCitizen(ctx context.Context, dataset, citizenKey string, limit int) ([]StateRow, error)
}

// APIToken is an agency's credential for the REST API. Only a hash of the
// secret is stored.
type APIToken struct {
	ID        string
	Agency    string
	Hash      []byte // SHA-256 of the secret
	Created   time.Time
	RevokedAt time.Time // zero while valid
}

// TokenStore keeps API tokens.
type TokenStore interface {
	PutToken(ctx context.Context, t APIToken) error
	// TokenByHash returns ErrNotFound for an unknown secret.
	TokenByHash(ctx context.Context, hash []byte) (APIToken, error)
	// RevokeToken marks a token revoked; ErrNotFound if unknown.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	ListTokens(ctx context.Context, agency string) ([]APIToken, error)
}

// IdempotencyStore remembers the answer to an HTTP push by (source, key), so
// a retried request with the same Idempotency-Key is answered without
// ingesting again.
type IdempotencyStore interface {
	// GetIdempotent returns ErrNotFound when the key was not used.
	GetIdempotent(ctx context.Context, source, key string) (status int, body []byte, err error)
	// PutIdempotent stores the answer; a key already stored keeps its first answer.
	PutIdempotent(ctx context.Context, source, key string, status int, body []byte) error
}
