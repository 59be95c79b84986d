package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// state is what a resumed log must agree on with one rebuilt from every entry.
func state(t *testing.T, l *audit.Log) string {
	t.Helper()
	root, err := l.RootAt(context.Background(), l.Size())
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := l.Latest()
	return fmt.Sprintf("size=%d root=%x latest=%d/%d/%x", l.Size(), root, cp.Seq, cp.Size, cp.Root)
}

// After a restart, Open resumes from the latest checkpoint's stored
// frontier, reads only the entries from it on, and ends in the same state
// as a rebuild from the whole log; the log it continues still verifies.
func TestOpenResumesFromTheLatestCheckpoint(t *testing.T) {
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
			epochs(t, l, 10, 13, 6) // checkpoints at 11, 25, 32
			for i := range 5 {      // 33..37 after the last checkpoint
				if err := l.Append(ctx, []store.AuditEntry{{Actor: "gdt", Action: "lookup", Decision: "allow", RequestID: fmt.Sprint("x-", i)}}); err != nil {
					t.Fatal(err)
				}
			}
			want := state(t, l)

			resumed, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			if got := state(t, resumed); got != want {
				t.Fatalf("resumed: %s\nwant     %s", got, want)
			}
			rebuilt, err := audit.Open(ctx, st, testKey) // no signer: reads everything
			if err != nil {
				t.Fatal(err)
			}
			if got := state(t, rebuilt); got != want {
				t.Fatalf("rebuilt: %s\nwant     %s", got, want)
			}

			// The resumed log continues the chain and the tree.
			epochs(t, resumed, 3)
			if rep := verify(t, st, pub); !rep.OK() || rep.Entries != 41 || rep.Checkpoints != 4 || rep.Latest.Size != 40 {
				t.Fatalf("after resuming: %+v", rep)
			}
		})
	}
}

// Open reads nothing before the latest checkpoint but the entry right
// before it (and the first entry, which says where the log starts).
func TestOpenReadsOnlyTheTail(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	st := sqliteBackend(t).open(t)
	defer st.Close()
	l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	epochs(t, l, 50, 30, 2) // the last checkpoint is entry 85
	cp, _ := l.Latest()
	reads := &readAt{Store: st}
	if _, err := audit.Open(ctx, reads, testKey, audit.WithSigner(priv)); err != nil {
		t.Fatal(err)
	}
	for _, seq := range reads.seqs {
		if seq != 1 && seq < cp.Seq-1 {
			t.Fatalf("Open read entry %d, before the latest checkpoint %d (read: %v)", seq, cp.Seq, reads.seqs)
		}
	}
	if len(reads.seqs) == 0 || reads.seqs[len(reads.seqs)-1] != cp.Seq {
		t.Fatalf("Open did not read the checkpoint: %v", reads.seqs)
	}
}

// readAt records every entry sequence number read through it.
type readAt struct {
	store.Store
	seqs []int64
}

func (r *readAt) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	es, err := r.Store.ListAudit(ctx, q)
	for _, e := range es {
		r.seqs = append(r.seqs, e.Seq)
	}
	return es, err
}

func (r *readAt) SearchAudit(ctx context.Context, q store.AuditSearch) ([]store.AuditEntry, error) {
	es, err := r.Store.(store.AuditSearcher).SearchAudit(ctx, q)
	for _, e := range es {
		r.seqs = append(r.seqs, e.Seq)
	}
	return es, err
}

