package synthetic

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
)

// AdapterName is the name the adapter registers under.
const AdapterName = "synthetic"

func init() {
	connectors.Register(connectors.Typed(AdapterName, "deterministic synthetic change stream of one ministry (dev mode)", DefaultConfig,
		func(env connectors.Env, cfg Config) (*Source, error) { return New(env.Name, cfg) }))
}

// Config configures one synthetic stream.
type Config struct {
	// Source is the ministry whose stream is generated: land, tax,
	// insurance, civil_status or civil_servant (population: the register's
	// own changes). The stream interleaves every catalog dataset the
	// ministry owns: land use rights, parcels and transfers; taxpayers;
	// health insurance cards and social insurance participants; births,
	// deaths and marriages; civil servants.
	Source string `json:"source" yaml:"source" mapstructure:"source"`
	// Seed selects the synthetic world. The population loaded into the
	// register must be generated with the same Seed and Population for the
	// records to refer to real citizens.
	Seed int64 `json:"seed" yaml:"seed" mapstructure:"seed"`
	// Population is the number of citizens the records refer to.
	Population int `json:"population" yaml:"population" mapstructure:"population"`
	// RatePerSecond caps the records produced per second; 0 means as fast
	// as the bus takes them.
	RatePerSecond float64 `json:"rate_per_second" yaml:"rate_per_second" mapstructure:"rate_per_second"`
	// Limit stops the stream after this many records (the source then
	// waits, like a database with no new changes); 0 means unbounded.
	Limit uint64 `json:"limit" yaml:"limit" mapstructure:"limit"`
	// BatchSize is the most records one Read returns.
	BatchSize int `json:"batch_size" yaml:"batch_size" mapstructure:"batch_size"`
}

// Raw is the config as the map a connector entry of the bus's config
// holds: the bus builds the adapter by its name from it, like any other.
func (c Config) Raw() map[string]any {
	return map[string]any{"source": c.Source, "seed": c.Seed, "population": c.Population,
		"rate_per_second": c.RatePerSecond, "limit": c.Limit, "batch_size": c.BatchSize}
}

// DefaultConfig returns the defaults: the land stream of seed 1 over
// 100,000 citizens, unthrottled, unbounded, in batches of 500.
func DefaultConfig() Config {
	return Config{Source: "land", Seed: 1, Population: 100_000, BatchSize: 500}
}

// Streams returns the config of one stream per source of the synthetic
// world of seed and population, each at rate records per second and
// stopping after limit records: the connectors of a dev bus.
func Streams(sources []string, seed int64, population int, rate float64, limit uint64) []Config {
	out := make([]Config, len(sources))
	for i, s := range sources {
		c := DefaultConfig()
		c.Source, c.Seed, c.Population, c.RatePerSecond, c.Limit = s, seed, population, rate, limit
		out[i] = c
	}
	return out
}

