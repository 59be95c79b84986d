package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlcore"
)

func openInternal(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func (c *stmtCache) prepared() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// A read's statement is prepared on its second use and then reused, and
// still sees every write committed since (a prepared statement holds no
// snapshot).
func TestReadStatementsPrepared(t *testing.T) {
	ctx := context.Background()
	s := openInternal(t)
	base := s.pstmts.prepared()
	hash := []byte("0123456789abcdef0123456789abcdef")
	if _, err := s.TokenByHash(ctx, hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before: %v", err)
	}
	if err := s.PutToken(ctx, store.APIToken{ID: "tok_1", Agency: "vss", Hash: hash, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tok, err := s.TokenByHash(ctx, hash)
		if err != nil || tok.ID != "tok_1" || !tok.RevokedAt.IsZero() {
			t.Fatalf("read %d: %+v %v", i, tok, err)
		}
	}
	if n := s.pstmts.prepared() - base; n != 1 {
		t.Fatalf("one statement read 4 times: %d prepared, want 1", n)
	}
	if err := s.RevokeToken(ctx, "tok_1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if tok, err := s.TokenByHash(ctx, hash); err != nil || tok.RevokedAt.IsZero() {
		t.Fatalf("after the revocation, the prepared read gave %+v %v", tok, err)
	}
}

// Past maxStmts texts, queries run unprepared and still answer; a text
// that does not compile fails the same way prepared or not.
func TestReadStatementsBounded(t *testing.T) {
	ctx := context.Background()
	s := openInternal(t)
	r := conn{q: s.r, stmts: s.stmts}
	for i := 0; s.stmts.prepared() < maxStmts; i++ {
		for range 2 {
			var v int
			if err := r.QueryRow(ctx, fmt.Sprintf("SELECT %d + ?", i), 1).Scan(&v); err != nil || v != i+1 {
				t.Fatalf("query %d: %d %v", i, v, err)
			}
		}
	}
	for range 3 {
		var v int
		if err := r.QueryRow(ctx, "SELECT 41 + ? + 0", 1).Scan(&v); err != nil || v != 42 {
			t.Fatalf("past the bound: %d %v", v, err)
		}
	}
	if _, ok := s.stmts.ready.Load("SELECT 41 + ? + 0"); ok || s.stmts.prepared() != maxStmts {
		t.Fatalf("prepared past the bound: %d", s.stmts.prepared())
	}
	s2 := openInternal(t)
	r2 := conn{q: s2.r, stmts: s2.stmts}
	var errs []string
	for range 3 {
		var v int
		err := r2.QueryRow(ctx, "SELECT nope FROM nowhere").Scan(&v)
		if err == nil {
			t.Fatal("a bad statement answered")
		}
		errs = append(errs, err.Error())
	}
	if errs[0] != errs[2] {
		t.Fatalf("a bad statement's error changed: %q then %q", errs[0], errs[2])
	}
}

// Concurrent state reads on the prepared statements while the one writer
// changes the rows: every read sees a whole row of some version, never an
// error, and the last reads see the last version.
func TestReadStatementsConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openInternal(t)
	const keys, versions = 20, 30
	write := func(v int) {
		var ups []store.StateRow
		for k := range keys {
			ups = append(ups, store.StateRow{Dataset: "tax.taxpayer", Key: fmt.Sprint("k", k), CitizenKey: fmt.Sprintf("c%02d", k%5),
				Row: []byte(fmt.Sprintf(`{"v":%d}`, v)), EventID: fmt.Sprint("e", v), Version: int64(v), Updated: time.Now()})
		}
		if err := s.ApplyState(ctx, ups, nil); err != nil {
			t.Error(err)
		}
	}
	write(0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				rows, err := s.StateByCitizen(ctx, "tax.taxpayer", fmt.Sprintf("c%02d", (g+i)%5), 100)
				if err != nil || len(rows) != keys/5 {
					t.Errorf("reader %d: %d rows, %v", g, len(rows), err)
					return
				}
			}
		}()
	}
	for v := 1; v <= versions; v++ {
		write(v)
	}
	wg.Wait()
	rows, err := s.StateByCitizen(ctx, "tax.taxpayer", "c00", 100)
	if err != nil || len(rows) != keys/5 || string(rows[0].Row) != fmt.Sprintf(`{"v":%d}`, versions) {
		t.Fatalf("after the writes: %+v %v", rows, err)
	}
}

