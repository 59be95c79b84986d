package sdktest_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/sdktest"
)

// memLog is a shared change log; memSource reads it from a position.
type memLog struct {
	mu      sync.Mutex
	changes []sdktest.Change
	grew    chan struct{}
}

type memSource struct {
	log  *memLog
	next int
}

func (s *memSource) Open(_ context.Context, p connectors.Position) error {
	if p != nil {
		s.next = int(binary.BigEndian.Uint64(p)) + 1
	}
	return nil
}

func (s *memSource) Read(ctx context.Context) ([]connectors.Record, error) {
	for {
		s.log.mu.Lock()
		grew := s.log.grew
		var out []connectors.Record
		for ; s.next < len(s.log.changes); s.next++ {
			c := s.log.changes[s.next]
			r := connectors.Record{Dataset: "t.t", Op: connectors.OpCreate, Position: binary.BigEndian.AppendUint64(nil, uint64(s.next)),
				Metadata: map[string]string{"index": fmt.Sprint(s.next)}}
			if c.Key == "" {
				r.Bad = connectors.Malformed("$", "entry is not a change", []byte("?"))
			} else {
				r.After = map[string]any{"k": c.Key, "v": c.Version}
			}
			out = append(out, r)
		}
		s.log.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-grew:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *memSource) Ack(context.Context, connectors.Position) error { return nil }
func (s *memSource) Close(context.Context) error                    { return nil }

// hookedSource counts the lifecycle calls the suite makes.
type hookedSource struct {
	memSource
	calls *[]string
}

func (s *hookedSource) TestConnection(context.Context) error {
	*s.calls = append(*s.calls, "test")
	return nil
}
func (s *hookedSource) OnCreate(context.Context) error {
	*s.calls = append(*s.calls, "create")
	return nil
}
func (s *hookedSource) OnUpdate(context.Context) error {
	*s.calls = append(*s.calls, "update")
	return nil
}
func (s *hookedSource) OnDelete(context.Context) error {
	*s.calls = append(*s.calls, "delete")
	return nil
}

func TestSuiteOnMemorySource(t *testing.T) {
	log := &memLog{grew: make(chan struct{})}
	write := func(cs []sdktest.Change) {
		log.mu.Lock()
		log.changes = append(log.changes, cs...)
		close(log.grew)
		log.grew = make(chan struct{})
		log.mu.Unlock()
	}
	var calls []string
	sdktest.Run(t, sdktest.Harness{
		NewSource: func(testing.TB) connectors.Source {
			return &hookedSource{memSource: memSource{log: log}, calls: &calls}
		},
		Write:    func(_ testing.TB, cs []sdktest.Change) { write(cs) },
		WriteBad: func(testing.TB) { write([]sdktest.Change{{}}) }, // an entry the source cannot read
		Identify: func(r connectors.Record) (string, int, bool) {
			return r.After["k"].(string), r.After["v"].(int), true
		},
	})
	// The host's order: test and create before the first Open, update
	// before a later one, delete at the end; each hook twice but update.
	if want := []string{"test", "create", "create", "update", "delete", "delete"}; !slices.Equal(calls, want) {
		t.Errorf("lifecycle calls %v, want %v", calls, want)
	}
}
