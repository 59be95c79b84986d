// Package sdktest is the acceptance suite every source adapter must pass:
// open, read, acknowledge, restart at the acknowledged position, no record
// lost, order per key kept; every record carries Metadata; input the
// adapter cannot parse comes out as a typed bad record (Record.Bad) and the
// records after it flow; the optional capabilities work in the order the
// host uses them (TestConnection and OnCreate before the first Open,
// OnUpdate before a later one, OnDelete after the last Close, each hook
// idempotent). An adapter's test prepares a source (a table, a directory),
// then calls Run with a factory for the adapter and a way to make changes
// in the source:
//
//	sdktest.Run(t, sdktest.Harness{
//		NewSource: func(t testing.TB) connectors.Source { return pgcdc.New(...) },
//		Write:     func(t testing.TB, cs []sdktest.Change) { /* INSERT / UPDATE */ },
//		Identify:  func(r connectors.Record) (string, int, bool) { ... },
//		WriteBad:  func(t testing.TB) { /* a line that does not parse */ }, // or NoBadInput: true
//	})
package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// Change is one change to make in the source: the entity Key takes Version.
// The first change of a key creates it; later ones update it. Versions of
// one key only grow.
type Change struct {
	Key     string
	Version int
}

// Harness connects the suite to one adapter and one prepared source.
type Harness struct {
	// NewSource builds a new, unopened source reading the prepared source.
	// It is called once per session (the suite restarts the source).
	NewSource func(t testing.TB) connectors.Source
	// Write makes the changes in the source, in order, so that a record
	// carrying each (Key, Version) eventually reaches a reader.
	Write func(t testing.TB, changes []Change)
	// Identify returns the key and version a record carries.
	Identify func(r connectors.Record) (key string, version int, ok bool)
	// Coalesces says that the adapter may skip intermediate versions of a
	// key (a poller sees only the row's latest state); the latest version
	// must still arrive.
	Coalesces bool
	// WriteBad writes one input the adapter cannot parse (a truncated JSON
	// line), for the suite to check it comes out as a bad record followed
	// by the changes written after it.
	WriteBad func(t testing.TB)
	// NoBadInput says the source cannot hold input the adapter fails to
	// parse (a database types every value), so there is no WriteBad. One of
	// the two must be set: the bad-record check is never skipped silently.
	NoBadInput bool
	// Timeout bounds each wait for records (default 30s).
	Timeout time.Duration
}

type seen struct {
	Change
	pos connectors.Position
	bad *connectors.BadRecord // a bad record read (Change is then zero)
}

