package runtime

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
	connrt "github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// Every connector runs on exactly one instance: the one holding its lease
// in the store. The owner renews it every leaseRenew; when the owner dies
// the lease expires after leaseTTL and another instance, which tries every
// leaseRetry, takes it over at a new epoch and resumes from the last saved
// position, so the takeover is done within leaseTTL + leaseRetry (12 s).
// A stopped owner releases its leases, so they move at once.
//
// Connectors are spread evenly over the live instances: an instance that
// runs its share (the connectors divided by the members, rounded up) takes
// no more, except from an owner that is gone or one nobody else took for
// handoverGrace; one that runs more than its share for two renewals in a
// row hands one over (drained, its position saved, its lease released), so
// instances started one after the other end up sharing the work.
const (
	leaseTTL      = 10 * time.Second
	leaseRenew    = 3 * time.Second
	leaseRetry    = 2 * time.Second
	handoverGrace = 3 * time.Second
)

// spread counts the connectors this instance may run and runs, and
// remembers since when it saw each lease free.
type spread struct {
	total, held atomic.Int32
	mu          sync.Mutex
	freeSince   map[string]time.Time
	over        int // consecutive renewals over the share
}

// share is how many connectors this instance should run.
func (b *Bus) share() int {
	n := 1
	if m := b.members.Load(); m != nil && len(*m) > 1 {
		n = len(*m)
	}
	return (int(b.spread.total.Load()) + n - 1) / n
}

func (b *Bus) isMember(id string) bool {
	m := b.members.Load()
	return m != nil && slices.Contains(*m, id)
}

// mayTake reports whether to ask for the lease of name now.
func (b *Bus) mayTake(ctx context.Context, name string) bool {
	if int(b.spread.held.Load()) < b.share() {
		return true
	}
	ls, err := b.Store.Leases(ctx)
	if err != nil {
		return true // AcquireLease reports the store's trouble
	}
	i := slices.IndexFunc(ls, func(l store.Lease) bool { return l.Name == name })
	if i < 0 {
		return true
	}
	l, now := ls[i], time.Now()
	switch {
	case now.Before(l.Expires):
		return l.Owner == b.instanceID // held: only its owner renews it
	case l.Owner == b.instanceID && l.Expires.UnixMilli() != 0, !b.isMember(l.Owner):
		return true // its owner died or stopped: take it over at once
	}
	// Handed over by a live instance: leave it to one under its share,
	// unless nobody takes it.
	b.spread.mu.Lock()
	defer b.spread.mu.Unlock()
	if b.spread.freeSince == nil {
		b.spread.freeSince = map[string]time.Time{}
	}
	since, ok := b.spread.freeSince[name]
	if !ok || since.Before(now.Add(-leaseTTL)) {
		b.spread.freeSince[name] = now
		return false
	}
	return now.Sub(since) > handoverGrace
}

// overShare reports whether this instance should hand name over now: it
// has run more than its share for two renewals, and name is the last of
// its connectors by name (one at a time, the same one on every check).
func (b *Bus) overShare(name string) bool {
	b.spread.mu.Lock()
	defer b.spread.mu.Unlock()
	if int(b.spread.held.Load()) <= b.share() {
		b.spread.over = 0
		return false
	}
	var names []string
	for _, c := range b.Connectors() {
		names = append(names, c.Name)
	}
	if len(names) == 0 || slices.Max(names) != name {
		return false
	}
	b.spread.over++
	if b.spread.over < 2 {
		return false
	}
	b.spread.over = 0
	return true
}

// runLeased runs the connector name whenever this instance holds its
// lease, until ctx ends.
func (b *Bus) runLeased(ctx context.Context, name string, newSource func() (connectors.Source, error), configHash []byte) {
	sink := func(ctx context.Context, name string, recs []connectors.Record) (func(context.Context) error, error) {
		t, err := b.Pipe.Submit(ctx, name, recs)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error { _, err := t.Wait(ctx); return err }, nil
	}
	b.spread.total.Add(1)
	defer b.spread.total.Add(-1)
	for ctx.Err() == nil {
		if !b.mayTake(ctx, name) {
			sleepCtx(ctx, leaseRetry)
			continue
		}
		l, err := b.Store.AcquireLease(ctx, name, b.instanceID, time.Now(), leaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				b.log.Warn("connector lease not acquired; retrying", "connector", name, "error", err)
			}
			sleepCtx(ctx, leaseRetry)
			continue
		}
		if l.Owner != b.instanceID {
			sleepCtx(ctx, leaseRetry)
			continue
		}
		b.log.Info("connector lease acquired; running it here", "connector", name, "instance", b.instanceID, "epoch", l.Epoch)
		b.spread.held.Add(1)
		cctx, cancel := context.WithCancel(ctx)
		conn := connrt.New(name, newSource, sink, fencedCheckpoints{b.Store, name, b.instanceID, l.Epoch},
			connrt.Options{MaxInFlight: b.opts.Config.Pipeline.MaxInFlight, Logger: b.log, ConfigHash: configHash})
		b.setConnector(conn)
		done := make(chan struct{})
		go func() { defer close(done); conn.Run(cctx) }()
		handover := b.keepLease(cctx, l, done)
		cancel()
		<-done
		b.spread.held.Add(-1)
		if handover && ctx.Err() == nil {
			// Drained and its position saved: another instance resumes it.
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			_ = b.Store.ReleaseLease(rctx, name, b.instanceID, l.Epoch)
			rcancel()
			b.dropConnector(conn)
			b.log.Info("connector handed over to even out the cluster", "connector", name, "instance", b.instanceID, "share", b.share())
			sleepCtx(ctx, leaseRetry)
			continue
		}
		if ctx.Err() != nil {
			// The bus stops: the connector keeps its last state in the
			// view, and another instance may take it over at once.
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = b.Store.ReleaseLease(rctx, name, b.instanceID, l.Epoch)
			rcancel()
			return
		}
		b.dropConnector(conn) // it runs elsewhere now
		b.log.Warn("connector lease lost; stopped here", "connector", name, "instance", b.instanceID, "epoch", l.Epoch)
	}
}

