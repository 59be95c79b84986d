package sdktest_test

import (
	"context"
	"encoding/binary"
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
			out = append(out, connectors.Record{Dataset: "t.t", Op: connectors.OpCreate,
				After:    map[string]any{"k": c.Key, "v": c.Version},
				Position: binary.BigEndian.AppendUint64(nil, uint64(s.next))})
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

func TestSuiteOnMemorySource(t *testing.T) {
	log := &memLog{grew: make(chan struct{})}
	sdktest.Run(t, sdktest.Harness{
		NewSource: func(testing.TB) connectors.Source { return &memSource{log: log} },
		Write: func(_ testing.TB, cs []sdktest.Change) {
			log.mu.Lock()
			log.changes = append(log.changes, cs...)
			close(log.grew)
			log.grew = make(chan struct{})
			log.mu.Unlock()
		},
		Identify: func(r connectors.Record) (string, int, bool) {
			return r.After["k"].(string), r.After["v"].(int), true
		},
	})
}