// Run runs the acceptance suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewSource == nil || h.Write == nil || h.Identify == nil {
		t.Fatal("sdktest: Harness needs NewSource, Write and Identify")
	}
	if (h.WriteBad == nil) == !h.NoBadInput {
		t.Fatal("sdktest: Harness needs WriteBad, or NoBadInput for a source that cannot hold unparseable input")
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	ctx := t.Context()

	// Session 1: rows written before the first Open, then changes while open.
	batch1 := []Change{{"k1", 1}, {"k2", 1}, {"k3", 1}, {"k4", 1}, {"k5", 1}}
	h.Write(t, batch1)
	s1 := h.NewSource(t)
	// As the host does: test the connection, then create (twice: hooks are
	// idempotent), on sources that have not been opened.
	if ct, ok := s1.(connectors.ConnectionTester); ok {
		if err := h.retry(ctx, ct.TestConnection); err != nil {
			t.Fatalf("TestConnection on the prepared source: %v", err)
		}
	}
	lc, hooks := s1.(connectors.LifecycleHooks)
	if hooks {
		for i := range 2 {
			if err := h.retry(ctx, lc.OnCreate); err != nil {
				t.Fatalf("OnCreate (call %d): %v", i+1, err)
			}
		}
	}
	if err := s1.Open(ctx, nil); err != nil {
		t.Fatalf("session 1: Open(nil): %v", err)
	}
	got1 := h.readUntil(t, s1, "session 1, initial rows", want(batch1, h.Coalesces))
	batch2 := []Change{{"k1", 2}, {"k2", 2}, {"k6", 1}, {"k1", 3}, {"k7", 1}, {"k3", 2}, {"k8", 1}, {"k1", 4}}
	h.Write(t, batch2)
	got1 = append(got1, h.readUntil(t, s1, "session 1, changes while open", want(batch2, h.Coalesces))...)
	checkOrder(t, "session 1", got1)

	// Acknowledge up to a record in the middle, then stop.
	mid := len(batch1) + (len(got1)-len(batch1))/2
	if mid >= len(got1) {
		mid = len(got1) - 1
	}
	ackPos := got1[mid].pos
	if err := s1.Ack(ctx, ackPos); err != nil {
		t.Fatalf("session 1: Ack: %v", err)
	}
	if err := s1.Close(ctx); err != nil {
		t.Fatalf("session 1: Close: %v", err)
	}
	acked := map[Change]bool{}
	for _, r := range got1[:mid+1] {
		acked[r.Change] = true
	}
	var unacked []Change
	for _, r := range got1[mid+1:] {
		unacked = append(unacked, r.Change)
	}

	// Changes made while the connector is down must not be lost.
	batch3 := []Change{{"k2", 3}, {"k9", 1}, {"k4", 2}}
	h.Write(t, batch3)

	// Session 2: restart at the acknowledged position, after a config
	// "change" (the same config): OnUpdate must keep the source working.
	s2 := h.NewSource(t)
	if hooks {
		if err := h.retry(ctx, s2.(connectors.LifecycleHooks).OnUpdate); err != nil {
			t.Fatalf("OnUpdate: %v", err)
		}
	}
	if err := s2.Open(ctx, bytes.Clone(ackPos)); err != nil {
		t.Fatalf("session 2: Open(acked position): %v", err)
	}
	got2 := h.readUntil(t, s2, "session 2, after restart", want(append(unacked, batch3...), h.Coalesces))
	checkOrder(t, "session 2", got2)
	for _, r := range got2 {
		if acked[r.Change] {
			t.Errorf("session 2: %s v%d was acknowledged in session 1 but read again after restarting at the acked position", r.Key, r.Version)
		}
	}
	last := got2[len(got2)-1].pos
	if err := s2.Ack(ctx, last); err != nil {
		t.Fatalf("session 2: Ack: %v", err)
	}
	if err := s2.Close(ctx); err != nil {
		t.Fatalf("session 2: Close: %v", err)
	}

	// Session 3: everything acknowledged; only new changes arrive.
	s3 := h.NewSource(t)
	if err := s3.Open(ctx, bytes.Clone(last)); err != nil {
		t.Fatalf("session 3: Open: %v", err)
	}
	batch4 := []Change{{"k10", 1}, {"k5", 2}}
	h.Write(t, batch4)
	got3 := h.readUntil(t, s3, "session 3, after acknowledging everything", want(batch4, h.Coalesces))
	checkOrder(t, "session 3", got3)
	for _, r := range got3 {
		if r.Change != batch4[0] && r.Change != batch4[1] {
			t.Errorf("session 3: read %s v%d again although it was acknowledged before the restart", r.Key, r.Version)
		}
	}

	// Input that does not parse is a typed bad record, and what follows it flows.
	if h.WriteBad != nil {
		h.WriteBad(t)
		batch5 := []Change{{"k11", 1}}
		h.Write(t, batch5)
		got5 := h.readUntil(t, s3, "session 3, after unparseable input", want(batch5, h.Coalesces))
		if got5[0].bad == nil {
			t.Errorf("session 3: unparseable input did not come out as a bad record before %s v%d", got5[len(got5)-1].Key, got5[len(got5)-1].Version)
		}
	}
	if err := s3.Close(ctx); err != nil {
		t.Fatalf("session 3: Close: %v", err)
	}

	// Deletion, after the last Close, twice: the second finds nothing to release.
	if hooks {
		for i := range 2 {
			if err := h.retry(ctx, h.NewSource(t).(connectors.LifecycleHooks).OnDelete); err != nil {
				t.Fatalf("OnDelete (call %d): %v", i+1, err)
			}
		}
	}
}