// keepLease renews l until ctx ends, the connector stops (done), or the
// lease is lost: taken by another instance, or not renewed (store
// unreachable) before it expires, since another instance may take it then.
// It returns true when the connector should be handed over because this
// instance runs more than its share.
func (b *Bus) keepLease(ctx context.Context, l store.Lease, done <-chan struct{}) bool {
	expires := time.Now().Add(leaseTTL)
	t := time.NewTicker(leaseRenew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-done:
			return false
		case <-t.C:
		}
		if b.overShare(l.Name) {
			return true
		}
		now := time.Now()
		ok, err := b.Store.RenewLease(ctx, l.Name, l.Owner, l.Epoch, now, leaseTTL)
		switch {
		case err == nil && ok:
			expires = now.Add(leaseTTL)
		case err == nil:
			return false // taken over
		case time.Until(expires) < leaseRenew:
			b.log.Error("connector lease could not be renewed before it expires; stopping the connector here", "connector", l.Name, "error", err)
			return false
		default:
			b.log.Warn("connector lease not renewed; retrying", "connector", l.Name, "error", err)
		}
	}
}

// setConnector and dropConnector keep the connectors running here for the
// connector view and reset.
func (b *Bus) setConnector(c *connrt.Connector) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	b.conns = slices.DeleteFunc(b.conns, func(o *connrt.Connector) bool { return o.Name() == c.Name() })
	b.conns = append(b.conns, c)
}

func (b *Bus) dropConnector(c *connrt.Connector) {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	b.conns = slices.DeleteFunc(b.conns, func(o *connrt.Connector) bool { return o == c })
}

// fencedCheckpoints saves positions only while this instance holds the
// connector's lease at the epoch it started with: a paused owner that
// wakes after a takeover cannot move the position of the new owner.
type fencedCheckpoints struct {
	st           store.Store
	lease, owner string
	epoch        int64
}

func (c fencedCheckpoints) Load(ctx context.Context, name string) (connectors.Position, bool, error) {
	return checkpoints{c.st}.Load(ctx, name)
}

func (c fencedCheckpoints) Save(ctx context.Context, name string, pos connectors.Position) error {
	return c.st.PutPositionUnder(ctx, name, pos, c.lease, c.owner, c.epoch)
}

// leases is the cluster view of the connectors: which instance runs each.
func (b *Bus) leases(ctx context.Context) []map[string]any {
	ls, err := b.Store.Leases(ctx)
	if err != nil {
		return nil
	}
	out := make([]map[string]any, 0, len(ls))
	for _, l := range ls {
		if strings.Contains(l.Name, "#") {
			continue
		}
		out = append(out, map[string]any{"connector": l.Name, "owner": l.Owner, "epoch": l.Epoch,
			"expires": l.Expires.UTC().Format(time.RFC3339), "here": l.Owner == b.instanceID && time.Now().Before(l.Expires)})
	}
	return out
}

// heartbeat keeps this instance's membership lease ("#member/<id>")
// and the cached view of the cluster's members, every leaseRenew.
// A stopping instance releases it, so the others take its connectors over
// without waiting for its membership to expire.
func (b *Bus) heartbeat(ctx context.Context) {
	var mine store.Lease
	defer func() {
		if mine.Epoch != 0 {
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = b.Store.ReleaseLease(rctx, mine.Name, b.instanceID, mine.Epoch)
			cancel()
		}
	}()
	for {
		now := time.Now()
		if l, err := b.Store.AcquireLease(ctx, memberLease+b.instanceID, b.instanceID, now, leaseTTL); err != nil && ctx.Err() == nil {
			b.log.Warn("cluster membership not renewed; retrying", "error", err)
		} else if err == nil {
			mine = l
		}
		if ls, err := b.Store.Leases(ctx); err == nil {
			var members []string
			for _, l := range ls {
				if id, ok := strings.CutPrefix(l.Name, memberLease); ok && now.Before(l.Expires) {
					members = append(members, id)
				}
			}
			b.members.Store(&members)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(leaseRenew):
		}
	}
}

// memberLease prefixes the lease each running instance keeps to be seen
// as a member of the cluster.
const memberLease = "#member/"

// role is this instance's part in the cluster, for /readyz and metrics.
func (b *Bus) role() map[string]any {
	var owned []string
	for _, c := range b.Connectors() {
		owned = append(owned, c.Name)
	}
	members := []string{}
	if m := b.members.Load(); m != nil {
		members = *m
	}
	return map[string]any{"instance": b.instanceID, "connectors": owned, "signs_checkpoints": b.signs.Load(), "members": members}
}

// registerRoleMetrics exports the instance's role: the cluster's members,
// whether it signs checkpoints, and each connector it runs.
func (b *Bus) registerRoleMetrics(reg *prometheus.Registry) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lgsp_cluster_members", Help: "Bus instances seen alive in the shared store (this one included)."},
			func() float64 {
				if m := b.members.Load(); m != nil {
					return float64(len(*m))
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lgsp_signs_checkpoints", Help: "1 when this instance signs the audit log's checkpoints."},
			func() float64 {
				if b.signs.Load() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lgsp_connectors_running", Help: "Connectors whose lease this instance holds and runs."},
			func() float64 { return float64(len(b.Connectors())) }),
	)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
