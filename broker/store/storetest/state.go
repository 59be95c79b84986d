package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// RunStateAndTokens checks store.StateStore and store.TokenStore.
func RunStateAndTokens(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	st := open(t)
	ss, ok1 := st.(store.StateStore)
	ts, ok2 := st.(store.TokenStore)
	if !ok1 || !ok2 {
		t.Fatalf("%T does not implement StateStore and TokenStore", st)
	}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 123000, time.UTC)
	rows := []store.StateRow{
		{Dataset: "tax.taxpayer", Key: "1", CitizenKey: "c1", Row: []byte(`{"v":1}`), EventID: "e1", Updated: t0},
		{Dataset: "tax.taxpayer", Key: "2", CitizenKey: "c1", Row: []byte(`{"v":2}`), EventID: "e2", Updated: t0.Add(time.Hour)},
		{Dataset: "land.land_use_right", Key: "1", CitizenKey: "c1", Row: []byte(`{"v":3}`), EventID: "e3", Updated: t0},
	}
	if err := ss.ApplyState(ctx, rows, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ss.StateByCitizen(ctx, "tax.taxpayer", "c1", 10)
	if err != nil || len(got) != 2 || got[0].Key != "2" || string(got[1].Row) != `{"v":1}` || !got[1].Updated.Equal(t0) || got[0].EventID != "e2" {
		t.Fatalf("by citizen: %+v %v", got, err)
	}
	// An update replaces the row; a delete removes it; the other dataset is untouched.
	upd := rows[0]
	upd.Row, upd.Updated = []byte(`{"v":9}`), t0.Add(2*time.Hour)
	if err := ss.ApplyState(ctx, []store.StateRow{upd}, []store.StateKey{{Dataset: "tax.taxpayer", Key: "2"}}); err != nil {
		t.Fatal(err)
	}
	got, _ = ss.StateByCitizen(ctx, "tax.taxpayer", "c1", 10)
	if len(got) != 1 || string(got[0].Row) != `{"v":9}` {
		t.Fatalf("after update and delete: %+v", got)
	}
	if got, _ := ss.StateByCitizen(ctx, "land.land_use_right", "c1", 10); len(got) != 1 {
		t.Fatalf("other dataset: %+v", got)
	}
	if got, _ := ss.StateByCitizen(ctx, "tax.taxpayer", "", 10); len(got) != 0 {
		t.Fatal("an empty citizen key must match nothing")
	}

	tok := store.APIToken{ID: "tok-1", Agency: "vss", Hash: []byte("h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1h1"), Created: t0}
	if err := ts.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := ts.PutToken(ctx, store.APIToken{ID: "tok-2", Agency: "gdt", Hash: tok.Hash, Created: t0}); err == nil {
		t.Fatal("two tokens with one hash")
	}
	got1, err := ts.TokenByHash(ctx, tok.Hash)
	if err != nil || got1.Agency != "vss" || !got1.RevokedAt.IsZero() || !got1.Created.Equal(t0) {
		t.Fatalf("by hash: %+v %v", got1, err)
	}
	if _, err := ts.TokenByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}
	if err := ts.RevokeToken(ctx, "tok-1", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got1, _ := ts.TokenByHash(ctx, tok.Hash); got1.RevokedAt.IsZero() {
		t.Fatal("revocation not kept")
	}
	if err := ts.RevokeToken(ctx, "tok-x", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	if l, err := ts.ListTokens(ctx, "vss"); err != nil || len(l) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}

	is, ok := st.(store.IdempotencyStore)
	if !ok {
		t.Fatalf("%T does not implement IdempotencyStore", st)
	}
	if _, _, err := is.GetIdempotent(ctx, "land", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unused key: %v", err)
	}
	if err := is.PutIdempotent(ctx, "land", "k1", 200, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := is.PutIdempotent(ctx, "land", "k1", 422, []byte(`{"b":2}`)); err != nil {
		t.Fatal(err)
	}
	if code, body, err := is.GetIdempotent(ctx, "land", "k1"); err != nil || code != 200 || string(body) != `{"a":1}` {
		t.Fatalf("first answer must stay: %d %s %v", code, body, err)
	}
	if _, _, err := is.GetIdempotent(ctx, "tax", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("keys are per source")
	}
}
