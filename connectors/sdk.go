// Package connectors is the connector SDK contract: what a source adapter is
// (Source), what it produces (Record), how progress is tracked (Position) and
// how an adapter declares itself (Register). Adapters in sub-packages import
// this package only; the runtime that drives them lives in connectors/runtime.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Position is an adapter's opaque resume point (an LSN, a cursor, a file
// offset). The runtime stores the last acknowledged one and hands it back to
// Open after a restart; only the adapter interprets it.
type Position []byte

// Op is the kind of change, as in Debezium: create, update, delete, read (snapshot).
type Op string

const (
	OpCreate Op = "c"
	OpUpdate Op = "u"
	OpDelete Op = "d"
	OpRead   Op = "r"
)

// Valid reports whether op is one of the four change kinds.
func (op Op) Valid() bool {
	switch op {
	case OpCreate, OpUpdate, OpDelete, OpRead:
		return true
	}
	return false
}

// Record is one change read from a ministry source.
type Record struct {
	// Dataset is the shared dataset the change belongs to, "<domain>.<name>",
	// for example "land.land_use_right". Its schema is looked up in the catalog.
	Dataset string
	// Op is the change kind.
	Op Op
	// Before is the row before the change (updates and deletes; may be nil).
	Before map[string]any
	// After is the row after the change (creates, updates, snapshot reads).
	After map[string]any
	// Position is where this record sits in the source; acknowledging it
	// means every record up to and including this one is durable.
	Position Position
	// Time is when the change happened in the source (zero: unknown).
	Time time.Time
}

// Row returns the row that identifies the entity: After, or Before for a delete.
func (r Record) Row() map[string]any {
	if r.After != nil {
		return r.After
	}
	return r.Before
}

// Source is a ministry database, file or feed that yields changes.
//
// The runtime calls Open once, then Read repeatedly from one goroutine, and
// Ack from another goroutine as records become durable; Close is called once
// after the last Read and Ack have returned.
type Source interface {
	// Open prepares the source to read from just after pos; a nil pos means
	// from the beginning.
	Open(ctx context.Context, pos Position) error
	// Read blocks until at least one record is available or ctx is done.
	// Return an error wrapping ErrBackoff to ask the runtime to retry later
	// (the source is temporarily unavailable); any other error stops the
	// connector and is reported to the operator.
	Read(ctx context.Context) ([]Record, error)
	// Ack tells the source that every record up to and including pos is
	// durable in Kafka, so it may release them (advance a slot, delete a file).
	// Ack is called in position order, never for a record not yet durable.
	Ack(ctx context.Context, pos Position) error
	// Close releases the source's resources.
	Close(ctx context.Context) error
}

// ErrBackoff marks a temporary failure: the runtime waits and calls Read again.
var ErrBackoff = errors.New("connector: temporarily unavailable, retry later")

// Backoff wraps err as a temporary failure.
func Backoff(err error) error { return fmt.Errorf("%w: %w", ErrBackoff, err) }

// Constructor builds a Source from a decoded config. cfg is a pointer to a
// value of the Spec's Config type with defaults applied and validated.
type Constructor func(name string, cfg any) (Source, error)

// Spec declares an adapter: its name, what it does and its config type.
type Spec struct {
	// Name is the adapter's registered name, e.g. "postgres-cdc".
	Name string
	// Summary is one line for `lgsp connector list`.
	Summary string
	// NewConfig returns a pointer to a config struct holding the defaults.
	// The struct's field comments and tags are the user documentation.
	NewConfig func() any
	// New builds a source from a config made by NewConfig.
	New Constructor
}

// Validator is implemented by config structs that can check themselves.
// Validate reports every problem at once (errors.Join).
type Validator interface{ Validate() error }

var (
	registryMu sync.RWMutex
	registry   = map[string]Spec{}
)

// Register makes an adapter available by name. It is called from an
// adapter package's init; registering a name twice panics.
func Register(spec Spec) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if spec.Name == "" || spec.New == nil || spec.NewConfig == nil {
		panic("connectors: Register needs Name, NewConfig and New")
	}
	if _, dup := registry[spec.Name]; dup {
		panic("connectors: adapter registered twice: " + spec.Name)
	}
	registry[spec.Name] = spec
}

// Lookup returns the adapter registered under name.
func Lookup(name string) (Spec, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s, ok := registry[name]
	return s, ok
}

// Adapters lists every registered adapter, sorted by name.
func Adapters() []Spec {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]Spec, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Typed is the Spec of an adapter whose config is the struct C: defaults
// gives its default values, build makes a source from a decoded and
// validated config. It spares every adapter the untyped plumbing.
func Typed[C any, S Source](name, summary string, defaults func() C, build func(name string, cfg C) (S, error)) Spec {
	return Spec{
		Name:    name,
		Summary: summary,
		NewConfig: func() any {
			c := defaults()
			return &c
		},
		New: func(n string, cfg any) (Source, error) {
			c, ok := cfg.(*C)
			if !ok {
				return nil, fmt.Errorf("connectors: adapter %s: config is %T, want %T", name, cfg, c)
			}
			s, err := build(n, *c)
			if err != nil {
				return nil, err // never a typed nil in the interface
			}
			return s, nil
		},
	}
}
