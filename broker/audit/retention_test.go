package audit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

var testKey = []byte("0123456789abcdef")

// epochs appends n deliveries then a checkpoint, for each n.
func epochs(t *testing.T, l *audit.Log, ns ...int) {
	t.Helper()
	ctx := context.Background()
	for _, n := range ns {
		for i := 0; i < n; i++ {
			e := store.AuditEntry{Actor: "vss", Action: "deliver", Dataset: "civil_status.birth_registration", Decision: "allow",
				RequestID: fmt.Sprint("ev-", l.Size()+1), CitizenKey: l.CitizenKey(fmt.Sprintf("0010900%05d", i))}
			if err := l.Append(ctx, []store.AuditEntry{e}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func verify(t *testing.T, st store.Store, pub ed25519.PublicKey) audit.Report {
	t.Helper()
	rep, err := audit.VerifyLog(context.Background(), st, pub)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// A pruned log: entries 1..20 (two checkpoint epochs) are older than the
// cutoff, 22..25 newer. Layout before the prune: 1..10, cp 11 (size 10),
// 12..20, cp 21 (size 20), 22..25, cp 26 (size 25).
func prunedLog(t *testing.T, b backend, pub ed25519.PublicKey, priv ed25519.PrivateKey) (store.Store, *audit.Log, audit.PruneResult) {
	t.Helper()
	ctx := context.Background()
	st := b.open(t)
	t.Cleanup(func() { st.Close() })
	l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	epochs(t, l, 10, 9)
	time.Sleep(2 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(2 * time.Millisecond)
	epochs(t, l, 4)
	res, err := l.Prune(ctx, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 20 || res.Retention == nil || res.Retention.First != 1 || res.Retention.Through != 20 || res.Retention.Seq != 27 || res.Checkpoint == nil || res.Checkpoint.Seq != 28 {
		t.Fatalf("prune: %+v %+v", res, res.Retention)
	}
	return st, l, res
}

func TestPruneRecordsTheDeletionAndTheRestStillVerifies(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			st, l, _ := prunedLog(t, b, pub, priv)
			if first, err := st.ListAudit(ctx, store.AuditQuery{Limit: 1}); err != nil || first[0].Seq != 21 || first[0].Action != audit.ActionCheckpoint {
				t.Fatalf("first kept entry: %+v %v", first, err)
			}
			rep := verify(t, st, pub)
			if !rep.OK() || rep.Pruned != 20 || rep.Entries != 8 || rep.Checkpoints != 3 || rep.Latest.Size != 27 {
				t.Fatalf("pruned log: %+v", rep)
			}
			if n, _ := st.CountAudit(ctx); n != 28 || l.Size() != 28 {
				t.Fatalf("size after prune: store %d, log %d; sequence numbers are never reused", n, l.Size())
			}

			// The append-only guard is closed again: a plain delete fails.
			if err := b.try("DELETE FROM audit_log WHERE seq = 22"); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("delete after prune: %v, want the append-only guard", err)
			}

			// Proofs still work for kept entries, and say why for pruned ones.
			cp, _ := l.Latest()
			proof, leaf, err := l.InclusionProof(ctx, 23, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := audit.VerifyInclusion(22, int(cp.Size), leaf, proof, cp.Root); err != nil {
				t.Fatalf("inclusion proof of a kept entry against the signed root: %v", err)
			}
			if _, _, err := l.InclusionProof(ctx, 5, cp.Size); !errors.Is(err, audit.ErrPruned) {
				t.Fatalf("proof of a pruned entry: %v, want ErrPruned", err)
			}
			root25, err := l.RootAt(ctx, 25)
			if err != nil {
				t.Fatal(err)
			}
			cons, err := l.ConsistencyProof(ctx, 25, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := audit.VerifyConsistency(25, int(cp.Size), root25, cp.Root, cons); err != nil {
				t.Fatalf("consistency proof across the cut: %v", err)
			}

			// A reopened log continues the chain and the tree from the anchor.
			l2, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			epochs(t, l2, 3)
			if rep := verify(t, st, pub); !rep.OK() || rep.Checkpoints != 4 || rep.Latest.Size != 31 {
				t.Fatalf("after reopening and appending: %+v", rep)
			}

			// A second prune anchors on the first one.
			res, err := l2.PruneThrough(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if res.Retention == nil || res.Retention.First != 21 || res.Retention.Through != 31 || res.Deleted != 11 {
				t.Fatalf("second prune: %+v %+v", res, res.Retention)
			}
			if rep := verify(t, st, pub); !rep.OK() || rep.Pruned != 31 {
				t.Fatalf("after the second prune: %+v", rep)
			}
		})
	}
}

func TestPruneKeepsWhatNoCheckpointCovers(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	b := sqliteBackend(t)
	st := b.open(t)
	defer st.Close()
	l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := l.Append(ctx, []store.AuditEntry{{Actor: "vss", Action: "lookup", Decision: "allow"}}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := l.Prune(ctx, time.Now().Add(time.Hour))
	if err != nil || res.Deleted != 0 || res.Retention != nil {
		t.Fatalf("prune without a checkpoint: %+v %v; nothing may be deleted", res, err)
	}
	epochs(t, l, 0) // checkpoint at 6 covering 1..5: now the whole epoch can go
	res, err = l.Prune(ctx, time.Now().Add(time.Hour))
	if err != nil || res.Deleted != 5 {
		t.Fatalf("prune: %+v %v", res, err)
	}
	// Pruning again with nothing new deletes nothing.
	res, err = l.Prune(ctx, time.Now().Add(time.Hour))
	if err != nil || res.Deleted != 2 { // the previous retention entry and checkpoint: the new anchor covers them
		t.Fatalf("prune again: %+v %v", res, err)
	}
	if rep := verify(t, st, pub); !rep.OK() {
		t.Fatalf("%+v", rep)
	}
}

// Tampering is caught in what a prune keeps, and a deletion that no
// retention entry records is reported where it starts.
func TestVerifyPrunedLogCatchesTampering(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	cases := []struct {
		name    string
		tamper  func(t *testing.T, b backend)
		wantBad int64
	}{
		{"intact", func(*testing.T, backend) {}, 0},
		{"kept row edited", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 23")
		}, 23},
		{"more deleted without a record", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log WHERE seq <= 22")
		}, 21},
		{"retention entry deleted", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log WHERE seq = 27")
		}, 1},
		{"retention frontier forged", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "UPDATE audit_log SET reason = 'frontier="+strings.Repeat("00", 32)+","+strings.Repeat("11", 32)+"' WHERE seq = 27")
		}, 21},
		{"first kept checkpoint deleted", func(t *testing.T, b backend) {
			b.exec(t, b.tamperOK)
			b.exec(t, "DELETE FROM audit_log WHERE seq = 21")
		}, 21},
	}
	for _, mk := range bothBackends {
		for _, tc := range cases {
			b := mk(t)
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				st, _, _ := prunedLog(t, b, pub, priv)
				tc.tamper(t, b)
				rep := verify(t, st, pub)
				if rep.FirstBad != tc.wantBad {
					t.Fatalf("first bad %d (%s), want %d", rep.FirstBad, rep.Problem, tc.wantBad)
				}
			})
		}
	}
}

