// Package runtime drives connector sources: it resumes each from its last
// acknowledged position, hands batches to the bus, keeps a bounded number of
// batches in flight (back-pressure when Kafka is slow), acknowledges
// positions strictly in order and only once the bus says a batch is durable,
// and restarts a failed source with exponential back-off and jitter. Before
// it opens a source it calls the source's lifecycle hooks when due
// (connectors.LifecycleHooks: OnCreate on the first start, OnUpdate after a
// config change, detected with a hash of the config kept next to the
// position).
package runtime

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
)

// Sink accepts a batch from a connector. It returns once the batch is
// queued; wait returns once every record of it is durable (nil) or failed.
// Batches of one connector are submitted in order from one goroutine.
type Sink func(ctx context.Context, connector string, recs []connectors.Record) (wait func(context.Context) error, err error)

// Checkpoints stores each connector's last acknowledged position.
type Checkpoints interface {
	Load(ctx context.Context, connector string) (pos connectors.Position, found bool, err error)
	Save(ctx context.Context, connector string, pos connectors.Position) error
}

// Options tunes a connector's runtime; zero values take the defaults.
type Options struct {
	// MaxInFlight is how many batches may wait for Kafka at once (default 8).
	MaxInFlight int
	// MinBackoff and MaxBackoff bound the retry delay (defaults 200ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	// DrainTimeout bounds how long a stopping connector waits for in-flight
	// batches so their positions can still be acknowledged (default 10s).
	DrainTimeout time.Duration
	// HeartbeatEvery is how long a connector may be idle (nothing read,
	// nothing acknowledged) before the runtime calls the source's Heartbeat,
	// for sources that implement connectors.Heartbeater (default 10s).
	HeartbeatEvery time.Duration
	// ConfigHash identifies the connector's config (connectors.HashConfig
	// of the decoded config). It is kept under ConfigHashKey(name) in the
	// Checkpoints; when it differs from the stored one the source's OnUpdate
	// is called before Open. Nil: the connector has no config to compare.
	ConfigHash []byte
	Logger     *slog.Logger
}

// ConfigHashKey is the Checkpoints key under which the hash of the config a
// connector last ran with is kept, next to its position. Connector names
// are source names (letters, digits, _), so it cannot collide with one.
func ConfigHashKey(connector string) string { return connector + "#config" }

// noConfigHash is stored for a connector without a config hash, so its
// first start is still recorded.
var noConfigHash = []byte("-")

