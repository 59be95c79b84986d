package audit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// latestCheckpoint is the newest checkpoint of the log in st, as the bus
// published it outside the store.
func latestCheckpoint(t *testing.T, st store.Store, priv ed25519.PrivateKey) audit.Known {
	t.Helper()
	l, err := audit.Open(context.Background(), st, testKey, audit.WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	cp, ok := l.Latest()
	if !ok {
		t.Fatal("no checkpoint")
	}
	return audit.Known{Checkpoint: cp, From: "test witness"}
}

// Regression (hardening issue, item 5): deleting the end of the log
// together with its last checkpoints, rewriting its tail with re-signed
// checkpoints, or restoring an older copy of the database left a log that
// verifies by itself. Checked against a checkpoint held outside the store,
// each is caught by VerifyLogWith and by Open, in both stores.
func TestWitnessedCheckpointCatchesCutsAndForks(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	// fill: 12 deliveries, checkpoints at entries 7 (size 6) and 14 (size 13).
	cases := []struct {
		name   string
		tamper func(t *testing.T, b backend)
		kind   error  // what Open reports
		verify string // what VerifyLogWith reports
	}{
		{"last entry cut (the last checkpoint)", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log WHERE seq > 13")
		}, audit.ErrCut, "the store ends at entry 13 but the checkpoint at entry 14"},
		{"entries and the last checkpoint cut", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log WHERE seq > 9")
		}, audit.ErrCut, "the log was cut"},
		{"all checkpoints cut", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log WHERE seq >= 7")
		}, audit.ErrCut, "the store ends at entry 6"},
		{"tail forked with re-signed checkpoints", func(t *testing.T, b backend) {
			// An insider with the signing key rewrites entries 9.. and
			// signs a new checkpoint of the same size.
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log WHERE seq >= 9")
			st := b.open(t)
			defer st.Close()
			l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if err := l.Append(ctx, []store.AuditEntry{{Actor: "someone-else", Action: "deliver", Decision: "allow", RequestID: fmt.Sprint("fork-", i)}}); err != nil {
					t.Fatal(err)
				}
			}
			if cp, err := l.Checkpoint(ctx); err != nil || cp.Size != 13 {
				t.Fatalf("fork checkpoint %+v %v", cp, err)
			}
		}, audit.ErrForked, "differs from the root witnessed"},
		{"older copy of the database restored", func(t *testing.T, b backend) {
			// The copy (audit_log_at_t) was taken right after the first
			// checkpoint; the witness saw the later state.
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log")
			b.exec(t, "INSERT INTO audit_log SELECT * FROM audit_log_at_t")
		}, audit.ErrCut, "the store ends at entry 7"},
	}
	for _, mk := range bothBackends {
		for _, tc := range cases {
			b := mk(t)
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				st := b.open(t)
				fill(t, st, priv)
				st.Close()
				b.exec(t, "CREATE TABLE audit_log_at_t AS SELECT * FROM audit_log WHERE seq <= 7")
				st = b.open(t)
				w := latestCheckpoint(t, st, priv)
				st.Close()
				if w.Size != 13 {
					t.Fatalf("witnessed %d entries, want 13", w.Size)
				}

				tc.tamper(t, b)
				st = b.open(t)
				defer st.Close()

				// By itself the store still verifies: the gap closed here.
				rep, err := audit.VerifyLog(ctx, st, pub)
				if err != nil || !rep.OK() {
					t.Fatalf("the tampered store by itself: %+v %v", rep, err)
				}
				rep, err = audit.VerifyLogWith(ctx, st, pub, []audit.Known{w})
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK() || !strings.Contains(rep.WitnessProblem, tc.verify) {
					t.Fatalf("VerifyLogWith: %q, want %q", rep.WitnessProblem, tc.verify)
				}
				_, err = audit.Open(ctx, st, testKey, audit.WithSigner(priv), audit.WithKnownCheckpoints(w))
				if !errors.Is(err, tc.kind) || !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "restore the database from a backup") {
					t.Fatalf("Open: %v, want %v", err, tc.kind)
				}
				// Without the outside checkpoint, this is exactly what went unnoticed.
				if _, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv)); err != nil {
					t.Fatalf("Open without a known checkpoint: %v", err)
				}
			})
		}
	}
}

// An intact log checks out against its witnessed checkpoints, older or
// current, and Open continues it with the next sequence number.
func TestWitnessedCheckpointIntactLog(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			defer st.Close()
			fill(t, st, priv)
			w := latestCheckpoint(t, st, priv)
			old := w
			old.Checkpoint = w.Checkpoint // re-read the first one below
			es, err := st.ListAudit(ctx, store.AuditQuery{AfterSeq: 6, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			first, err := audit.ParseCheckpoint(es[0])
			if err != nil {
				t.Fatal(err)
			}
			old.Checkpoint = first
			rep, err := audit.VerifyLogWith(ctx, st, pub, []audit.Known{w, old})
			if err != nil || !rep.OK() || rep.Witnessed == nil || rep.Witnessed.Size != 13 {
				t.Fatalf("%+v %v", rep, err)
			}
			var published []audit.Checkpoint
			l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv), audit.WithKnownCheckpoints(old, w),
				audit.OnCheckpoint(func(_ context.Context, cp audit.Checkpoint) { published = append(published, cp) }))
			if err != nil {
				t.Fatal(err)
			}
			e := []store.AuditEntry{{Actor: "vss", Action: "deliver", Decision: "allow"}}
			if err := l.Append(ctx, e); err != nil || e[0].Seq != 15 {
				t.Fatalf("next entry %d: %v", e[0].Seq, err)
			}
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(published) != 1 || published[0].Size != 15 || cp.Size != 15 {
				t.Fatalf("published %+v", published)
			}
		})
	}
}

// An entry edited after the newest witnessed checkpoint is caught at Open
// even when the store holds a newer checkpoint of its own: Open resumes
// from what the outside world saw.
func TestOpenChecksEverythingAfterTheWitnessedCheckpoint(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			fill(t, st, priv)
			es, err := st.ListAudit(ctx, store.AuditQuery{AfterSeq: 6, Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			first, err := audit.ParseCheckpoint(es[0])
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			b.exec(t, b.tamperOK)
			b.exec(t, "UPDATE audit_log SET purpose = 'marketing' WHERE seq = 10")
			st = b.open(t)
			defer st.Close()
			_, err = audit.Open(ctx, st, testKey, audit.WithSigner(priv), audit.WithKnownCheckpoints(audit.Known{Checkpoint: first, From: "kafka"}))
			if !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "entry 10 was altered") {
				t.Fatalf("Open: %v", err)
			}
		})
	}
}
