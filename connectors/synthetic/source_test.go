package synthetic

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
)

func TestRegistered(t *testing.T) {
	spec, ok := connectors.Lookup(AdapterName)
	if !ok {
		t.Fatal("adapter not registered")
	}
	cfg, ok := spec.NewConfig().(*Config)
	if !ok {
		t.Fatalf("NewConfig gives %T", spec.NewConfig())
	}
	if *cfg != DefaultConfig() {
		t.Errorf("NewConfig = %+v, want the defaults", *cfg)
	}
	var v connectors.Validator = cfg
	if err := v.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	cfg.Source, cfg.Population = "tax", 1000
	src, err := spec.New(connectors.Env{Name: "tax-dev"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if src.(*Source).Config().Source != "tax" {
		t.Errorf("config not used")
	}
	if _, err := spec.New(connectors.Env{Name: "x"}, DefaultConfig()); err == nil {
		t.Errorf("New accepted a config value instead of *Config")
	}
}

func TestConfigValidate(t *testing.T) {
	bad := Config{Source: "weather", Population: 0, RatePerSecond: -1, BatchSize: 0}
	err := bad.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"source", "population", "rate_per_second", "batch_size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s: %v", want, err)
		}
	}
	if _, err := New("x", bad); err == nil {
		t.Errorf("New accepted an invalid config")
	}
}