// A stored frontier that was altered in the database is never built upon:
// Open fails with ErrTampered and VerifyLog reports the checkpoint, whether
// or not the tamperer also recomputed the entry's hash, and whether or not
// they also changed the root (whose signature they cannot forge).
func TestOpenDetectsATamperedFrontier(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	other := bytes.Repeat([]byte{0xab}, 32)
	cases := []struct {
		name   string
		rehash bool // recompute the checkpoint's hash and the chain after it
		edit   func(e *store.AuditEntry)
	}{
		{"frontier node replaced", false, func(e *store.AuditEntry) { e.Reason = replaceNode(t, e.Reason, other) }},
		{"frontier node replaced, chain recomputed", true, func(e *store.AuditEntry) { e.Reason = replaceNode(t, e.Reason, other) }},
		{"frontier and root replaced, chain recomputed", true, func(e *store.AuditEntry) {
			e.Reason = replaceNode(t, e.Reason, other)
			cp, err := audit.ParseCheckpoint(*e)
			if err != nil {
				t.Fatal(err)
			}
			nodes := frontierNodes(t, e.Reason)
			root := nodes[len(nodes)-1]
			for i := len(nodes) - 2; i >= 0; i-- {
				root = audit.NodeHash(nodes[i], root)
			}
			e.RequestID = fmt.Sprintf("size=%d root=%s", cp.Size, hex.EncodeToString(root))
		}},
		{"frontier dropped a node", true, func(e *store.AuditEntry) {
			sig, fr, _ := strings.Cut(e.Reason, " frontier=")
			_, rest, _ := strings.Cut(fr, ",")
			e.Reason = sig + " frontier=" + rest
		}},
	}
	for _, mk := range bothBackends {
		for _, tc := range cases {
			b := mk(t)
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				st := b.open(t)
				defer st.Close()
				l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
				if err != nil {
					t.Fatal(err)
				}
				epochs(t, l, 10, 12) // checkpoints 11 (size 10), 24 (size 23)
				if err := l.Append(ctx, []store.AuditEntry{{Actor: "gdt", Action: "lookup", Decision: "allow"}}); err != nil {
					t.Fatal(err)
				}
				es, err := st.ListAudit(ctx, store.AuditQuery{AfterSeq: 23, Limit: 10})
				if err != nil || len(es) != 2 || es[0].Action != audit.ActionCheckpoint {
					t.Fatalf("%+v %v", es, err)
				}
				tc.edit(&es[0])
				if tc.rehash {
					prev := es[0].PrevHash
					for i := range es {
						es[i].PrevHash = prev
						es[i].Hash = audit.Hash(&es[i])
						prev = es[i].Hash
					}
				}
				b.exec(t, b.tamperOK)
				for _, e := range es {
					b.exec(t, fmt.Sprintf("UPDATE audit_log SET request_id = %s, reason = %s, prev_hash = %s, hash = %s WHERE seq = %s", b.ph(1), b.ph(2), b.ph(3), b.ph(4), b.ph(5)),
						e.RequestID, e.Reason, e.PrevHash, e.Hash, e.Seq)
				}
				_, err = audit.Open(ctx, st, testKey, audit.WithSigner(priv))
				if !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "checkpoint 24") {
					t.Fatalf("Open of a log with a tampered frontier: %v", err)
				}
				if rep := verify(t, st, pub); rep.FirstBad != 24 {
					t.Fatalf("verify: first bad %d (%s), want 24", rep.FirstBad, rep.Problem)
				}
			})
		}
	}
}

// Open checks the entries after the checkpoint it resumes from, but not
// those before: `lgsp audit verify` (VerifyLog) still re-checks the whole
// log and finds an edit Open does not read.
func TestOpenChecksTheTailAndVerifyTheWholeLog(t *testing.T) {
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
			epochs(t, l, 10, 5) // checkpoints 11, 17
			for range 3 {       // 18..20
				if err := l.Append(ctx, []store.AuditEntry{{Actor: "gdt", Action: "lookup", Decision: "allow"}}); err != nil {
					t.Fatal(err)
				}
			}
			b.exec(t, b.tamperOK)
			b.exec(t, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 5")
			if _, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv)); err != nil {
				t.Fatalf("Open does not re-read entries before the checkpoint: %v", err)
			}
			if rep := verify(t, st, pub); rep.FirstBad != 5 {
				t.Fatalf("verify: first bad %d (%s), want 5", rep.FirstBad, rep.Problem)
			}
			b.exec(t, "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 19")
			if _, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv)); !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "entry 19") {
				t.Fatalf("Open of a log with an edited entry after the checkpoint: %v", err)
			}
			// A checkpoint signed with another key is not resumed from.
			_, otherKey, _ := ed25519.GenerateKey(nil)
			if _, err := audit.Open(ctx, st, testKey, audit.WithSigner(otherKey)); !errors.Is(err, audit.ErrTampered) || !strings.Contains(err.Error(), "signature") {
				t.Fatalf("Open with another signing key: %v", err)
			}
		})
	}
}

