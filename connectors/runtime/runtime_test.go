package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
)

// sequence is an in-memory source of n numbered records; it can be told to
// fail temporarily.
type sequence struct {
	n, batch int
	next     int
	backoffs int // Read returns ErrBackoff this many times first
	mu       sync.Mutex
	acked    []int
}

func pos(i int) connectors.Position { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

func (s *sequence) Open(_ context.Context, p connectors.Position) error {
	s.next = 0
	if p != nil {
		s.next = int(binary.BigEndian.Uint64(p)) + 1
	}
	return nil
}

func (s *sequence) Read(ctx context.Context) ([]connectors.Record, error) {
	if s.backoffs > 0 {
		s.backoffs--
		return nil, connectors.Backoff(errors.New("database restarting"))
	}
	if s.next >= s.n {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var out []connectors.Record
	for ; s.next < s.n && len(out) < s.batch; s.next++ {
		out = append(out, connectors.Record{Dataset: "d", Op: connectors.OpCreate, After: map[string]any{"i": s.next}, Position: pos(s.next)})
	}
	return out, nil
}

func (s *sequence) Ack(_ context.Context, p connectors.Position) error {
	s.mu.Lock()
	s.acked = append(s.acked, int(binary.BigEndian.Uint64(p)))
	s.mu.Unlock()
	return nil
}

func (s *sequence) Close(context.Context) error { return nil }

type memCheckpoints struct {
	mu  sync.Mutex
	pos map[string]connectors.Position
}

func (m *memCheckpoints) Load(_ context.Context, name string) (connectors.Position, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.pos[name]
	return p, ok, nil
}

func (m *memCheckpoints) Save(_ context.Context, name string, p connectors.Position) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pos[name] = p
	return nil
}

// sink records what it received; failAt makes the batch containing that
// record fail once (Kafka did not acknowledge it).
type sink struct {
	mu     sync.Mutex
	got    []int
	failAt int
	failed bool
	delay  time.Duration // how long Kafka takes to acknowledge (default 1ms)
}

func (s *sink) submit(_ context.Context, _ string, recs []connectors.Record) (func(context.Context) error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var fail bool
	for _, r := range recs {
		i := r.After["i"].(int)
		s.got = append(s.got, i)
		if i == s.failAt && !s.failed {
			fail, s.failed = true, true
		}
	}
	delay := s.delay
	if delay == 0 {
		delay = time.Millisecond
	}
	return func(context.Context) error {
		time.Sleep(delay) // Kafka takes a moment
		if fail {
			return errors.New("not acknowledged")
		}
		return nil
	}, nil
}

func waitAcked(t *testing.T, c *Connector, n uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.State().Acked < n {
		if time.Now().After(deadline) {
			t.Fatalf("acked %d of %d: %+v", c.State().Acked, n, c.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRuntimeDeliversEveryRecordAtLeastOnceInOrder(t *testing.T) {
	tests := []struct {
		name     string
		failAt   int
		backoffs int
	}{
		{"clean run", -1, 0},
		{"temporary source failure", -1, 3},
		{"a batch Kafka did not acknowledge", 137, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &sequence{n: 500, batch: 25, backoffs: tt.backoffs}
			cp := &memCheckpoints{pos: map[string]connectors.Position{}}
			sk := &sink{failAt: tt.failAt}
			c := New("seq", func() (connectors.Source, error) { return src, nil }, sk.submit, cp, Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxInFlight: 4})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { c.Run(ctx); close(done) }()
			waitAcked(t, c, 500-25) // the failed batch's records are re-read, so count from the checkpoint
			for {
				p, _, _ := cp.Load(ctx, "seq")
				if p != nil && binary.BigEndian.Uint64(p) == 499 {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			<-done
			// Every record reached the sink; after a failure the batch and
			// the ones behind it were sent again, in order.
			seen := map[int]bool{}
			last := -1
			for _, i := range sk.got {
				seen[i] = true
				if i != last+1 && tt.failAt < 0 {
					t.Fatalf("out of order: %d after %d", i, last)
				}
				last = i
			}
			if len(seen) != 500 {
				t.Fatalf("sink saw %d distinct records, want 500", len(seen))
			}
			// Acks are increasing and never skip past an unacknowledged batch.
			src.mu.Lock()
			defer src.mu.Unlock()
			for k := 1; k < len(src.acked); k++ {
				if src.acked[k] <= src.acked[k-1] {
					t.Fatalf("acks not increasing: %v", src.acked)
				}
			}
			if tt.failAt >= 0 {
				for _, a := range src.acked {
					if a >= tt.failAt && !sk.failed {
						t.Fatal("acked past a failed batch")
					}
				}
				if c.State().Errors == 0 {
					t.Error("the failure was not counted")
				}
			}
		})
	}
}

func TestRuntimeResumesFromCheckpoint(t *testing.T) {
	cp := &memCheckpoints{pos: map[string]connectors.Position{"seq": pos(99)}}
	src := &sequence{n: 200, batch: 10}
	sk := &sink{failAt: -1}
	c := New("seq", func() (connectors.Source, error) { return src, nil }, sk.submit, cp, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitAcked(t, c, 100)
	cancel()
	<-done
	if sk.got[0] != 100 {
		t.Fatalf("resumed at %d, want 100", sk.got[0])
	}
	if st := c.State(); st.Status != "stopped" || st.Position != fmt.Sprintf("%016x", 199) {
		t.Fatalf("state %+v", st)
	}
}

// trickle is a source that yields one record per Read, a little apart, as a
// rate-limited or quiet source does.
type trickle struct{ sequence }

func (s *trickle) Read(ctx context.Context) ([]connectors.Record, error) {
	time.Sleep(time.Millisecond)
	return s.sequence.Read(ctx)
}

// A steady trickle of small batches must not postpone acknowledgements
// until the stream ends (regression: coalescing used to follow the queue).
func TestRuntimeAcksWhileTrickling(t *testing.T) {
	src := &trickle{sequence{n: 400, batch: 1}}
	cp := &memCheckpoints{pos: map[string]connectors.Position{}}
	sk := &sink{failAt: -1, delay: 5 * time.Millisecond} // slower than the trickle, like a batch timeout
	c := New("trickle", func() (connectors.Source, error) { return src, nil }, sk.submit, cp, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for c.State().Read < 200 {
		if time.Now().After(deadline) {
			t.Fatalf("reader stalled: %+v", c.State())
		}
		time.Sleep(time.Millisecond)
	}
	if st := c.State(); st.Acked == 0 {
		t.Fatalf("nothing acknowledged after %d records read", st.Read)
	}
}

func TestResetRestartsAtTheGivenPosition(t *testing.T) {
	src := &sequence{n: 1000, batch: 10}
	cp := &memCheckpoints{pos: map[string]connectors.Position{}}
	sk := &sink{failAt: -1}
	c := New("seq", func() (connectors.Source, error) { return src, nil }, sk.submit, cp, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitAcked(t, c, 1000)

	for _, tt := range []struct {
		pos  connectors.Position
		next int
	}{{pos(499), 500}, {nil, 0}} {
		sk.mu.Lock()
		sk.got = nil
		sk.mu.Unlock()
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		if err := c.Reset(rctx, tt.pos); err != nil {
			t.Fatal(err)
		}
		rcancel()
		deadline := time.Now().Add(10 * time.Second)
		for {
			sk.mu.Lock()
			n := len(sk.got)
			first := -1
			if n > 0 {
				first = sk.got[0]
			}
			sk.mu.Unlock()
			if n > 0 {
				if first != tt.next {
					t.Fatalf("after reset to %v the first record read is %d, want %d", tt.pos, first, tt.next)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("nothing read after reset: %+v", c.State())
			}
			time.Sleep(5 * time.Millisecond)
		}
		// let this run read to the end before the next reset, so none of
		// its records is still on its way to the sink when the next one
		// clears it
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			sk.mu.Lock()
			last := -1
			if len(sk.got) > 0 {
				last = sk.got[len(sk.got)-1]
			}
			sk.mu.Unlock()
			if last == 999 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the run after reset to %v did not reach the end: %+v", tt.pos, c.State())
			}
		}
	}
	if st := c.State(); st.Resets != 2 {
		t.Fatalf("resets counted %d", st.Resets)
	}
	// A stopped connector cannot be reset; the caller is told.
	cancel()
	<-done
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := c.Reset(short, nil); err == nil {
		t.Fatal("reset of a stopped connector reported success")
	}
	done = make(chan struct{})
	close(done)
}

// heartbeating is a sequence that counts the runtime's heartbeats.
type heartbeating struct {
	sequence
	beats atomic.Int64
}

func (h *heartbeating) Heartbeat(context.Context) error { h.beats.Add(1); return nil }

// TestRuntimeHeartbeatsIdleSource: once everything is read and acknowledged
// the source is idle, and the runtime calls Heartbeat on it; while records
// flow it does not.
func TestRuntimeHeartbeatsIdleSource(t *testing.T) {
	src := &heartbeating{sequence: sequence{n: 20, batch: 5}}
	cp := &memCheckpoints{pos: map[string]connectors.Position{}}
	sk := &sink{}
	c := New("hb", func() (connectors.Source, error) { return src, nil }, sk.submit, cp, Options{HeartbeatEvery: 40 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitAcked(t, c, 20)
	deadline := time.Now().Add(10 * time.Second)
	for src.beats.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("idle source got %d heartbeats in 10s, want at least 3", src.beats.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.State().Heartbeats; got < 3 {
		t.Fatalf("state counts %d heartbeats, want at least 3", got)
	}
	cancel()
	<-done
}

// flakyCheckpoints fails its first saves, as a database that restarts does.
type flakyCheckpoints struct {
	memCheckpoints
	failures int
}

func (f *flakyCheckpoints) Save(ctx context.Context, name string, p connectors.Position) error {
	f.mu.Lock()
	if f.failures > 0 {
		f.failures--
		f.mu.Unlock()
		return errors.New("connection refused")
	}
	f.mu.Unlock()
	return f.memCheckpoints.Save(ctx, name, p)
}

// A position save that fails for a while (the store restarting) is
// retried: the connector neither restarts nor sends anything twice.
func TestRuntimeRetriesAFailedPositionSave(t *testing.T) {
	src := &sequence{n: 300, batch: 10}
	cp := &flakyCheckpoints{memCheckpoints: memCheckpoints{pos: map[string]connectors.Position{}}, failures: 4}
	sk := &sink{failAt: -1}
	c := New("seq", func() (connectors.Source, error) { return src, nil }, sk.submit, cp, Options{MaxInFlight: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitAcked(t, c, 300)
	cancel()
	<-done
	if len(sk.got) != 300 {
		t.Errorf("the sink got %d records for 300: a failed save made the connector read again", len(sk.got))
	}
	if p, _, _ := cp.Load(context.Background(), "seq"); binary.BigEndian.Uint64(p) != 299 {
		t.Errorf("saved position %d, want 299", binary.BigEndian.Uint64(p))
	}
}