func newSource(t *testing.T, mutate func(*Config)) *Source {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Source, cfg.Seed, cfg.Population, cfg.BatchSize = "insurance", 4, 5000, 64
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := New("test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSourceReadsTheStream(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, nil)
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var recs []connectors.Record
	for len(recs) < 200 {
		batch, err := s.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 || len(batch) > 64 {
			t.Fatalf("batch of %d", len(batch))
		}
		recs = append(recs, batch...)
	}
	for i, r := range recs {
		dataset, op, row, _ := Stream(4, "insurance", s.pop, uint64(i))
		if r.Dataset != dataset || r.Op != op || !r.Time.Equal(RecordTime(uint64(i))) {
			t.Fatalf("record %d: %s %s %v", i, r.Dataset, r.Op, r.Time)
		}
		if got, _ := DecodePosition(r.Position); got != uint64(i) {
			t.Fatalf("record %d has position %d", i, got)
		}
		if !reflect.DeepEqual(r.Row(), row) {
			t.Fatalf("record %d row differs from Stream's", i)
		}
		if (op == connectors.OpDelete) != (r.After == nil) || (op == connectors.OpDelete) != (r.Before != nil) {
			t.Fatalf("record %d: op %s with before %v after %v", i, op, r.Before != nil, r.After != nil)
		}
	}
	if r := recs[0]; r.Dataset != "insurance.health_insurance_card" {
		t.Errorf("dataset %q", r.Dataset)
	}
}

func TestSourceResumesAfterAck(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, nil)
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Acked(); ok {
		t.Errorf("acked before any ack")
	}
	first, err := s.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ackAt := first[39]
	if err := s.Ack(ctx, ackAt.Position); err != nil {
		t.Fatal(err)
	}
	if i, ok := s.Acked(); !ok || i != 39 {
		t.Errorf("Acked = %d, %v; want 39", i, ok)
	}
	if err := s.Ack(ctx, EncodePosition(10_000)); err == nil {
		t.Errorf("ack of an unread record accepted")
	}
	if err := s.Ack(ctx, connectors.Position{1, 2}); err == nil {
		t.Errorf("malformed position accepted")
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// a restart: the runtime hands back the last acknowledged position
	s2 := newSource(t, nil)
	if err := s2.Open(ctx, ackAt.Position); err != nil {
		t.Fatal(err)
	}
	again, err := s2.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := DecodePosition(again[0].Position); got != 40 {
		t.Fatalf("resumed at %d, want 40", got)
	}
	if !reflect.DeepEqual(again[:len(first)-40], first[40:]) {
		t.Errorf("records after the restart differ from those before")
	}
	if err := s2.Open(ctx, connectors.Position{1}); err == nil {
		t.Errorf("Open accepted a malformed position")
	}
}

func TestSourceLimitThenBlocks(t *testing.T) {
	s := newSource(t, func(c *Config) { c.Limit = 100 })
	ctx := context.Background()
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for !s.Done() {
		batch, err := s.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(batch)
	}
	if n != 100 {
		t.Fatalf("read %d records, limit 100", n)
	}
	ctx2, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	batch, err := s.Read(ctx2)
	if !errors.Is(err, context.DeadlineExceeded) || len(batch) != 0 {
		t.Errorf("Read after the limit = %d records, %v; want to block until ctx is done", len(batch), err)
	}
	// It returned because the context ended, not by itself (no wall-clock
	// bound: under load the deadline can pass before a timer is read).
	if ctx2.Err() == nil {
		t.Errorf("Read returned before its context ended")
	}
	// reopening at the end stays done
	s2 := newSource(t, func(c *Config) { c.Limit = 100 })
	if err := s2.Open(ctx, EncodePosition(99)); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Read(ctx2); err == nil || !s2.Done() {
		t.Errorf("reopened source at its limit is not done")
	}
}

func TestSourceRate(t *testing.T) {
	s := newSource(t, func(c *Config) { c.RatePerSecond, c.BatchSize = 200, 50 })
	ctx := context.Background()
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 0
	for n < 60 {
		batch, err := s.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(batch)
	}
	// 60 records at 200/s with one token to start: at least ~0.29s
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Errorf("%d records in %v at 200/s", n, el)
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	slow := newSource(t, func(c *Config) { c.RatePerSecond = 0.001 })
	if err := slow.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := slow.Read(ctx); err != nil { // the first token
		t.Fatal(err)
	}
	if _, err := slow.Read(ctx2); !errors.Is(err, context.Canceled) {
		t.Errorf("rate wait ignores ctx: %v", err)
	}
}

// TestSourceConcurrentAck runs Read and Ack on two goroutines, as the
// runtime does; run with -race.
func TestSourceConcurrentAck(t *testing.T) {
	s := newSource(t, func(c *Config) { c.Limit = 2000 })
	ctx := context.Background()
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	positions := make(chan connectors.Position, 16)
	done := make(chan error)
	go func() {
		var err error
		for p := range positions {
			if e := s.Ack(ctx, p); e != nil && err == nil {
				err = e
			}
		}
		done <- err
	}()
	for !s.Done() {
		batch, err := s.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		positions <- batch[len(batch)-1].Position
	}
	close(positions)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if i, ok := s.Acked(); !ok || i != 1999 {
		t.Errorf("Acked = %d, %v", i, ok)
	}
}

// Raw is what the bus builds the adapter from by name (runtime.Options.
// DevConnectors): decoding it gives back the same config.
func TestConfigRawRoundTrip(t *testing.T) {
	spec, ok := connectors.Lookup(AdapterName)
	if !ok {
		t.Fatal("synthetic adapter not registered")
	}
	for _, want := range []Config{DefaultConfig(), {Source: "tax", Seed: 7, Population: 1000, RatePerSecond: 2.5, Limit: 40, BatchSize: 10}} {
		got, err := spec.DecodeConfig(want.Raw())
		if err != nil {
			t.Fatal(err)
		}
		if *got.(*Config) != want {
			t.Errorf("decoded %+v, want %+v", *got.(*Config), want)
		}
	}
}

// Streams: one valid config per source, each the defaults with the dev
// world's seed, population, rate and limit, in the order of the sources.
func TestStreams(t *testing.T) {
	sources := append(slices.Clone(Sources), PopulationSource)
	got := Streams(sources, 7, 2000, 5, 30)
	if len(got) != len(sources) {
		t.Fatalf("%d configs for %d sources", len(got), len(sources))
	}
	for i, c := range got {
		want := DefaultConfig()
		want.Source, want.Seed, want.Population, want.RatePerSecond, want.Limit = sources[i], 7, 2000, 5, 30
		if c != want || c.Validate() != nil {
			t.Errorf("%s: %+v (%v), want %+v", sources[i], c, c.Validate(), want)
		}
	}
	if len(Streams(nil, 1, 100, 0, 0)) != 0 {
		t.Error("configs without sources")
	}
}