// A log whose checkpoints were written before they carried a frontier
// opens by reading it whole, and the next checkpoint carries one.
func TestOpenWithoutStoredFrontier(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	st := sqliteBackend(t).open(t)
	defer st.Close()
	// Entries 1..4 and an old-style checkpoint 5 of size 4, written as the
	// earlier code did: the signature alone in Reason.
	var (
		es     []store.AuditEntry
		prev   []byte
		leaves [][]byte
		now    = time.Now().UTC().Truncate(time.Microsecond)
	)
	for i := 1; i <= 5; i++ {
		e := store.AuditEntry{Seq: int64(i), Time: now, Actor: "vss", Action: "deliver", Decision: "allow", PrevHash: prev}
		if i == 5 {
			cp := audit.Checkpoint{Size: 4, Root: audit.Root(leaves), Time: now}
			cp.Signature = ed25519.Sign(priv, cp.Message())
			e = store.AuditEntry{Seq: 5, Time: now, Actor: "lgsp", Action: audit.ActionCheckpoint, Decision: "allow", PrevHash: prev,
				RequestID: fmt.Sprintf("size=4 root=%x", cp.Root), Reason: base64.StdEncoding.EncodeToString(cp.Signature)}
		}
		e.Hash = audit.Hash(&e)
		prev = e.Hash
		leaves = append(leaves, audit.LeafHash(e.Hash))
		es = append(es, e)
	}
	if err := st.AppendAudit(ctx, es); err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	if cp, ok := l.Latest(); !ok || cp.Seq != 5 || l.Size() != 5 {
		t.Fatalf("latest %+v, size %d", cp, l.Size())
	}
	epochs(t, l, 2) // checkpoint 8, with a frontier
	reads := &readAt{Store: st}
	if _, err := audit.Open(ctx, reads, testKey, audit.WithSigner(priv)); err != nil {
		t.Fatal(err)
	}
	for _, seq := range reads.seqs {
		if seq > 1 && seq < 7 {
			t.Fatalf("Open read entry %d before the checkpoint with a frontier: %v", seq, reads.seqs)
		}
	}
	if rep := verify(t, st, pub); !rep.OK() || rep.Checkpoints != 2 {
		t.Fatalf("%+v", rep)
	}
}

// A pruned log resumes from its latest checkpoint too, and proofs still
// come out right.
func TestOpenResumesAPrunedLog(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			st, l, _ := prunedLog(t, b, pub, priv)
			want := state(t, l)
			resumed, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			if got := state(t, resumed); got != want {
				t.Fatalf("resumed: %s\nwant     %s", got, want)
			}
			epochs(t, resumed, 2)
			if rep := verify(t, st, pub); !rep.OK() || rep.Pruned != 20 {
				t.Fatalf("%+v", rep)
			}
		})
	}
}

func frontierNodes(t *testing.T, reason string) [][]byte {
	t.Helper()
	_, fr, ok := strings.Cut(reason, " frontier=")
	if !ok {
		t.Fatalf("checkpoint without a frontier: %q", reason)
	}
	var out [][]byte
	for _, h := range strings.Split(fr, ",") {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// replaceNode puts node in place of the frontier's last node.
func replaceNode(t *testing.T, reason string, node []byte) string {
	t.Helper()
	nodes := frontierNodes(t, reason)
	nodes[len(nodes)-1] = node
	hs := make([]string, len(nodes))
	for i, n := range nodes {
		hs[i] = hex.EncodeToString(n)
	}
	sig, _, _ := strings.Cut(reason, " frontier=")
	return sig + " frontier=" + strings.Join(hs, ",")
}
