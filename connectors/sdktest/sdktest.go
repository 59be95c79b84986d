// Package sdktest is the acceptance suite every source adapter must pass:
// open, read, acknowledge, restart at the acknowledged position, no record
// lost, order per key kept. An adapter's test prepares a source (a table, a
// directory), then calls Run with a factory for the adapter and a way to
// make changes in the source:
//
//	sdktest.Run(t, sdktest.Harness{
//		NewSource: func(t testing.TB) connectors.Source { return pgcdc.New(...) },
//		Write:     func(t testing.TB, cs []sdktest.Change) { /* INSERT / UPDATE */ },
//		Identify:  func(r connectors.Record) (string, int, bool) { ... },
//	})
package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
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
	// Timeout bounds each wait for records (default 30s).
	Timeout time.Duration
}

type seen struct {
	Change
	pos connectors.Position
}

// Run runs the acceptance suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.NewSource == nil || h.Write == nil || h.Identify == nil {
		t.Fatal("sdktest: Harness needs NewSource, Write and Identify")
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	ctx := t.Context()

	// Session 1: rows written before the first Open, then changes while open.
	batch1 := []Change{{"k1", 1}, {"k2", 1}, {"k3", 1}, {"k4", 1}, {"k5", 1}}
	h.Write(t, batch1)
	s1 := h.NewSource(t)
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

	// Session 2: restart at the acknowledged position.
	s2 := h.NewSource(t)
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
	defer s3.Close(context.Background())
	batch4 := []Change{{"k10", 1}, {"k5", 2}}
	h.Write(t, batch4)
	got3 := h.readUntil(t, s3, "session 3, after acknowledging everything", want(batch4, h.Coalesces))
	checkOrder(t, "session 3", got3)
	for _, r := range got3 {
		if r.Change != batch4[0] && r.Change != batch4[1] {
			t.Errorf("session 3: read %s v%d again although it was acknowledged before the restart", r.Key, r.Version)
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
			k, v, ok := h.Identify(r)
			if !ok {
				t.Fatalf("%s: record without key/version: %+v", stage, r)
			}
			c := Change{k, v}
			out = append(out, seen{c, bytes.Clone(r.Position)})
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
