// Package credentials owns the agencies' API tokens: issued by the bus,
// shown once, stored only as a SHA-256 hash, rotated by issuing a new one
// and revoking the old, and checked on every authenticated API call.
package credentials

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Prefix marks a bus token so secret scanners and people recognise one.
const Prefix = "lgsp_"

// ErrInvalid is a token that is unknown, malformed or revoked.
var ErrInvalid = errors.New("credentials: token not valid (unknown or revoked); ask the bus operator for a new one")

// Tokens issues and checks tokens.
type Tokens struct{ st store.TokenStore }

// New returns the token service over a store.
func New(st store.TokenStore) *Tokens { return &Tokens{st: st} }

// Hash is how a secret is stored.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Issue creates a token for agency and returns its id and the secret, which
// is never stored and cannot be shown again.
func (t *Tokens) Issue(ctx context.Context, agency string) (id, secret string, err error) {
	var raw [32]byte
	var idb [6]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", err
	}
	id = "tok_" + hex.EncodeToString(idb[:])
	secret = Prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	if err := t.st.PutToken(ctx, store.APIToken{ID: id, Agency: agency, Hash: Hash(secret), Created: time.Now().UTC()}); err != nil {
		return "", "", fmt.Errorf("credentials: issue token for %s: %w", agency, err)
	}
	return id, secret, nil
}

// Verify returns the agency a secret belongs to.
func (t *Tokens) Verify(ctx context.Context, secret string) (agency, id string, err error) {
	if !strings.HasPrefix(secret, Prefix) || len(secret) < len(Prefix)+40 {
		return "", "", ErrInvalid
	}
	tok, err := t.st.TokenByHash(ctx, Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", ErrInvalid
	}
	if err != nil {
		return "", "", fmt.Errorf("credentials: check token (retry): %w", err)
	}
	if !tok.RevokedAt.IsZero() {
		return "", "", ErrInvalid
	}
	return tok.Agency, tok.ID, nil
}

// Revoke ends a token now.
func (t *Tokens) Revoke(ctx context.Context, id string) error {
	if err := t.st.RevokeToken(ctx, id, time.Now().UTC()); err != nil {
		return fmt.Errorf("credentials: revoke %s: %w", id, err)
	}
	return nil
}

// List returns an agency's tokens ("" for all), without secrets.
func (t *Tokens) List(ctx context.Context, agency string) ([]store.APIToken, error) {
	return t.st.ListTokens(ctx, agency)
}