// The full-size batch statements are prepared at Open and used inside the
// write transactions (regression: preparing one lazily on the write pool
// while its one connection was in a transaction would wait forever). A
// batch that spans full-size statements and a remainder writes every row
// and entry, and the upsert still refuses an older version.
func TestBatchStatementsPrepared(t *testing.T) {
	ctx := context.Background()
	s := openInternal(t)
	if _, ok := s.wstmts[names.SQL(sqlcore.BatchSQL()[0])]; !ok || len(s.wstmts) != 2 {
		t.Fatalf("prepared batch statements: %d, want the state upsert and the audit insert", len(s.wstmts))
	}
	if _, ok := s.wstmts[insertAuditFull]; !ok {
		t.Fatal("the full-size audit insert is not prepared")
	}
	rows := func(version int64, n int) []store.StateRow {
		out := make([]store.StateRow, n)
		for i := range out {
			out[i] = store.StateRow{Dataset: "land.land_use_right", Key: fmt.Sprintf("k%03d", i), CitizenKey: fmt.Sprintf("c%03d", i),
				Row: fmt.Appendf(nil, `{"v":%d}`, version), EventID: fmt.Sprintf("e%d-%d", version, i), Updated: time.Unix(1_700_000_000+version, 0), Version: version}
		}
		return out
	}
	for _, b := range [][]store.StateRow{rows(2, 300), rows(3, 300), rows(1, 300)} { // 2 × 128 + 44 each; the last is older
		if err := s.ApplyState(ctx, b, nil); err != nil {
			t.Fatalf("ApplyState: %v", err)
		}
	}
	if n, err := s.CountState(ctx, "land.land_use_right"); err != nil || n != 300 {
		t.Fatalf("CountState = %d, %v; want 300", n, err)
	}
	for _, k := range []int{0, 200, 299} {
		got, err := s.StateByCitizen(ctx, "land.land_use_right", fmt.Sprintf("c%03d", k), 10)
		if err != nil || len(got) != 1 || string(got[0].Row) != `{"v":3}` {
			t.Fatalf("key %d: %+v, %v; want the row of version 3", k, got, err)
		}
	}
	var entries []store.AuditEntry
	for seq := int64(1); seq <= 150; seq++ { // 2 × 64 + 22
		entries = append(entries, store.AuditEntry{Seq: seq, Time: time.Unix(1_700_000_000+seq, 0).UTC(), Actor: "agency.tax", Action: "deliver",
			Dataset: "land.land_use_right", Purpose: "p", LegalBasis: "l", AgreementID: "a", Decision: "allow",
			CitizenKey: fmt.Sprintf("%064x", seq), PrevHash: []byte{byte(seq - 1)}, Hash: []byte{byte(seq)}})
	}
	for _, b := range [][]store.AuditEntry{entries[:130], entries[130:]} {
		if err := s.AppendAudit(ctx, b); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	if n, err := s.CountAudit(ctx); err != nil || n != 150 {
		t.Fatalf("CountAudit = %d, %v; want 150", n, err)
	}
	got, err := s.ListAudit(ctx, store.AuditQuery{AfterSeq: 63, Limit: 3})
	if err != nil || len(got) != 3 || got[0].Seq != 64 || got[2].CitizenKey != fmt.Sprintf("%064x", 66) {
		t.Fatalf("entries 64..66 across two statements: %+v, %v", got, err)
	}
}
