// Package sqlitestore is the embedded store.Store of `lgsp dev`: one SQLite
// file in the data dir, through the pure-Go driver modernc.org/sqlite so the
// binary needs no C toolchain. It owns that file's connections, its pragmas
// and its schema migrations (migrations/NNNN_*.sql).
//
// SQLite allows one writer at a time. Rather than let concurrent writers
// collide and retry on SQLITE_BUSY, the Store keeps a write pool of exactly
// one connection, so writers queue in Go, and separate read pools (one for
// searches, one for a lookup's reads by key), which WAL mode lets read
// while a write is in progress.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlcore"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// busyTimeout is how long a connection waits for a lock held by another
// process (an `lgsp` CLI reading or verifying the same file) before failing
// with SQLITE_BUSY. Inside one process the single write connection already
// serialises writers.
const busyTimeout = 10 * time.Second

// Store is a store.Store on one SQLite file. Use Open to get one. Its logic
// is sqlcore's; this package gives it the connections and the SQL dialect
// (dialect.go).
type Store struct {
	*sqlcore.Store
	w       *sql.DB // exactly one connection: every write goes through it
	r       *sql.DB // query_only connections for reads
	p       *sql.DB // query_only connections for a lookup's reads by key
	path    string
	stmts   *stmtCache // r's and p's prepared statements, closed with them
	pstmts  *stmtCache
	wstmts  map[string]*sql.Stmt // w's batch statements, closed with it
	filters *store.AuditFilters  // the core's bucket filters, for this package's tests
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the SQLite database file at path, brings
// its schema up to date, and returns a Store. path must be a file name;
// ":memory:" does not work because the read and write pools would each get
// their own empty database.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlitestore: open %q: give a plain file path (the data dir's store.db), not %q", path, path)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlitestore: open %q: the path may not contain '?' or '#'; choose another data dir", path)
	}
	// The file holds personal data (the population table): create it, and
	// its directory, readable by the owner only. SQLite gives its -wal and
	// -shm files the main file's permissions.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitestore: create directory for %q: %w; check the data dir path and its permissions", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: create %q: %w; check the data dir path and its permissions", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlitestore: create %q: %w", path, err)
	}

	bt := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	wq := url.Values{}
	wq.Set("_busy_timeout", bt)
	wq.Set("_journal_mode", "WAL")
	// synchronous=FULL: in WAL mode NORMAL survives a process crash but may
	// lose the last commits on power loss or an OS crash. The interface
	// promises that AppendAudit is "one durable write" and that PutPosition
	// "durably records" (a connector acknowledges its source after it), and
	// an access that was served must never vanish from the audit log, so
	// every commit pays one fsync of the WAL.
	wq.Set("_synchronous", "FULL")
	wq.Set("_foreign_keys", "1")
	// Transactions take the write lock at BEGIN, so a read-then-write
	// transaction never fails to upgrade its lock when another process
	// writes between the two.
	wq.Set("_txlock", "immediate")
	// The audit log's random-key indexes dirty a page per entry and index,
	// so a group commit of a few hundred entries writes more than SQLite's
	// default auto-checkpoint threshold (1,000 pages) and every commit
	// would also copy its pages back into the file and fsync it. Checkpoint
	// at 10,000 pages (about 40 MB of WAL) instead: a page dirtied by
	// several commits is copied back once, and the fsync of the file is
	// shared. A larger page cache for the one writer keeps more of those
	// index pages; readers keep the default.
	wq.Add("_pragma", "wal_autocheckpoint(10000)")
	wq.Add("_pragma", "cache_size(-65536)")
	// A multi-row INSERT keeps a statement journal (the pages it changed,
	// to undo just that statement); past 64 KB SQLite spills it to a
	// temporary file, one write system call per page, which cost the audit
	// log's group commits a fifth of their time. Keep it in memory.
	wq.Add("_pragma", "temp_store(MEMORY)")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{w: w, path: path}
	if err := s.checkWAL(ctx); err != nil {
		_ = w.Close()
		return nil, err
	}
	ms, err := store.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	if err := store.Migrate(ctx, migrator{w}, ms); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: %q: %w", path, err)
	}

	rq := url.Values{}
	rq.Set("_busy_timeout", bt)
	rq.Set("_query_only", "1")
	// Searches by citizen seek once per bucket of the audit log's indexes
	// (see store.AuditBucketShift); mapping the file lets those seeks read
	// pages without a system call and a copy each.
	rq.Add("_pragma", "mmap_size(1073741824)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("sqlitestore: open %q for reading: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlitestore: open %q for reading: %w", path, err)
	}
	// A lookup's reads by key (state rows, tokens) get a pool without the
	// mapping: a connection that finds the file changed since its last
	// read (every audit commit) unmaps it whole, and the next read faults
	// each page in again, which under a stream of lookups cost more than
	// the system call per page it saves (about a fifth of a lookup's CPU).
	pq := url.Values{}
	pq.Set("_busy_timeout", bt)
	pq.Set("_query_only", "1")
	p, err := sql.Open("sqlite", path+"?"+pq.Encode())
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlitestore: open %q for reading: %w", path, err)
	}
	p.SetMaxOpenConns(n)
	p.SetMaxIdleConns(n)
	s.p = p
	if s.wstmts, err = prepareBatches(ctx, w); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlitestore: open %q: prepare the batch statements: %w", path, err)
	}
	s.stmts, s.pstmts = newStmtCache(r), newStmtCache(p)
	s.Store = sqlcore.New(&dialect{w: w, r: r, p: p, stmts: s.stmts, pstmts: s.pstmts, wstmts: s.wstmts})
	s.filters = s.Filters()
	return s, nil
}

// checkWAL fails Open when the file could not be put in WAL mode (a file
// system without shared-memory support, for example): without WAL the
// readers would block the writer and the pools would hit SQLITE_BUSY.
func (s *Store) checkWAL(ctx context.Context) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlitestore: open %q: %w; is it an SQLite database?", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlitestore: open %q: journal mode is %q, not WAL; put the data dir on a local file system", s.path, mode)
	}
	return nil
}

// Ping checks that the file can still be read. It uses the read pool so a
// readiness probe never queues behind a long write.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: ping %q: %w", s.path, err)
	}
	return nil
}

// Close closes both pools. It does not checkpoint explicitly: SQLite does
// that when the last connection closes.
func (s *Store) Close() error {
	if s.Store != nil {
		s.Store.Close()
	}
	var errs []error
	for _, st := range s.wstmts {
		_ = st.Close()
	}
	for _, c := range []*stmtCache{s.stmts, s.pstmts} {
		if c != nil {
			c.close()
		}
	}
	if s.p != nil {
		errs = append(errs, s.p.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close %q: %w", s.path, err)
	}
	return nil
}
