// Package sqlcore is the one implementation of store.Store's logic over SQL:
// the registry's version rules, positions, the audit log's checks, search
// and bucket filters, state, tokens, idempotency keys, the review queue and
// the population table. pgstore and sqlitestore only open their
// connections, run their migrations and describe their SQL with a Dialect,
// so a rule is written once and both backends keep it.
//
// The core writes its SQL with ? placeholders and names the columns whose
// name differs between the backends (the time columns: timestamptz on
// PostgreSQL, integer microseconds with an _us suffix on SQLite) in
// braces, e.g. {created}; a Dialect's DB rewrites both (see Rewriter).
// What is faster done another way on one backend (COPY and pipelining on
// PostgreSQL, multi-row INSERT on SQLite) sits behind a Tx method.
package sqlcore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Row is one result row (*sql.Row, pgx.Row).
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set; Close may be called more than once.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// DB runs the core's SQL (rewritten for the backend) on a pool or inside a
// transaction. A row not found is an error that errors.Is sql.ErrNoRows
// (pgx's ErrNoRows is one).
type DB interface {
	// Exec returns the number of rows affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Stmt is one statement of a batch.
type Stmt struct {
	SQL  string
	Args []any
}

// Tx is a write transaction, with the bulk writes each backend does its
// own fastest way.
type Tx interface {
	DB
	// ExecBatch runs stmts in order (PostgreSQL sends them in one round
	// trip).
	ExecBatch(ctx context.Context, stmts []Stmt) error
	// InsertAudit inserts the rows of entries, checked by the caller;
	// where refs[i] != 0 it writes text_id and leaves legal_basis empty and
	// fields NULL (see AuditTextRefs).
	InsertAudit(ctx context.Context, entries []store.AuditEntry, refs []int64) error
	// UpsertCitizens inserts or replaces cs by ID, the later entry of an ID
	// given twice winning.
	UpsertCitizens(ctx context.Context, cs []store.Citizen) error
}

// Dialect is what differs between the backends.
type Dialect interface {
	// Name starts every error message ("pgstore", "sqlitestore").
	Name() string
	// Read is the pool for reads, Write for single-statement writes.
	Read() DB
	Write() DB
	// WithTx runs fn in a write transaction and commits it; an error of fn
	// rolls it back and is returned as is.
	WithTx(ctx context.Context, fn func(tx Tx) error) error
	// IsUniqueViolation reports a unique constraint's refusal.
	IsUniqueViolation(err error) bool
	// Time is t as the backend's time columns store it (t is not zero).
	Time(t time.Time) any

	// LockSubject and LockText serialise, for every process sharing the
	// store, the transactions that read a subject's versions, or look for
	// a schema text, before they write (no-ops where a write transaction
	// already holds the whole database's write lock).
	LockSubject(ctx context.Context, tx Tx, subject string) error
	LockText(ctx context.Context, tx Tx, text string) error
	// SchemaID finds the schema with exactly this type and text;
	// sql.ErrNoRows when there is none.
	SchemaID(ctx context.Context, db DB, schemaType, text string) (int, error)
	// InsertSchema inserts a schema, under id when not 0 (later ids never
	// reuse it), and returns its id; a unique violation is
	// store.ErrConflict.
	InsertSchema(ctx context.Context, tx Tx, id int, schemaType, text string) (int, error)

	// DeleteAuditThrough deletes the entries with seq <= through, past the
	// append-only guard of the backend's migration 0003.
	DeleteAuditThrough(ctx context.Context, tx Tx, through int64) error
	// AuditBuckets is the condition that seq lies in one of buckets
	// (store.AuditBucketShift), with its arguments.
	AuditBuckets(buckets []int64) (cond string, args []any)
	// AuditKey is the condition that column col (citizen_key or
	// request_id) equals key, not "", shaped for migration 0006's index.
	AuditKey(col, key string) (cond string, args []any)
	// AuditPurpose is the condition that the comma-separated purposes of
	// an entry include purpose.
	AuditPurpose(purpose string) (cond string, args []any)
	// QueryAudit runs a SELECT of AuditColumns on the read pool and reads
	// its rows (sizeHint of them expected), with each row's text_id (0 for
	// NULL), which the core resolves (ResolveAuditTexts).
	QueryAudit(ctx context.Context, query string, args []any, sizeHint int) ([]store.AuditEntry, []int64, error)
}

// PointReader is a Dialect with a pool of its own for the short reads by
// key that every lookup makes (the citizen's state rows, the token),
// tuned for a log written all the time rather than for long searches.
type PointReader interface {
	ReadPoint() DB
}

// readPoint is the pool for a lookup's reads by key.
func (s *Store) readPoint() DB {
	if p, ok := s.d.(PointReader); ok {
		return p.ReadPoint()
	}
	return s.d.Read()
}

// Store implements store.Store, but Ping and Close, over a Dialect.
type Store struct {
	d       Dialect
	filters *store.AuditFilters
	texts   auditTexts
}

// New returns the core over d; the backend's Close must call Close.
func New(d Dialect) *Store {
	s := &Store{d: d}
	s.filters = store.NewAuditFilters(s)
	return s
}

// Filters returns the audit log's bucket filters, for a backend's own
// append path and tests.
func (s *Store) Filters() *store.AuditFilters { return s.filters }

// Close stops the filters' background work.
func (s *Store) Close() { s.filters.Close() }

// errorf prefixes the backend's name.
func (s *Store) errorf(format string, args ...any) error {
	return fmt.Errorf(s.d.Name()+": "+format, args...)
}

func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// nonNil turns "no rows" into an empty slice, so the API encodes [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// collect reads every row of rows with scan and closes them.
func collect[T any](rows Rows, err error, scan func(Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Time scans a time column of either backend: a timestamp (PostgreSQL) or
// integer microseconds (SQLite). NULL, and with Optional also 0 (SQLite's
// "none"), is the zero time; every other value is UTC.
type Time struct {
	T        *time.Time
	Optional bool
}

// Scan implements sql.Scanner.
func (t Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t.T = time.Time{}
	case time.Time:
		*t.T = v.UTC()
	case int64:
		if v == 0 && t.Optional {
			*t.T = time.Time{}
		} else {
			*t.T = time.UnixMicro(v).UTC()
		}
	default:
		return fmt.Errorf("sqlcore: cannot read %T as a time", src)
	}
	return nil
}
