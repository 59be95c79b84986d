package runtime

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
)

// hooked is a sequence with lifecycle hooks that records every call, in
// order with Open; the first failCreate OnCreate calls fail.
type hooked struct {
	*sequence
	mu         sync.Mutex
	calls      *[]string
	failCreate int
}

func (h *hooked) note(s string) {
	h.mu.Lock()
	*h.calls = append(*h.calls, s)
	h.mu.Unlock()
}

func (h *hooked) Open(ctx context.Context, p connectors.Position) error {
	h.note("open")
	return h.sequence.Open(ctx, p)
}

func (h *hooked) OnCreate(context.Context) error {
	h.note("create")
	if h.failCreate > 0 {
		h.failCreate--
		return connectors.Backoff(errors.New("database not reachable yet"))
	}
	return nil
}
func (h *hooked) OnUpdate(context.Context) error { h.note("update"); return nil }
func (h *hooked) OnDelete(context.Context) error { h.note("delete"); return nil }

// runUntilAcked runs a connector until it acknowledged n records, then stops it.
func runUntilAcked(t *testing.T, src connectors.Source, cp Checkpoints, hash []byte, n uint64) State {
	t.Helper()
	sk := &sink{failAt: -1}
	c := New("land", func() (connectors.Source, error) { return src, nil }, sk.submit, cp,
		Options{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond, ConfigHash: hash})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	waitAcked(t, c, n)
	cancel()
	<-done
	return c.State()
}

// The runtime calls OnCreate before the first Open of a new connector,
// OnUpdate before the first Open after its config changed, nothing when
// the config is the same, and retries a failing hook before opening.
func TestRuntimeCallsLifecycleHooks(t *testing.T) {
	cp := &memCheckpoints{pos: map[string]connectors.Position{}}
	var calls []string
	steps := []struct {
		name       string
		hash       string
		failCreate int
		want       []string
		lifecycle  string
	}{
		{"first start", "h1", 2, []string{"create", "create", "create", "open"}, "created"},
		{"restart, same config", "h1", 0, []string{"open"}, ""},
		{"config changed", "h2", 0, []string{"update", "open"}, "updated"},
		{"restart after the change", "h2", 0, []string{"open"}, ""},
	}
	for i, st := range steps {
		calls = calls[:0]
		src := &hooked{sequence: &sequence{n: 3 * (i + 1), batch: 3}, calls: &calls, failCreate: st.failCreate}
		state := runUntilAcked(t, src, cp, []byte(st.hash), 3)
		if !slices.Equal(calls, st.want) {
			t.Errorf("%s: calls %v, want %v", st.name, calls, st.want)
		}
		if state.Lifecycle != st.lifecycle {
			t.Errorf("%s: state lifecycle %q, want %q", st.name, state.Lifecycle, st.lifecycle)
		}
		if got := string(cp.pos[ConfigHashKey("land")]); got != st.hash {
			t.Errorf("%s: stored hash %q, want %q", st.name, got, st.hash)
		}
	}
}

// A connector that has a position but no stored hash ran before hashes
// were kept: it is not created again, and its hash is recorded.
func TestRuntimeRecordsHashOfAnExistingConnector(t *testing.T) {
	cp := &memCheckpoints{pos: map[string]connectors.Position{"land": pos(2)}}
	var calls []string
	src := &hooked{sequence: &sequence{n: 6, batch: 3}, calls: &calls}
	runUntilAcked(t, src, cp, []byte("h1"), 3)
	if !slices.Equal(calls, []string{"open"}) || string(cp.pos[ConfigHashKey("land")]) != "h1" {
		t.Errorf("calls %v, stored hash %q", calls, cp.pos[ConfigHashKey("land")])
	}
	// A reset to the beginning keeps the connector: no OnCreate either.
	cp.pos["land"] = connectors.Position{}
	calls = calls[:0]
	runUntilAcked(t, &hooked{sequence: &sequence{n: 3, batch: 3}, calls: &calls}, cp, []byte("h1"), 3)
	if !slices.Equal(calls, []string{"open"}) {
		t.Errorf("after a reset: calls %v", calls)
	}
}
