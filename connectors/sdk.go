// Package connectors is the connector SDK contract: what a source adapter is
// (Source), what it produces (Record, with Metadata, or a BadRecord for input
// it cannot parse), how progress is tracked (Position), how an adapter
// declares itself (Register, with a config struct whose tags are its rules)
// and what the host gives it (Env: its name and a logger). Adapters in
// sub-packages import this package only; the runtime that drives them lives
// in connectors/runtime.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/contract"
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
	// Metadata says where the record came from, for the operator and the
	// ministry: file and line, table, LSN (the Meta… keys). It rides in the
	// record's dead letter when the bus refuses it; it never carries row
	// values (logs and dead-letter headers must not show personal numbers).
	Metadata map[string]string
	// Bad is set, instead of Before and After, for input the adapter read
	// but cannot turn into a row (a line that does not parse). The bus
	// dead-letters it with the adapter's kind, path and reason and goes on
	// with the next record; its Position is acknowledged like any other.
	Bad *BadRecord
}

// Well-known Metadata keys; adapters may add their own.
const (
	MetaFile   = "file"   // the file a record was read from
	MetaLine   = "line"   // its line number in the file (1-based, counted from where the connector started reading the file)
	MetaOffset = "offset" // byte offset just after the record in the file
	MetaTable  = "table"  // the source table, schema.table
	MetaLSN    = "lsn"    // the PostgreSQL WAL position of the change's commit
)

// BadRecord is input the adapter could not parse.
type BadRecord struct {
	// Kind is the dead-letter kind; empty means contract.KindMalformed.
	Kind contract.DeadLetterKind
	// Path is the JSON path of the offending value, "$" (or empty) for the
	// whole record.
	Path string
	// Reason says what is wrong and, where it helps, how to fix it. It is
	// shown to the ministry, so it names fields and offsets, not values.
	Reason string
	// Raw is the input as read (the line), kept in the dead letter so the
	// ministry sees exactly what was refused.
	Raw []byte
}

// Malformed is a bad record of kind contract.KindMalformed.
func Malformed(path, reason string, raw []byte) *BadRecord {
	return &BadRecord{Kind: contract.KindMalformed, Path: path, Reason: reason, Raw: raw}
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

// Env is what the host gives an adapter's constructor.
type Env struct {
	// Name is the connector's name (the source it feeds, e.g. "land").
	Name string
	// Logger is the operator's log with the connector's name attached; an
	// adapter logs through it only (never to os.Stderr), and never row
	// values. Nil: logs are dropped (Log never returns nil).
	Logger *slog.Logger
	// Progress is where an adapter may draw a progress bar for an operator
	// watching a terminal (nil: nowhere). The host decides; an adapter
	// draws only when the writer is a terminal or the config insists.
	Progress io.Writer
}

// Log returns the connector's logger, a discarding one when none was given.
func (e Env) Log() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// NewEnv is the Env of connector name, logging to log with the connector's
// name attached (the way every host builds it).
func NewEnv(name string, log *slog.Logger) Env {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return Env{Name: name, Logger: log.With("connector", name)}
}

// Constructor builds a Source from a decoded config. cfg is a pointer to a
// value of the Spec's Config type with defaults applied and checked.
type Constructor func(env Env, cfg any) (Source, error)

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

// Validator is implemented by config structs with rules that tags cannot
// say (one field constrained by another, a URL that must parse). Rules of
// one field (required, min, max, enum, pattern) are tags, checked by the
// decoder (see config.go), and are not repeated in Validate. Validate
// reports every problem at once (errors.Join) and runs only when the tag
// rules pass.
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
// gives its default values (nil: the struct's `default` tags, see
// Defaults), build makes a source from a decoded and checked config. It
// spares every adapter the untyped plumbing.
func Typed[C any, S Source](name, summary string, defaults func() C, build func(env Env, cfg C) (S, error)) Spec {
	if defaults == nil {
		defaults = Defaults[C]
	}
	return Spec{
		Name:    name,
		Summary: summary,
		NewConfig: func() any {
			c := defaults()
			return &c
		},
		New: func(env Env, cfg any) (Source, error) {
			c, ok := cfg.(*C)
			if !ok {
				return nil, fmt.Errorf("connectors: adapter %s: config is %T, want %T", name, cfg, c)
			}
			s, err := build(env, *c)
			if err != nil {
				return nil, err // never a typed nil in the interface
			}
			return s, nil
		},
	}
}
