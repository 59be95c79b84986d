package audit_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// Two bus instances append to one log through their own store handles, at
// the same time, with checkpoints: every append succeeds, the log is one
// gapless chain with one Merkle tree that verifies, and each instance has
// taken in the other's entries.
func TestSeveralWritersShareOneChain(t *testing.T) {
	ctx := context.Background()
	_, priv, _ := ed25519.GenerateKey(nil)
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			const writers, appends = 4, 60
			var logs [2]*audit.Log
			for i := range logs {
				st := b.open(t)
				defer st.Close()
				l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
				if err != nil {
					t.Fatal(err)
				}
				logs[i] = l
			}
			var wg sync.WaitGroup
			errs := make(chan error, 2*writers*appends)
			for i, l := range logs {
				for w := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n := range appends {
							e := store.AuditEntry{Actor: fmt.Sprint("instance-", i), Action: "deliver", Decision: "allow", RequestID: fmt.Sprintf("%d-%d-%d", i, w, n)}
							if err := l.Append(ctx, []store.AuditEntry{e}); err != nil {
								errs <- err
								return
							}
							if n%20 == 19 {
								if _, err := l.Checkpoint(ctx); err != nil {
									errs <- fmt.Errorf("checkpoint: %w", err)
									return
								}
							}
						}
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// Appends in turn: each clashes with the other's last one and
			// takes it in, so the last to append knows the whole log.
			for _, l := range []*audit.Log{logs[0], logs[1], logs[0]} {
				if err := l.Append(ctx, []store.AuditEntry{{Actor: "lgsp", Action: "probe", Decision: "allow"}}); err != nil {
					t.Fatal(err)
				}
			}
			st := b.open(t)
			defer st.Close()
			rep, err := audit.VerifyLog(ctx, st, priv.Public().(ed25519.PublicKey))
			if err != nil || !rep.OK() {
				t.Fatalf("verify: %+v %v", rep, err)
			}
			var deliveries int
			for after := int64(0); ; {
				page, err := st.ListAudit(ctx, store.AuditQuery{AfterSeq: after, Limit: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, e := range page {
					if e.Action == "deliver" {
						deliveries++
					}
				}
				after = page[len(page)-1].Seq
			}
			if deliveries != 2*writers*appends {
				t.Fatalf("%d deliveries stored, want %d", deliveries, 2*writers*appends)
			}
			n, err := st.CountAudit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if logs[0].Size() != n || logs[1].Size() != n-1 {
				t.Fatalf("sizes %d and %d of a log of %d: an instance did not take the other's entries in", logs[0].Size(), logs[1].Size(), n)
			}
		})
	}
}