func (o *Options) defaults() {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 8
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 10 * time.Second
	}
	if o.HeartbeatEvery <= 0 {
		o.HeartbeatEvery = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// State is a connector's state as shown to operators.
type State struct {
	Name      string    `json:"name"`
	Status    string    `json:"status"` // starting, running, backoff, stopped, failed
	Position  string    `json:"position"`
	Read      uint64    `json:"records_read"`
	Acked     uint64    `json:"records_acked"`
	Errors    uint64    `json:"errors"`
	Resets    uint64    `json:"resets"`
	LastError string    `json:"last_error,omitempty"`
	Since     time.Time `json:"since"`
	// Heartbeats counts the runtime's Heartbeat calls on an idle source.
	Heartbeats uint64 `json:"heartbeats,omitempty"`
	// Snapshot is the initial snapshot's progress, for sources that take one.
	Snapshot *connectors.SnapshotStatus `json:"snapshot,omitempty"`
	// Lifecycle is the last lifecycle hook this process called on the
	// source: "created" (OnCreate) or "updated" (OnUpdate).
	Lifecycle string `json:"lifecycle,omitempty"`
}

// resetRequest asks the running connector to restart at pos.
type resetRequest struct {
	pos  connectors.Position
	done chan error
}

// Connector is one running source under supervision.
type Connector struct {
	name   string
	newSrc func() (connectors.Source, error)
	sink   Sink
	cp     Checkpoints
	opts   Options

	mu     sync.Mutex
	state  State
	source connectors.Source // the open source, for its optional capabilities
	resets chan resetRequest
	active atomic.Int64 // unix nanos of the last read or ack, for heartbeats
}

// New prepares a connector; newSource is called at every (re)start.
func New(name string, newSource func() (connectors.Source, error), sink Sink, cp Checkpoints, opts Options) *Connector {
	opts.defaults()
	return &Connector{name: name, newSrc: newSource, sink: sink, cp: cp, opts: opts, state: State{Name: name, Status: "starting", Since: time.Now()},
		resets: make(chan resetRequest)}
}

// Name is the connector's name.
func (c *Connector) Name() string { return c.name }

// Reset makes the running connector restart from pos (nil or empty: from the
// beginning). Batches already in flight are drained and acknowledged first,
// then pos is saved as the connector's position, so the restart reads from
// exactly there. It waits until the reset is done or ctx ends.
func (c *Connector) Reset(ctx context.Context, pos connectors.Position) error {
	req := resetRequest{pos: pos, done: make(chan error, 1)}
	select {
	case c.resets <- req:
	case <-ctx.Done():
		return fmt.Errorf("runtime: connector %s is not running, nothing was reset: %w", c.name, ctx.Err())
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// State returns a snapshot of the connector's state.
func (c *Connector) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.state
	if sn, ok := c.source.(connectors.Snapshotter); ok {
		ss := sn.SnapshotStatus()
		st.Snapshot = &ss
	}
	return st
}

func (c *Connector) update(f func(s *State)) {
	c.mu.Lock()
	f(&c.state)
	c.mu.Unlock()
}

// Run supervises the connector until ctx is done: each failure is logged and
// followed by a back-off; a source that keeps failing keeps being retried,
// because a ministry database coming back must not need an operator.
func (c *Connector) Run(ctx context.Context) {
	attempt := 0
	for ctx.Err() == nil {
		attemptCtx, cancel := context.WithCancel(ctx)
		type result struct {
			progressed bool
			err        error
		}
		done := make(chan result, 1)
		go func() {
			p, err := c.runOnce(attemptCtx)
			done <- result{p, err}
		}()
		var r result
		select {
		case r = <-done:
			cancel()
		case req := <-c.resets:
			cancel()
			<-done // in-flight batches drained and acknowledged
			c.applyReset(ctx, req)
			attempt = 0
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if r.progressed {
			attempt = 0
		}
		attempt++
		delay := backoff(c.opts.MinBackoff, c.opts.MaxBackoff, attempt)
		c.opts.Logger.Warn("connector stopped, restarting", "connector", c.name, "error", r.err, "retry_in", delay.String())
		c.update(func(s *State) {
			s.Status, s.Errors, s.Since = "backoff", s.Errors+1, time.Now()
			if r.err != nil {
				s.LastError = r.err.Error()
			}
		})
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		case req := <-c.resets:
			c.applyReset(ctx, req)
			attempt = 0
		}
	}
	c.update(func(s *State) { s.Status, s.Since = "stopped", time.Now() })
}

// applyReset saves the requested position while no source is open.
func (c *Connector) applyReset(ctx context.Context, req resetRequest) {
	pos := req.pos
	if pos == nil {
		pos = connectors.Position{}
	}
	err := c.cp.Save(ctx, c.name, pos)
	if err == nil {
		c.opts.Logger.Info("connector position reset", "connector", c.name, "position", hex.EncodeToString(pos))
		c.update(func(s *State) {
			s.Position, s.Resets, s.Status, s.Since = hex.EncodeToString(pos), s.Resets+1, "starting", time.Now()
		})
	} else {
		err = fmt.Errorf("runtime: save reset position of %s: %w", c.name, err)
	}
	req.done <- err
}

// backoff is exponential with full jitter, so many connectors failing
// together (Kafka restarting) do not retry in lock-step.
func backoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo << min(attempt, 20)
	if d <= 0 || d > hi {
		d = hi
	}
	return lo + rand.N(d)
}

// coalesceWindow bounds how long acknowledgements are held back to be merged.
const coalesceWindow = 50 * time.Millisecond

type inflight struct {
	wait func(context.Context) error
	pos  connectors.Position
	n    int
}

// runOnce opens the source at its checkpoint and streams until an error or
// ctx is done. progressed reports whether any batch was acknowledged.
func (c *Connector) runOnce(ctx context.Context) (progressed bool, err error) {
	pos, found, err := c.cp.Load(ctx, c.name)
	if err != nil {
		return false, fmt.Errorf("load position: %w", err)
	}
	if len(pos) == 0 {
		pos = nil // reset to the beginning
	}
	src, err := c.newSrc()
	if err != nil {
		return false, fmt.Errorf("build source: %w", err)
	}
	if err := c.lifecycle(ctx, src, found); err != nil {
		_ = src.Close(context.Background())
		return false, err
	}
	if err := src.Open(ctx, pos); err != nil {
		_ = src.Close(context.Background())
		return false, fmt.Errorf("open at position %s: %w", hex.EncodeToString(pos), err)
	}
	c.mu.Lock()
	c.source = src
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.source = nil
		c.mu.Unlock()
	}()
	c.update(func(s *State) { s.Status, s.Position, s.Since = "running", hex.EncodeToString(pos), time.Now() })

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	c.active.Store(time.Now().UnixNano())
	if hb, ok := src.(connectors.Heartbeater); ok {
		go c.heartbeatLoop(readCtx, hb)
	}
	queue := make(chan inflight, c.opts.MaxInFlight)
	readErr := make(chan error, 1)
	go func() {
		defer close(queue)
		readErr <- c.readLoop(readCtx, src, queue)
	}()

	ackErr := c.ackLoop(ctx, src, queue, &progressed)
	if ackErr != nil {
		stopReading()
		for range queue { // let the reader finish
		}
	}
	rerr := <-readErr
	_ = src.Close(context.Background())
	switch {
	case ackErr != nil:
		return progressed, ackErr
	case rerr != nil && !errors.Is(rerr, context.Canceled):
		return progressed, rerr
	}
	return progressed, ctx.Err()
}

