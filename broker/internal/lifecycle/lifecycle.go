// Package lifecycle runs a program as an ordered list of components: each
// is started in turn, and they are closed in reverse, so a part is always
// stopped before the parts it uses. It is the one place that owns the
// order of start and stop; the bus (broker/runtime) is such a list.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Component is one part of a running program.
//
// Close is called once for every component whose Start was called, even
// one whose Start failed, so Close must cope with a partial start (close
// what is there, skip what is not). Close should give up waiting when ctx
// is done; work it cannot finish then is the component's to make safe
// (for example by not having saved a position yet).
type Component interface {
	Start(ctx context.Context) error
	Close(ctx context.Context) error
}

// Part is a named component; the name is what errors say.
type Part struct {
	Name string
	Component
}

// Func is a Component made of two functions; a nil one does nothing.
type Func struct {
	OnStart func(ctx context.Context) error
	OnClose func(ctx context.Context) error
}

func (f Func) Start(ctx context.Context) error {
	if f.OnStart == nil {
		return nil
	}
	return f.OnStart(ctx)
}

func (f Func) Close(ctx context.Context) error {
	if f.OnClose == nil {
		return nil
	}
	return f.OnClose(ctx)
}

// Runner starts parts in order and closes the started ones in reverse. It
// is used once: Start, then Close (any number of times).
type Runner struct {
	mu       sync.Mutex
	started  []Part // in start order, the failed one included
	closing  bool
	closeErr error
	done     chan struct{} // closed when the first Close has finished
}

// Start starts parts in order. When one fails, it and the ones started
// before it are closed in reverse, and the error names the part that
// failed (and any part that then did not close cleanly).
func (r *Runner) Start(ctx context.Context, parts ...Part) error {
	for _, p := range parts {
		r.mu.Lock()
		if r.closing {
			r.mu.Unlock()
			return errors.New("lifecycle: start after close")
		}
		r.started = append(r.started, p) // before Start: a failed start is closed too
		r.mu.Unlock()
		if err := p.Start(ctx); err != nil {
			err = fmt.Errorf("%s: %w", p.Name, err)
			// Closing what started must not be cut short by the start's
			// context, which may be the reason the start failed.
			if cerr := r.Close(context.WithoutCancel(ctx)); cerr != nil {
				err = errors.Join(err, fmt.Errorf("and then: %w", cerr))
			}
			return err
		}
	}
	return nil
}

// Close closes every started part, the last started first. Every part is
// closed even when ctx is done or another part's Close fails; the errors
// are joined, each named by its part. Later calls wait for the first and
// return its result.
func (r *Runner) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closing {
		done := r.done
		r.mu.Unlock()
		<-done
		return r.closeErr
	}
	r.closing = true
	r.done = make(chan struct{})
	parts := r.started
	r.mu.Unlock()

	var errs []error
	for i := len(parts) - 1; i >= 0; i-- {
		if err := parts[i].Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", parts[i].Name, err))
		}
	}
	r.closeErr = errors.Join(errs...)
	close(r.done)
	return r.closeErr
}

// Workers runs goroutines until it is stopped: the usual body of a
// component that works in the background. The zero Workers is not
// usable; make one with NewWorkers. A nil *Workers stops at once, so a
// Close can stop workers its Start never made.
type Workers struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewWorkers makes a group whose goroutines run under a context that
// keeps ctx's values but not its cancellation: they stop on Stop only, so
// the context a program was started with does not stop it.
func NewWorkers(ctx context.Context) *Workers {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &Workers{ctx: wctx, cancel: cancel}
}

// Go runs fn in a goroutine of the group; fn returns when its context is
// done. A goroutine of the group may call Go.
func (w *Workers) Go(fn func(ctx context.Context)) {
	w.wg.Add(1)
	go func() { defer w.wg.Done(); fn(w.ctx) }()
}

// Stop cancels the group's context and waits for its goroutines, or until
// ctx is done: then it returns an error and leaves them to finish alone.
func (w *Workers) Stop(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.cancel()
	done := make(chan struct{})
	go func() { defer close(done); w.wg.Wait() }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopped waiting for it to finish: %w", ctx.Err())
	}
}

// Loops is a Component that runs each fn in a goroutine from Start until
// Close.
func Loops(fns ...func(ctx context.Context)) Component {
	return &loops{fns: fns}
}

type loops struct {
	fns []func(context.Context)
	w   *Workers
}

func (l *loops) Start(ctx context.Context) error {
	l.w = NewWorkers(ctx)
	for _, fn := range l.fns {
		l.w.Go(fn)
	}
	return nil
}

func (l *loops) Close(ctx context.Context) error { return l.w.Stop(ctx) }
