package audit_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	_ "modernc.org/sqlite"
)

// backend is a store plus raw SQL access to it, as an administrator with
// database access would have.
type backend struct {
	name     string
	open     func(t *testing.T) store.Store
	exec     func(t *testing.T, q string, args ...any)
	try      func(q string, args ...any) error // exec that reports the error
	tamperOK string                            // SQL that removes the append-only guard first
	ph       func(i int) string
	timeCol  string // the entry time column
	hidCol   string // the hidden-until column
}

// bothBackends opens each store the audit log runs on: the tests that
// range over it run on SQLite and on PostgreSQL.
var bothBackends = []func(*testing.T) backend{sqliteBackend, pgBackend}

func sqliteBackend(t *testing.T) backend {
	path := filepath.Join(t.TempDir(), "audit.db")
	return backend{
		name: "sqlite",
		open: func(t *testing.T) store.Store {
			st, err := sqlitestore.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		exec: func(t *testing.T, q string, args ...any) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		},
		try: func(q string, args ...any) error {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.Exec(q, args...)
			return err
		},
		tamperOK: "DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete",
		ph:       func(int) string { return "?" },
		timeCol:  "time_us",
		hidCol:   "hidden_until_us",
	}
}

func pgBackend(t *testing.T) backend {
	ctx := context.Background()
	dsn := pgtest.SchemaURL(t, "audit")
	return backend{
		name: "postgres",
		open: func(t *testing.T) store.Store {
			st, err := pgstore.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		exec: func(t *testing.T, q string, args ...any) {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			for _, stmt := range strings.Split(q, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := c.Exec(ctx, stmt, args...); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
		},
		try: func(q string, args ...any) error {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			defer c.Close(ctx)
			_, err = c.Exec(ctx, q, args...)
			return err
		},
		tamperOK: "DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log",
		ph:       func(i int) string { return fmt.Sprintf("$%d", i) },
		timeCol:  "time",
		hidCol:   "hidden_until",
	}
}

// fill writes 12 deliveries with a checkpoint after the 6th and at the end.
func fill(t *testing.T, st store.Store, priv ed25519.PrivateKey) {
	ctx := context.Background()
	l, err := audit.Open(ctx, st, []byte("0123456789abcdef"), audit.WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 12; i++ {
		e := store.AuditEntry{Actor: "vss", Action: "deliver", Dataset: "civil_status.birth_registration", Fields: []string{"child_name"},
			LegalBasis: "Law on Social Insurance No. 41/2024/QH15", Decision: "allow", RequestID: fmt.Sprint("ev-", i), CitizenKey: l.CitizenKey(fmt.Sprintf("0010900%05d", i))}
		if err := l.Append(ctx, []store.AuditEntry{e}); err != nil {
			t.Fatal(err)
		}
		if i == 6 || i == 12 {
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Tampering made directly in the database is reported at the first bad
// entry, in both stores, and the store is never "repaired".
func TestVerifyLogCatchesTamperingInBothStores(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	for _, mk := range bothBackends {
		cases := []struct {
			name    string
			tamper  func(t *testing.T, b backend, st store.Store)
			wantBad int64
			kind    string // what the report says, for the reader of this table
		}{
			{"intact", func(*testing.T, backend, store.Store) {}, 0, ""},
			{"edited row", func(t *testing.T, b backend, _ store.Store) {
				b.exec(t, b.tamperOK)
				b.exec(t, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 4")
			}, 4, "altered"},
			{"deleted row", func(t *testing.T, b backend, _ store.Store) {
				b.exec(t, b.tamperOK)
				b.exec(t, "DELETE FROM audit_log WHERE seq = 5")
			}, 5, "missing"},
			{"inserted row", func(t *testing.T, b backend, _ store.Store) {
				// Make room at 3 and insert a copy of entry 2 there.
				b.exec(t, b.tamperOK)
				b.exec(t, "UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3")
				b.exec(t, "INSERT INTO audit_log SELECT 3, "+b.timeCol+", actor, action, dataset, fields, purpose, legal_basis, agreement_id, decision, reason, request_id, citizen_key, prev_hash, hash, "+b.hidCol+", text_id FROM audit_log WHERE seq = 2")
				b.exec(t, "UPDATE audit_log SET seq = seq - 99 WHERE seq >= 103")
			}, 3, "chain"},
			{"reordered rows", func(t *testing.T, b backend, _ store.Store) {
				b.exec(t, b.tamperOK)
				b.exec(t, "UPDATE audit_log SET seq = 1000 WHERE seq = 3")
				b.exec(t, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
				b.exec(t, "UPDATE audit_log SET seq = 4 WHERE seq = 1000")
			}, 3, "chain"},
			{"edited legal basis, stored once for all entries (migration 0013)", func(t *testing.T, b backend, _ store.Store) {
				b.exec(t, "UPDATE audit_texts SET legal_basis = 'no law at all'")
			}, 1, "altered"},
			{"chain recomputed after an edit", func(t *testing.T, b backend, st store.Store) {
				es, err := st.ListAudit(context.Background(), store.AuditQuery{Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				b.exec(t, b.tamperOK)
				prev := es[1].Hash
				for i := 2; i < len(es); i++ {
					if i == 2 {
						es[i].Actor = "someone-else"
					}
					es[i].PrevHash = prev
					es[i].Hash = audit.Hash(&es[i])
					prev = es[i].Hash
					b.exec(t, fmt.Sprintf("UPDATE audit_log SET actor = %s, prev_hash = %s, hash = %s WHERE seq = %s", b.ph(1), b.ph(2), b.ph(3), b.ph(4)), es[i].Actor, es[i].PrevHash, es[i].Hash, es[i].Seq)
				}
			}, 7, "rewritten"},
		}
		for _, tc := range cases {
			b := mk(t)
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				st := b.open(t)
				fill(t, st, priv)
				st.Close()
				tst := b.open(t)
				tc.tamper(t, b, tst)
				tst.Close()
				st = b.open(t)
				defer st.Close()
				rep, err := audit.VerifyLog(context.Background(), st, pub)
				if err != nil {
					t.Fatal(err)
				}
				want := tc.wantBad
				if rep.FirstBad != want {
					t.Fatalf("first bad %d (%s), want %d", rep.FirstBad, rep.Problem, want)
				}
				if want == 0 && (rep.Entries != 14 || rep.Checkpoints != 2 || rep.Latest == nil || rep.Latest.Size != 13) {
					t.Fatalf("intact log: %+v", rep)
				}
			})
		}
	}
}