// lifecycle calls the source's hooks when due, before Open: OnCreate when
// the connector has neither a position nor a config hash (its first
// start), OnUpdate when the stored config hash differs from the current
// one. The hash is stored only after the hook succeeded, so a failed hook
// is called again at the next attempt (hooks are idempotent). A connector
// with a position but no stored hash predates the hash: it is recorded
// without a call.
func (c *Connector) lifecycle(ctx context.Context, src connectors.Source, havePos bool) error {
	want := c.opts.ConfigHash
	if len(want) == 0 {
		want = noConfigHash
	}
	stored, ok, err := c.cp.Load(ctx, ConfigHashKey(c.name))
	if err != nil {
		return fmt.Errorf("load config hash: %w", err)
	}
	ok = ok && len(stored) > 0
	if ok && bytes.Equal(stored, want) {
		return nil
	}
	hooks, hasHooks := src.(connectors.LifecycleHooks)
	switch {
	case !ok && !havePos:
		c.opts.Logger.Info("connector starts for the first time", "connector", c.name, "on_create", hasHooks)
		if hasHooks {
			if err := hooks.OnCreate(ctx); err != nil {
				return fmt.Errorf("create (OnCreate): %w", err)
			}
			c.update(func(s *State) { s.Lifecycle = "created" })
		}
	case ok:
		c.opts.Logger.Info("connector config changed since the last run", "connector", c.name, "on_update", hasHooks)
		if hasHooks {
			if err := hooks.OnUpdate(ctx); err != nil {
				return fmt.Errorf("update (OnUpdate): %w", err)
			}
			c.update(func(s *State) { s.Lifecycle = "updated" })
		}
	}
	if err := c.cp.Save(ctx, ConfigHashKey(c.name), want); err != nil {
		return fmt.Errorf("save config hash: %w", err)
	}
	return nil
}

func (c *Connector) readLoop(ctx context.Context, src connectors.Source, queue chan<- inflight) error {
	attempt := 0
	for {
		recs, err := src.Read(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, connectors.ErrBackoff) {
			attempt++
			c.update(func(s *State) { s.Status, s.LastError = "backoff", err.Error() })
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff(c.opts.MinBackoff, c.opts.MaxBackoff, attempt)):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		attempt = 0
		if len(recs) == 0 {
			continue
		}
		wait, err := c.sink(ctx, c.name, recs)
		if err != nil {
			return fmt.Errorf("submit: %w", err)
		}
		c.active.Store(time.Now().UnixNano())
		c.update(func(s *State) { s.Read += uint64(len(recs)); s.Status = "running" })
		select {
		case queue <- inflight{wait: wait, pos: recs[len(recs)-1].Position, n: len(recs)}:
		case <-ctx.Done():
			// The batch is queued on Kafka but will not be acknowledged
			// here; it is re-read after restart (at-least-once).
			return ctx.Err()
		}
	}
}

