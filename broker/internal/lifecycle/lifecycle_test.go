package lifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

// journal records what the fake components did, in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) add(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

// fake starts and closes by writing to the journal; it fails where told.
func fake(j *journal, name string, startErr, closeErr error) Part {
	return Part{Name: name, Component: Func{
		OnStart: func(context.Context) error { j.add("start " + name); return startErr },
		OnClose: func(context.Context) error { j.add("close " + name); return closeErr },
	}}
}

func TestRunner(t *testing.T) {
	boom, stuck := errors.New("boom"), errors.New("stuck")
	tests := []struct {
		name      string
		parts     func(*journal) []Part
		wantStart string // "" for no error; else a substring of the error
		startLog  []string
		closeErr  string // substring of Close's error; "" for none
		closeLog  []string
	}{
		{
			name: "started in order, closed in reverse",
			parts: func(j *journal) []Part {
				return []Part{fake(j, "a", nil, nil), fake(j, "b", nil, nil), fake(j, "c", nil, nil)}
			},
			startLog: []string{"start a", "start b", "start c"},
			closeLog: []string{"close c", "close b", "close a"},
		},
		{
			name: "a failure in the middle closes it and the started ones, in reverse; the rest never start",
			parts: func(j *journal) []Part {
				return []Part{fake(j, "a", nil, nil), fake(j, "b", nil, nil), fake(j, "c", boom, nil), fake(j, "d", nil, nil)}
			},
			wantStart: "c: boom",
			startLog:  []string{"start a", "start b", "start c", "close c", "close b", "close a"},
			closeLog:  []string{},
		},
		{
			name: "a failure in the first part closes only it",
			parts: func(j *journal) []Part {
				return []Part{fake(j, "a", boom, nil), fake(j, "b", nil, nil)}
			},
			wantStart: "a: boom",
			startLog:  []string{"start a", "close a"},
			closeLog:  []string{},
		},
		{
			name: "a failed close does not stop the others and is named",
			parts: func(j *journal) []Part {
				return []Part{fake(j, "a", nil, nil), fake(j, "b", nil, stuck), fake(j, "c", nil, nil)}
			},
			startLog: []string{"start a", "start b", "start c"},
			closeErr: "b: stuck",
			closeLog: []string{"close c", "close b", "close a"},
		},
		{
			name: "close errors after a failed start are told with the start error",
			parts: func(j *journal) []Part {
				return []Part{fake(j, "a", nil, stuck), fake(j, "b", boom, nil)}
			},
			wantStart: "b: boom\nand then: a: stuck",
			startLog:  []string{"start a", "start b", "close b", "close a"},
			closeLog:  []string{},
			closeErr:  "a: stuck", // a later Close returns the first one's result
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &journal{}
			var r Runner
			err := r.Start(context.Background(), tt.parts(j)...)
			switch {
			case tt.wantStart == "" && err != nil:
				t.Fatalf("Start: %v", err)
			case tt.wantStart != "" && (err == nil || !strings.Contains(err.Error(), tt.wantStart)):
				t.Fatalf("Start: %v, want an error containing %q", err, tt.wantStart)
			}
			if tt.wantStart != "" && !errors.Is(err, boom) {
				t.Errorf("Start's error %v does not wrap the component's", err)
			}
			if got := j.list(); !slices.Equal(got, tt.startLog) {
				t.Errorf("after Start: %q, want %q", got, tt.startLog)
			}
			n := len(j.list())
			for i := range 2 { // Close is idempotent: the second call closes nothing again
				err := r.Close(context.Background())
				if tt.closeErr == "" && err != nil || tt.closeErr != "" && (err == nil || !strings.Contains(err.Error(), tt.closeErr)) {
					t.Errorf("Close #%d: %v, want %q", i+1, err, tt.closeErr)
				}
			}
			if got := j.list()[n:]; !slices.Equal(got, tt.closeLog) {
				t.Errorf("Close: %q, want %q", got, tt.closeLog)
			}
		})
	}
}

// Concurrent Closes close each part once, and every caller returns only
// when the parts are closed.
func TestRunnerConcurrentClose(t *testing.T) {
	j := &journal{}
	release := make(chan struct{})
	slow := Part{Name: "slow", Component: Func{OnClose: func(context.Context) error { <-release; j.add("close slow"); return nil }}}
	var r Runner
	if err := r.Start(context.Background(), fake(j, "a", nil, nil), slow); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	returned := make(chan []string, 3)
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Close(context.Background()); returned <- j.list() }()
	}
	close(release)
	wg.Wait()
	close(returned)
	want := []string{"start a", "close slow", "close a"}
	for got := range returned {
		if !slices.Equal(got, want) {
			t.Errorf("a Close returned having seen %q, want %q", got, want)
		}
	}
}

func TestStartAfterClose(t *testing.T) {
	j := &journal{}
	var r Runner
	_ = r.Close(context.Background())
	if err := r.Start(context.Background(), fake(j, "a", nil, nil)); err == nil {
		t.Fatal("Start after Close: no error")
	}
	if got := j.list(); len(got) != 0 {
		t.Errorf("Start after Close started %q", got)
	}
}

// The start context's cancellation does not stop workers; Stop does, and
// waits for them, including one started by another worker.
func TestWorkers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := NewWorkers(ctx)
	j := &journal{}
	running := make(chan struct{}, 2)
	loop := func(name string) func(context.Context) {
		return func(ctx context.Context) {
			running <- struct{}{}
			<-ctx.Done()
			j.add("stopped " + name)
		}
	}
	w.Go(func(ctx context.Context) {
		w.Go(loop("child"))
		loop("parent")(ctx)
	})
	<-running
	<-running
	cancel()
	if got := j.list(); len(got) != 0 {
		t.Fatalf("cancelling the start context stopped workers: %q", got)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := j.list()
	slices.Sort(got)
	if want := []string{"stopped child", "stopped parent"}; !slices.Equal(got, want) {
		t.Errorf("after Stop: %q, want %q", got, want)
	}
	var none *Workers
	if err := none.Stop(context.Background()); err != nil {
		t.Errorf("nil Workers: %v", err)
	}
}

// Stop gives up when its context is done and says so; the worker is left
// to finish.
func TestWorkersStopBounded(t *testing.T) {
	w := NewWorkers(context.Background())
	release := make(chan struct{})
	finished := make(chan struct{})
	w.Go(func(context.Context) { <-release; close(finished) }) // ignores its context
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop with a done context: %v, want context.Canceled", err)
	}
	close(release)
	<-finished
}

func TestLoops(t *testing.T) {
	j := &journal{}
	started := make(chan struct{}, 2)
	l := Loops(
		func(ctx context.Context) { started <- struct{}{}; <-ctx.Done(); j.add("one") },
		func(ctx context.Context) { started <- struct{}{}; <-ctx.Done(); j.add("two") },
	)
	var r Runner
	if err := r.Start(context.Background(), Part{"loops", l}); err != nil {
		t.Fatal(err)
	}
	<-started
	<-started
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := j.list()
	slices.Sort(got)
	if !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("after Close: %q", got)
	}
}
