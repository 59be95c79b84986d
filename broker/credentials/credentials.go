// Package credentials owns the agencies' API tokens: issued by the bus,
// shown once, stored only as a SHA-256 hash, rotated by issuing a new one
// and revoking the old, and checked on every authenticated API call.
//
// A token found valid is remembered for CacheFor (by its hash, never the
// secret), so an agency sending thousands of lookups a second costs one
// store read per second instead of one per call. A revocation through any
// Tokens of this process ends the remembered ones at once; one made by
// another bus instance sharing the store is in force here within CacheFor
// (the design allows 5 s).
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
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Prefix marks a bus token so secret scanners and people recognise one.
const Prefix = "lgsp_"

// ErrInvalid is a token that is unknown, malformed or revoked.
var ErrInvalid = errors.New("credentials: token not valid (unknown or revoked); ask the bus operator for a new one")

// Tokens issues and checks tokens.
type Tokens struct {
	st store.TokenStore

	now   func() time.Time // the clock (tests move it)
	mu    sync.Mutex
	valid map[[sha256.Size]byte]verified // tokens found valid, by hash
}

// verified is a token found valid in the store at a time.
type verified struct {
	agency, id string
	until      time.Time // remembered until then
	epoch      uint64    // revocations when it was read
	refreshing bool      // a caller is reading it again
}

// CacheFor is how long a token found valid is taken as valid without
// asking the store again; a revocation by another bus instance is in
// force here within this time.
const CacheFor = time.Second

// maxCached bounds the remembered tokens (a few per agency are live);
// past it the cache starts over.
const maxCached = 10_000

// revocations counts the Revoke calls of this process: a token
// remembered before the latest one is read from the store again, so a
// revocation through one Tokens (the API's) is in force at once for every
// other (the schema registry's, the console's).
var revocations atomic.Uint64

// New returns the token service over a store.
func New(st store.TokenStore) *Tokens {
	return &Tokens{st: st, now: time.Now, valid: map[[sha256.Size]byte]verified{}}
}

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
	h := sha256.Sum256([]byte(secret))
	epoch := revocations.Load()
	now := t.now()
	t.mu.Lock()
	v, ok := t.valid[h]
	fresh := ok && v.epoch == epoch && now.Before(v.until)
	// In the last quarter of its time one caller reads the token again
	// while the others still take what is remembered, so a busy token
	// never expires under a crowd of callers that would all read it.
	if fresh && (v.refreshing || now.Before(v.until.Add(-CacheFor/4))) {
		t.mu.Unlock()
		return v.agency, v.id, nil
	}
	if fresh {
		v.refreshing = true
		t.valid[h] = v
	}
	t.mu.Unlock()
	// Only a valid token is remembered: an unknown one may be issued the
	// next moment (by another instance), and a refused one costs the
	// caller its own time.
	tok, err := t.st.TokenByHash(ctx, h[:])
	if err == nil && !tok.RevokedAt.IsZero() {
		err = ErrInvalid
	}
	if err != nil {
		t.mu.Lock()
		if cur, ok := t.valid[h]; ok && cur.refreshing {
			delete(t.valid, h) // refused, or unknown until the store answers
		}
		t.mu.Unlock()
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrInvalid) {
		return "", "", ErrInvalid
	}
	if err != nil {
		return "", "", fmt.Errorf("credentials: check token (retry): %w", err)
	}
	t.mu.Lock()
	if len(t.valid) >= maxCached {
		clear(t.valid)
	}
	// epoch is from before the store read: a Revoke that committed after
	// the read and before this line has moved revocations on, so this
	// entry is never used.
	t.valid[h] = verified{agency: tok.Agency, id: tok.ID, until: now.Add(CacheFor), epoch: epoch}
	t.mu.Unlock()
	return tok.Agency, tok.ID, nil
}

// Revoke ends a token now, for every check of this process.
func (t *Tokens) Revoke(ctx context.Context, id string) error {
	// After the store's write, also when it failed (it may have committed):
	// a check that read the token before it must not be remembered.
	defer revocations.Add(1)
	if err := t.st.RevokeToken(ctx, id, time.Now().UTC()); err != nil {
		return fmt.Errorf("credentials: revoke %s: %w", id, err)
	}
	return nil
}

// List returns an agency's tokens ("" for all), without secrets.
func (t *Tokens) List(ctx context.Context, agency string) ([]store.APIToken, error) {
	return t.st.ListTokens(ctx, agency)
}