// Validate reports every problem of the config at once.
func (c Config) Validate() error {
	var errs []error
	if _, ok := generators[c.Source]; !ok && c.Source != PopulationSource {
		errs = append(errs, fmt.Errorf("source %q: want one of %s, %s", c.Source, strings.Join(Sources, ", "), PopulationSource))
	}
	if c.Population < 1 || c.Population > MaxPopulation {
		errs = append(errs, fmt.Errorf("population %d: want 1 to %d", c.Population, MaxPopulation))
	}
	if c.RatePerSecond < 0 || math.IsNaN(c.RatePerSecond) || math.IsInf(c.RatePerSecond, 0) {
		errs = append(errs, fmt.Errorf("rate_per_second %v: want a finite number ≥ 0", c.RatePerSecond))
	}
	if c.BatchSize < 1 || c.BatchSize > 100_000 {
		errs = append(errs, fmt.Errorf("batch_size %d: want 1 to 100000", c.BatchSize))
	}
	if len(errs) > 0 {
		return fmt.Errorf("synthetic: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// Source serves one synthetic stream through the connector SDK. Its
// position is the index of the last record, 8 bytes big-endian.
type Source struct {
	name string
	cfg  Config
	pop  *Pop

	next  atomic.Uint64 // index of the next record to produce
	done  atomic.Bool
	acked atomic.Uint64 // last acknowledged index + 1; 0 = none

	// token bucket, used by Read only
	tokens float64
	last   time.Time
}

var _ connectors.Source = (*Source)(nil)

// New builds a source from a validated config.
func New(name string, cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Source{name: name, cfg: cfg, pop: NewPop(cfg.Seed, cfg.Population)}, nil
}

// EncodePosition is the position of record i.
func EncodePosition(i uint64) connectors.Position {
	return binary.BigEndian.AppendUint64(make(connectors.Position, 0, 8), i)
}

// DecodePosition returns the record index of a position.
func DecodePosition(p connectors.Position) (uint64, error) {
	if len(p) != 8 {
		return 0, fmt.Errorf("synthetic: position of %d bytes, want 8", len(p))
	}
	return binary.BigEndian.Uint64(p), nil
}

// Open starts at record 0, or just after the record at pos.
func (s *Source) Open(ctx context.Context, pos connectors.Position) error {
	next := uint64(0)
	if pos != nil {
		i, err := DecodePosition(pos)
		if err != nil {
			return err
		}
		next = i + 1
		s.acked.Store(next)
	}
	s.next.Store(next)
	s.done.Store(false)
	s.tokens, s.last = 1, time.Now()
	return nil
}

// Read returns the next records, at most BatchSize, no faster than
// RatePerSecond. Once Limit records have been produced it blocks until ctx
// is done, as a source with no new changes does, and Done reports true.
func (s *Source) Read(ctx context.Context) ([]connectors.Record, error) {
	next := s.next.Load()
	want := uint64(s.cfg.BatchSize)
	if s.cfg.Limit > 0 {
		if next >= s.cfg.Limit {
			s.done.Store(true)
			<-ctx.Done()
			return nil, ctx.Err()
		}
		want = min(want, s.cfg.Limit-next)
	}
	n, err := s.take(ctx, int(want))
	if err != nil {
		return nil, err
	}
	out := make([]connectors.Record, 0, n)
	for i := next; i < next+uint64(n); i++ {
		var dataset string
		var op connectors.Op
		var row map[string]any
		if s.cfg.Source == PopulationSource {
			dataset = PopulationDataset
			op, row = PopulationChange(s.cfg.Seed, s.cfg.Population, i)
		} else {
			dataset, op, row, _ = Stream(s.cfg.Seed, s.cfg.Source, s.pop, i)
		}
		rec := connectors.Record{Dataset: dataset, Op: op, Position: EncodePosition(i), Time: RecordTime(i)}
		if op == connectors.OpDelete {
			rec.Before = row
		} else {
			rec.After = row
		}
		out = append(out, rec)
	}
	s.next.Store(next + uint64(n))
	if s.cfg.Limit > 0 && next+uint64(n) >= s.cfg.Limit {
		s.done.Store(true)
	}
	return out, nil
}

// take waits for up to want tokens of the rate limit and returns how many
// records may be produced now (at least one).
func (s *Source) take(ctx context.Context, want int) (int, error) {
	rate := s.cfg.RatePerSecond
	if rate <= 0 {
		return want, nil
	}
	// the bucket holds at most a batch, or one second's worth if smaller,
	// so a slow consumer does not cause a burst above the rate
	burst := math.Max(1, math.Min(float64(s.cfg.BatchSize), rate))
	for {
		now := time.Now()
		s.tokens = math.Min(burst, s.tokens+now.Sub(s.last).Seconds()*rate)
		s.last = now
		if s.tokens >= 1 {
			n := min(want, int(s.tokens))
			s.tokens -= float64(n)
			return n, nil
		}
		t := time.NewTimer(time.Duration((1 - s.tokens) / rate * float64(time.Second)))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// Ack records that every record up to pos is durable. A synthetic stream
// has nothing to release; the acknowledged index is kept for Acked.
func (s *Source) Ack(ctx context.Context, pos connectors.Position) error {
	i, err := DecodePosition(pos)
	if err != nil {
		return err
	}
	if i >= s.next.Load() {
		return fmt.Errorf("synthetic: ack of record %d, not read yet", i)
	}
	s.acked.Store(i + 1)
	return nil
}

// Close does nothing: the stream holds no resources.
func (s *Source) Close(ctx context.Context) error { return nil }

// Done reports whether the stream has produced all Limit records.
func (s *Source) Done() bool { return s.done.Load() }

// Acked returns the index of the last acknowledged record (or of the
// record Open resumed after), and false when there is none.
func (s *Source) Acked() (uint64, bool) {
	v := s.acked.Load()
	return v - 1, v > 0
}

// Next returns the index of the next record Read will produce.
func (s *Source) Next() uint64 { return s.next.Load() }

// Config returns the source's configuration.
func (s *Source) Config() Config { return s.cfg }
