package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/segmentio/kafka-go"
)

// partitionRig runs runPipeline over one partition's messages with the
// deliverer's real durable step (an audit log and dataset state on
// SQLite). Fetch and produce stand in for Kafka: a broker cannot be made
// to fail or stall on cue, which is what these tests need.
type partitionRig struct {
	t     *testing.T
	st    *sqlitestore.Store
	log   *audit.Log
	d     *Deliverer
	msgs  []kafka.Message
	batch int

	mu        sync.Mutex
	pos       int     // next message fetch returns
	committed int64   // last committed offset
	produced  []int64 // offsets produced, in order
	// produceHook, when set, runs before each produce; an error fails it.
	produceHook func(ctx context.Context, p *prepared) error
}

func newRig(t *testing.T, n, batch int, state store.StateStore) *partitionRig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := audit.Open(ctx, st, []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if state == nil {
		state = st
	} else if f, ok := state.(*flakyState); ok {
		f.StateStore = st
	}
	r := &partitionRig{t: t, st: st, log: l, batch: batch}
	r.d = &Deliverer{cfg: Config{Audit: l, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	r.d.state = stateWriter{st: state, slot: make(chan struct{}, 1)}
	for i := 0; i < n; i++ {
		r.msgs = append(r.msgs, kafka.Message{Topic: "land", Offset: int64(i), Key: []byte(strconv.Itoa(i % 37))})
	}
	return r
}

func (r *partitionRig) stages() stages {
	return stages{
		fetch: func(ctx context.Context) ([]kafka.Message, error) {
			r.mu.Lock()
			from := r.pos
			to := min(from+r.batch, len(r.msgs))
			r.pos = to
			r.mu.Unlock()
			if from == to {
				<-ctx.Done() // nothing more: wait like a reader
				return nil, ctx.Err()
			}
			return r.msgs[from:to], nil
		},
		prepare: func(_ context.Context, batch []kafka.Message) (*prepared, error) {
			p := &prepared{}
			for _, m := range batch {
				p.out = append(p.out, kafka.Message{Topic: "deliver.gdt.land", Key: m.Key, Offset: m.Offset})
				p.entries = append(p.entries, store.AuditEntry{Time: time.Unix(1700000000, 0), Actor: "gdt", Action: "deliver",
					Dataset: "land", Decision: "allow", RequestID: fmt.Sprint(m.Offset)})
				p.upserts = append(p.upserts, store.StateRow{Dataset: "land", Key: string(m.Key), Row: []byte(fmt.Sprintf(`{"o":%d}`, m.Offset)),
					Updated: time.Unix(1700000000, 0), Version: m.Offset})
			}
			return p, nil
		},
		durable: r.d.durable,
		produce: func(ctx context.Context, p *prepared) error {
			if r.produceHook != nil {
				if err := r.produceHook(ctx, p); err != nil {
					return err
				}
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, m := range p.out {
				r.produced = append(r.produced, m.Offset)
			}
			return nil
		},
		commit: func(next int64) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if next <= r.committed {
				r.t.Errorf("commit %d after %d: commits must move forward", next, r.committed)
			}
			r.committed = next
			return nil
		},
	}
}

// run runs the pipeline until every message is committed (or stop says
// to stop), then stops it and waits for it to return.
func (r *partitionRig) run(depth int, stop func() bool) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); runPipeline(ctx, r.stages(), depth, r.d.cfg.Logger) }()
	for {
		r.mu.Lock()
		all := r.committed == int64(len(r.msgs))
		r.mu.Unlock()
		if all || (stop != nil && stop()) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

// checkOrder checks that offsets were produced in order, none skipped
// (a batch produced again after a restart starts at or before the end
// of the previous ones).
func (r *partitionRig) checkDelivered() {
	r.t.Helper()
	seen := map[int64]bool{}
	for i, o := range r.produced {
		if i > 0 && o != r.produced[i-1]+1 && o > r.produced[i-1] {
			r.t.Fatalf("offset %d produced after %d: a batch was skipped or reordered", o, r.produced[i-1])
		}
		seen[o] = true
	}
	for _, m := range r.msgs {
		if !seen[m.Offset] {
			r.t.Fatalf("offset %d never produced", m.Offset)
		}
	}
}

// Several batches are made durable while an earlier one is produced, and
// still produced and committed in offset order, each after its audit.
func TestPipelineBatchesInFlight(t *testing.T) {
	for _, depth := range []int{1, 2, 4} {
		t.Run(fmt.Sprint("depth ", depth), func(t *testing.T) {
			r := newRig(t, 1000, 50, nil)
			var maxAhead int
			r.produceHook = func(ctx context.Context, p *prepared) error {
				// Every entry of this batch is in the log before it is served.
				if got := r.log.Size(); got < p.entries[len(p.entries)-1].Seq {
					t.Errorf("batch ending at %d produced with the log at %d entries", p.next, got)
				}
				// Let the batches behind catch up, then count how many are durable
				// past this one: that is what overlapped the produce.
				time.Sleep(2 * time.Millisecond)
				maxAhead = max(maxAhead, int(r.log.Size()-p.entries[len(p.entries)-1].Seq)/50)
				return nil
			}
			r.run(depth, nil)
			r.checkDelivered()
			if len(r.produced) != 1000 || r.log.Size() != 1000 {
				t.Fatalf("produced %d, audited %d; want 1000 each", len(r.produced), r.log.Size())
			}
			if maxAhead > depth {
				t.Errorf("%d batches durable ahead of the one produced, more than the bound %d", maxAhead, depth)
			}
			if depth > 1 && maxAhead == 0 {
				t.Errorf("no batch was made durable while another was produced (depth %d)", depth)
			}
			if n, err := r.st.CountState(context.Background(), "land"); err != nil || n != 37 {
				t.Fatalf("%d state rows (%v), want 37", n, err)
			}
		})
	}
}

// A failed state write is retried alone: the batch's audit entries, already
// durable, are not appended a second time (regression: the whole batch was
// retried, audit included).
func TestPipelineStateFailureAuditsOnce(t *testing.T) {
	flaky := &flakyState{fails: 3}
	r := newRig(t, 400, 100, flaky)
	r.run(4, nil)
	r.checkDelivered()
	if flaky.failed() != 3 {
		t.Fatalf("%d state failures, want 3", flaky.failed())
	}
	if r.log.Size() != 400 {
		t.Fatalf("%d audit entries for 400 deliveries: a retry appended them again", r.log.Size())
	}
	if len(r.produced) != 400 {
		t.Fatalf("%d produced, want 400", len(r.produced))
	}
}

// A failed produce is retried without auditing again, and the batches
// behind it wait (produce order is offset order).
func TestPipelineProduceFailureRetriedAlone(t *testing.T) {
	r := newRig(t, 400, 100, nil)
	fails := 2
	r.produceHook = func(ctx context.Context, p *prepared) error {
		if p.next == 200 && fails > 0 {
			fails--
			return errors.New("broker unavailable")
		}
		return nil
	}
	r.run(4, nil)
	r.checkDelivered()
	if len(r.produced) != 400 || r.log.Size() != 400 {
		t.Fatalf("produced %d, audited %d; want 400 each", len(r.produced), r.log.Size())
	}
}

// The process stops (or loses the partition) after batches were audited
// but before they were produced: nothing past the last produced batch is
// committed, so the next owner delivers them again from there; nothing is
// lost, and the audit holds the re-delivered entries twice (at least once).
func TestPipelineCrashBetweenAuditAndDelivery(t *testing.T) {
	r := newRig(t, 600, 100, nil)
	r.produceHook = func(ctx context.Context, p *prepared) error {
		if p.next > 200 {
			<-ctx.Done() // the broker hangs from the third batch on, until the process stops
			return errors.New("connection lost")
		}
		return nil
	}
	r.run(4, func() bool { // audited well past what was produced
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.committed == 200 && r.log.Size() >= 500
	})
	r.mu.Lock()
	committed, produced := r.committed, len(r.produced)
	r.mu.Unlock()
	if committed != 200 || produced != 200 {
		t.Fatalf("after the crash: committed %d, produced %d; want 200 each", committed, produced)
	}
	audited := r.log.Size()
	// The next owner starts at the committed offset.
	r.produceHook = nil
	r.pos = int(committed)
	r.run(4, nil)
	r.checkDelivered()
	if r.committed != 600 {
		t.Fatalf("committed %d after the restart, want 600", r.committed)
	}
	if want := audited + 400; r.log.Size() != want {
		t.Fatalf("%d audit entries, want %d (%d before the crash + 400 re-delivered)", r.log.Size(), want, audited)
	}
	if _, err := audit.Verify(mustEntries(t, r), nil); err != nil {
		t.Fatalf("the chain after a crash and re-delivery: %v", err)
	}
}

func mustEntries(t *testing.T, r *partitionRig) []store.AuditEntry {
	t.Helper()
	var all []store.AuditEntry
	for {
		es, err := r.st.ListAudit(context.Background(), store.AuditQuery{AfterSeq: int64(len(all)), Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
	}
}

// flakyState fails its first writes (a store outage, which a real store
// cannot be made to have on cue), then writes to the real store.
type flakyState struct {
	store.StateStore
	mu    sync.Mutex
	fails int
	n     int
}

func (f *flakyState) ApplyState(ctx context.Context, rows []store.StateRow, deletes []store.StateKey) error {
	f.mu.Lock()
	if f.n < f.fails {
		f.n++
		f.mu.Unlock()
		return errors.New("database is locked")
	}
	f.mu.Unlock()
	return f.StateStore.ApplyState(ctx, rows, deletes)
}

func (f *flakyState) failed() int { f.mu.Lock(); defer f.mu.Unlock(); return f.n }