// ackLoop waits for batches in order and acknowledges their positions. When
// ctx ends it keeps draining what is already in flight for DrainTimeout.
func (c *Connector) ackLoop(ctx context.Context, src connectors.Source, queue <-chan inflight, progressed *bool) error {
	drainCtx := context.WithoutCancel(ctx)
	for b := range queue {
		waitCtx, cancel := context.WithTimeout(drainCtx, c.opts.DrainTimeout+time.Minute)
		if ctx.Err() != nil {
			cancel()
			waitCtx, cancel = context.WithTimeout(drainCtx, c.opts.DrainTimeout)
		}
		err := b.wait(waitCtx)
		cancel()
		if err != nil {
			return fmt.Errorf("batch not durable: %w", err)
		}
		last, n := b.pos, b.n
		// Coalesce: acknowledge the newest of the batches already queued,
		// but at most MaxInFlight of them and for at most coalesceWindow, so
		// a steady trickle of small batches cannot postpone every ack.
		deadline := time.Now().Add(coalesceWindow)
	coalesce:
		for k := 0; k < c.opts.MaxInFlight && time.Now().Before(deadline); k++ {
			select {
			case next, ok := <-queue:
				if !ok {
					break coalesce
				}
				waitCtx, cancel := context.WithTimeout(drainCtx, c.opts.DrainTimeout+time.Minute)
				err := next.wait(waitCtx)
				cancel()
				if err != nil {
					if serr := c.ack(drainCtx, src, last, n); serr != nil {
						return serr
					}
					return fmt.Errorf("batch not durable: %w", err)
				}
				last, n = next.pos, n+next.n
			default:
				break coalesce
			}
		}
		if err := c.ack(drainCtx, src, last, n); err != nil {
			return err
		}
		*progressed = true
	}
	return nil
}

// ack saves the checkpoint first, then tells the source: if the bus crashes
// in between, it resumes from the checkpoint and the source re-sends at most
// what it had not released.
func (c *Connector) ack(ctx context.Context, src connectors.Source, pos connectors.Position, n int) error {
	if err := c.savePosition(ctx, pos); err != nil {
		return fmt.Errorf("save position: %w", err)
	}
	if err := src.Ack(ctx, pos); err != nil {
		return fmt.Errorf("ack source: %w", err)
	}
	c.active.Store(time.Now().UnixNano())
	c.update(func(s *State) { s.Acked += uint64(n); s.Position = hex.EncodeToString(pos) })
	return nil
}

// saveRetryFor is how long a failing position save is retried before the
// connector stops and restarts from its last saved position.
const saveRetryFor = 30 * time.Second

// savePosition saves the checkpoint, retrying with back-off while the
// store is unreachable (a database restart): the batch is already durable
// in Kafka, and giving up at once would re-read and publish again every
// batch since the last saved position. A write refused because another
// instance took the connector over ends the retries through ctx (the lease
// keeper cancels it) or after saveRetryFor.
func (c *Connector) savePosition(ctx context.Context, pos connectors.Position) error {
	wait, deadline := 100*time.Millisecond, time.Now().Add(saveRetryFor)
	for {
		err := c.cp.Save(ctx, c.name, pos)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		c.opts.Logger.Warn("position not saved; retrying", "connector", c.name, "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// heartbeatLoop calls Heartbeat whenever the connector has been idle for
// HeartbeatEvery, so that a quiet source (a replication slot on a table
// nobody writes) still tells its server where the bus stands. A failed
// heartbeat is only logged: a broken source surfaces through Read.
func (c *Connector) heartbeatLoop(ctx context.Context, hb connectors.Heartbeater) {
	every := c.opts.HeartbeatEvery
	tick := time.NewTicker(every / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(time.Unix(0, c.active.Load())) < every {
			continue
		}
		c.active.Store(time.Now().UnixNano())
		if err := hb.Heartbeat(ctx); err != nil && ctx.Err() == nil {
			c.opts.Logger.Warn("connector heartbeat failed", "connector", c.name, "error", err)
			c.update(func(s *State) { s.LastError = "heartbeat: " + err.Error() })
			continue
		}
		c.update(func(s *State) { s.Heartbeats++ })
	}
}
