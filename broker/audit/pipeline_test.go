package audit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// faults wraps a real store and makes chosen group commits fail (their
// transaction is rolled back, as when the database refuses the commit)
// and every commit slow, so the next group is chained and staged while one
// is still committing.
type faults struct {
	store.Store
	failAt  map[int64]bool // 1-based numbers of the writes that fail
	writes  atomic.Int64
	staged  atomic.Int64 // staged and not yet committed or rolled back
	overlap atomic.Int64 // the most groups staged at once
	delay   time.Duration
}

var errInjected = errors.New("injected commit failure")

func (f *faults) fail() bool { return f.failAt[f.writes.Add(1)] }

// AppendAudit is the path of a store that cannot stage (SQLite).
func (f *faults) AppendAudit(ctx context.Context, es []store.AuditEntry) error {
	time.Sleep(f.delay)
	if f.fail() {
		return errInjected
	}
	return f.Store.AppendAudit(ctx, es)
}

// stagingFaults adds staging, for a store that can (PostgreSQL).
type stagingFaults struct{ *faults }

func (f stagingFaults) StageAudit(ctx context.Context, es []store.AuditEntry) (store.StagedAudit, error) {
	st, err := f.Store.(store.AuditStager).StageAudit(ctx, es)
	if err != nil {
		return nil, err
	}
	n := f.staged.Add(1)
	for {
		if o := f.overlap.Load(); n <= o || f.overlap.CompareAndSwap(o, n) {
			break
		}
	}
	return &faultyStaged{StagedAudit: st, f: f.faults}, nil
}

type faultyStaged struct {
	store.StagedAudit
	f *faults
}

func (s *faultyStaged) Commit(ctx context.Context) error {
	defer s.f.staged.Add(-1)
	time.Sleep(s.f.delay)
	if s.f.fail() {
		s.StagedAudit.Rollback(ctx)
		return errInjected
	}
	return s.StagedAudit.Commit(ctx)
}

func (s *faultyStaged) Rollback(ctx context.Context) {
	s.f.staged.Add(-1)
	s.StagedAudit.Rollback(ctx)
}

// TestGroupCommitFailuresKeepTheChain appends from many goroutines while
// some group commits fail. Whatever Append reported stored must be stored,
// in one gapless chain that verifies; whatever it reported failed must not
// be; and the log goes on after each failure. On PostgreSQL groups are
// pipelined, so a group chained on a failed one must fail too.
func TestGroupCommitFailuresKeepTheChain(t *testing.T) {
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			real := b.open(t)
			f := &faults{Store: real, failAt: map[int64]bool{3: true, 4: true, 9: true}, delay: 15 * time.Millisecond}
			var st store.Store = f
			_, staging := real.(store.AuditStager)
			if staging {
				st = stagingFaults{f}
			}
			pub, priv, _ := ed25519.GenerateKey(nil)
			l, err := audit.Open(ctx, st, []byte("0123456789abcdef"), audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu       sync.Mutex
				ok       = map[string]int64{} // request id → seq
				failed   = map[string]bool{}
				chainErr atomic.Int64
				wg       sync.WaitGroup
			)
			for g := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 20 {
						id := fmt.Sprintf("req-%d-%d", g, i)
						es := []store.AuditEntry{{Actor: "vss", Action: "lookup", Decision: "allow", RequestID: id}}
						err := l.Append(ctx, es)
						mu.Lock()
						if err != nil {
							failed[id] = true
							if strings.Contains(err.Error(), "the group it was chained on failed") {
								chainErr.Add(1)
							}
						} else {
							ok[id] = es[0].Seq
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(failed) == 0 {
				t.Fatal("no append failed: the injected failures were not reached")
			}
			after := []store.AuditEntry{{Actor: "vss", Action: "lookup", Decision: "allow", RequestID: "after"}}
			if err := l.Append(ctx, after); err != nil {
				t.Fatalf("the log does not go on after the failures: %v", err)
			}
			ok["after"] = after[0].Seq
			all, err := real.ListAudit(ctx, store.AuditQuery{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(ok) {
				t.Errorf("%d entries stored, but %d appends succeeded (%d failed)", len(all), len(ok), len(failed))
			}
			for i, e := range all {
				if e.Seq != int64(i+1) {
					t.Fatalf("entry %d has seq %d: the log has a gap", i+1, e.Seq)
				}
				if failed[e.RequestID] {
					t.Errorf("%s is stored (seq %d) but its Append failed", e.RequestID, e.Seq)
				}
				if seq, found := ok[e.RequestID]; !found || seq != e.Seq {
					t.Errorf("%s stored at seq %d, Append reported %d (found %v)", e.RequestID, e.Seq, seq, found)
				}
			}
			if bad, err := audit.Verify(all, nil); bad != 0 {
				t.Fatalf("chain: %v", err)
			}
			if l.Size() != int64(len(all)) {
				t.Errorf("Size = %d, want %d", l.Size(), len(all))
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			rep, err := audit.VerifyLog(ctx, real, pub)
			if err != nil || rep.FirstBad != 0 {
				t.Fatalf("VerifyLog: %+v, %v", rep, err)
			}
			if _, err := audit.Open(ctx, real, []byte("0123456789abcdef"), audit.WithSigner(priv)); err != nil {
				t.Fatalf("reopen: %v", err)
			}
			if staging {
				if f.overlap.Load() < 2 {
					t.Errorf("at most %d group staged at once: the commits were not pipelined", f.overlap.Load())
				}
				if chainErr.Load() == 0 {
					t.Errorf("no append failed because the group it was chained on failed (%d failed)", len(failed))
				}
			}
			t.Logf("%d stored, %d failed (%d because of the group before), %d staged at most", len(ok), len(failed), chainErr.Load(), f.overlap.Load())
		})
	}
}