// retry calls f until it succeeds or fails with something other than a
// temporary error (connectors.ErrBackoff: a slot still being released).
func (h Harness) retry(ctx context.Context, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	for {
		err := f(ctx)
		if err == nil || !errors.Is(err, connectors.ErrBackoff) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// want is the set of changes a reader must see: all of them, or with
// coalescing only the latest version of each key.
func want(changes []Change, coalesces bool) map[Change]bool {
	out := map[Change]bool{}
	if !coalesces {
		for _, c := range changes {
			out[c] = true
		}
		return out
	}
	latest := map[string]int{}
	for _, c := range changes {
		latest[c.Key] = max(latest[c.Key], c.Version)
	}
	for k, v := range latest {
		out[Change{k, v}] = true
	}
	return out
}

// readUntil reads until every wanted change was seen; with coalescing a
// newer version of a key stands for an older one.
func (h Harness) readUntil(t testing.TB, src connectors.Source, stage string, wanted map[Change]bool) []seen {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), h.Timeout)
	defer cancel()
	var out []seen
	newest := map[string]int{}
	missing := func() []Change {
		var m []Change
		for c, open := range wanted {
			if h.Coalesces && newest[c.Key] < c.Version || !h.Coalesces && open {
				m = append(m, c)
			}
		}
		return m
	}
	for len(missing()) > 0 {
		recs, err := src.Read(ctx)
		if errors.Is(err, connectors.ErrBackoff) {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("%s: Read: %v; still missing %v", stage, err, missing())
		}
		for _, r := range recs {
			if err := checkRecord(r); err != nil {
				t.Fatalf("%s: %v", stage, err)
			}
			if r.Bad != nil {
				if h.WriteBad == nil {
					t.Fatalf("%s: bad record from a source that holds no bad input: %+v", stage, r.Bad)
				}
				out = append(out, seen{pos: bytes.Clone(r.Position), bad: r.Bad})
				continue
			}
			k, v, ok := h.Identify(r)
			if !ok {
				t.Fatalf("%s: record without key/version: %+v", stage, r)
			}
			c := Change{k, v}
			out = append(out, seen{Change: c, pos: bytes.Clone(r.Position)})
			newest[k] = max(newest[k], v)
			if !h.Coalesces {
				wanted[c] = false
			}
		}
	}
	return out
}

func checkRecord(r connectors.Record) error {
	switch {
	case r.Dataset == "":
		return fmt.Errorf("record without Dataset: %+v", r)
	case !r.Op.Valid():
		return fmt.Errorf("record with op %q: %+v", r.Op, r)
	case len(r.Position) == 0:
		return fmt.Errorf("record without Position: %+v", r)
	case len(r.Metadata) == 0:
		return fmt.Errorf("record without Metadata (where it came from: file and line, table, …): %+v", r)
	case r.Bad != nil:
		b := r.Bad
		switch {
		case r.Before != nil || r.After != nil:
			return fmt.Errorf("bad record that also carries a row: %+v", r)
		case b.Kind != "" && !slices.Contains(contract.DeadLetterKinds, b.Kind):
			return fmt.Errorf("bad record of kind %q, not a dead-letter kind of connectors/contract", b.Kind)
		case b.Reason == "":
			return fmt.Errorf("bad record without a reason: %+v", b)
		case len(b.Raw) == 0:
			return fmt.Errorf("bad record without its raw input: %+v", b)
		case b.Path != "" && !strings.HasPrefix(b.Path, "$"):
			return fmt.Errorf("bad record path %q is not a JSON path", b.Path)
		}
	case r.Row() == nil:
		return fmt.Errorf("record without Before or After: %+v", r)
	}
	return nil
}

// checkOrder: within one session the versions of a key only grow.
func checkOrder(t testing.TB, stage string, got []seen) {
	t.Helper()
	last := map[string]int{}
	for _, r := range got {
		if v, ok := last[r.Key]; ok && r.Version <= v {
			t.Errorf("%s: key %s: version %d after version %d (order per key broken or duplicate)", stage, r.Key, r.Version, v)
		}
		last[r.Key] = r.Version
	}
}
