package credentials_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

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
