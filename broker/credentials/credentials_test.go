package credentials_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

func TestIssueVerifyRotateRevoke(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tk := credentials.New(st)
	id, secret, err := tk.Issue(ctx, "vss")
	if err != nil || !strings.HasPrefix(secret, credentials.Prefix) {
		t.Fatal(id, secret, err)
	}
	if ag, gotID, err := tk.Verify(ctx, secret); err != nil || ag != "vss" || gotID != id {
		t.Fatal(ag, gotID, err)
	}
	// The store never holds the secret.
	toks, _ := st.ListTokens(ctx, "vss")
	if len(toks) != 1 || strings.Contains(string(toks[0].Hash), secret) {
		t.Fatal("secret stored")
	}
	// Rotation: a new token works alongside until the old is revoked.
	_, secret2, _ := tk.Issue(ctx, "vss")
	if err := tk.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tk.Verify(ctx, secret); !errors.Is(err, credentials.ErrInvalid) {
		t.Fatalf("revoked token accepted: %v", err)
	}
	if ag, _, err := tk.Verify(ctx, secret2); err != nil || ag != "vss" {
		t.Fatal("rotated token refused")
	}
	for _, bad := range []string{"", "lgsp_short", "Bearer x", secret + "x"} {
		if _, _, err := tk.Verify(ctx, bad); !errors.Is(err, credentials.ErrInvalid) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := tk.Revoke(ctx, "tok_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
}

// countingStore is the real store, counting the token reads.
type countingStore struct {
	store.TokenStore
	reads atomic.Int64
	gate  chan struct{} // when set, a read waits for it to close
}

func (c *countingStore) TokenByHash(ctx context.Context, h []byte) (store.APIToken, error) {
	c.reads.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.TokenStore.TokenByHash(ctx, h)
}

// A valid token is read from the store once per CacheFor; a revocation
// through any Tokens of the process ends it at once; one written to the
// store by another instance, within CacheFor.
func TestVerifyCache(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs := &countingStore{TokenStore: st}
	api, registry := credentials.New(cs), credentials.New(cs)
	now := time.Now()
	credentials.SetClock(api, func() time.Time { return now })
	credentials.SetClock(registry, func() time.Time { return now })
	id, secret, err := api.Issue(ctx, "vss")
	if err != nil {
		t.Fatal(err)
	}
	verify := func(tk *credentials.Tokens, want error) {
		t.Helper()
		ag, gotID, err := tk.Verify(ctx, secret)
		if want == nil && (err != nil || ag != "vss" || gotID != id) {
			t.Fatalf("valid token: %q %q %v", ag, gotID, err)
		}
		if want != nil && !errors.Is(err, want) {
			t.Fatalf("got %q %v, want %v", ag, err, want)
		}
	}
	for range 100 {
		verify(api, nil)
	}
	if n := cs.reads.Load(); n != 1 {
		t.Fatalf("100 checks within CacheFor read the store %d times, want 1", n)
	}
	now = now.Add(credentials.CacheFor)
	verify(api, nil)
	if n := cs.reads.Load(); n != 2 {
		t.Fatalf("a check after CacheFor read the store %d times in all, want 2", n)
	}

	// In the last quarter of CacheFor one check reads the token again; the
	// others meanwhile take what is remembered, without reading.
	now = now.Add(credentials.CacheFor * 8 / 10)
	cs.gate = make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if ag, _, err := api.Verify(ctx, secret); err != nil || ag != "vss" {
			t.Errorf("the check that re-read the token: %q %v", ag, err)
		}
	}()
	for cs.reads.Load() != 3 {
		runtime.Gosched()
	}
	for range 50 {
		verify(api, nil)
	}
	if n := cs.reads.Load(); n != 3 {
		t.Fatalf("50 checks while one re-reads the token read the store %d times in all, want 3", n)
	}
	close(cs.gate)
	<-done
	cs.gate = nil
	now = now.Add(credentials.CacheFor / 2) // past the old time, within the renewed one
	verify(api, nil)
	if n := cs.reads.Load(); n != 3 {
		t.Fatalf("a check within the renewed time read the store: %d reads, want 3", n)
	}

	// Revoked by another instance (straight in the store): refused once
	// what this one remembers is CacheFor old, never later.
	verify(registry, nil)
	if err := st.RevokeToken(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(credentials.CacheFor)
	verify(api, credentials.ErrInvalid)
	verify(registry, credentials.ErrInvalid)

	// Revoked through one Tokens of this process: refused at once by every
	// other, though both remembered the token a moment before.
	id, secret, err = api.Issue(ctx, "vss")
	if err != nil {
		t.Fatal(err)
	}
	verify(api, nil)
	verify(registry, nil)
	if err := api.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
	verify(registry, credentials.ErrInvalid)
	verify(api, credentials.ErrInvalid)

	// A refusal is not remembered: nothing to check here but the reads.
	before := cs.reads.Load()
	for range 3 {
		verify(api, credentials.ErrInvalid)
	}
	if n := cs.reads.Load() - before; n != 3 {
		t.Fatalf("3 checks of a revoked token read the store %d times, want 3", n)
	}
}

// Checks racing a revocation: once Revoke has returned, no check that
// starts afterwards accepts the token, though the cache was full of it.
func TestVerifyCacheRevokeRace(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for round := range 20 {
		api, other := credentials.New(st), credentials.New(st)
		id, secret, err := api.Issue(ctx, "vss")
		if err != nil {
			t.Fatal(err)
		}
		var revoked atomic.Bool
		var wg sync.WaitGroup
		var bad atomic.Int64
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					after := revoked.Load() // read before the check starts
					_, _, err := other.Verify(ctx, secret)
					if after && err == nil {
						bad.Add(1)
					}
					if err != nil && !errors.Is(err, credentials.ErrInvalid) {
						t.Error(err)
						return
					}
				}
			}()
		}
		if err := api.Revoke(ctx, id); err != nil {
			t.Fatal(err)
		}
		revoked.Store(true)
		wg.Wait()
		if n := bad.Load(); n > 0 {
			t.Fatalf("round %d: %d checks started after Revoke returned accepted the token", round, n)
		}
	}
}