// A deletion of the oldest entries made directly in the database (no
// retention entry) is reported from entry 1, and Prune refuses to delete a
// range that does not verify.
func TestUnrecordedDeletionAndPruneOfTamperedRange(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			defer st.Close()
			l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			epochs(t, l, 5, 5)
			b.exec(t, b.tamperOK)
			b.exec(t, "UPDATE audit_log SET actor = 'x' WHERE seq = 3")
			if _, err := l.PruneThrough(ctx, 100); err == nil || !strings.Contains(err.Error(), "entry 3") {
				t.Fatalf("prune of a tampered range: %v, want a refusal naming entry 3", err)
			}
			if n, _ := st.ListAudit(ctx, store.AuditQuery{Limit: 1}); n[0].Seq != 1 {
				t.Fatal("a refused prune deleted entries")
			}
			b.exec(t, "DELETE FROM audit_log WHERE seq <= 6")
			if rep := verify(t, st, pub); rep.FirstBad != 1 || !strings.Contains(rep.Problem, "no retention entry") {
				t.Fatalf("%+v", rep)
			}
			if _, err := audit.Open(ctx, st, testKey); !errors.Is(err, audit.ErrUnanchored) {
				t.Fatalf("Open of an unanchored log: %v", err)
			}
		})
	}
}
