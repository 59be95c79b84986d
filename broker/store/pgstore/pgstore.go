// Package pgstore is the production store.Store of `lgsp serve`, on
// PostgreSQL through github.com/jackc/pgx/v5 and its connection pool. It owns
// the pool, the SQL and the schema migrations (migrations/NNNN_*.sql) of the
// store's tables.
//
// The tables live in the first schema of the connection's search_path, so
// several stores can share one database; give `search_path=NAME` in the URL
// to choose. Several bus instances may share one store: every write that
// reads before it writes is made safe for that with a constraint or a
// transaction-scoped advisory lock.
package pgstore

import (
	"context"
	"embed"
	"fmt"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlcore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)),
// so this package's locks never collide with another user's of the same
// database.
const (
	lockMigrate    int32 = 0x4c47_0001 // "LG" 1: schema migrations
	lockSubject    int32 = 0x4c47_0002 // "LG" 2: the registry's writes, per subject
	lockSchemaText int32 = 0x4c47_0010 // "LG" 16: "look up, else insert" per schema digest
)

// Store is a store.Store on PostgreSQL. Use Open to get one. Its logic is
// sqlcore's; this package gives it the pool, the SQL dialect (dialect.go)
// and the COPY-based audit stager (stage.go).
type Store struct {
	*sqlcore.Store
	pool *pgxpool.Pool
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.AuditStager = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as pgx accepts), brings the store's schema up to date
// and returns a Store.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message redacts the password.
		return nil, fmt.Errorf("pgstore: parse the database URL: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "lgsp"
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns()
	}
	return OpenConfig(ctx, cfg)
}

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns:
// max(16, 4 × GOMAXPROCS). pgx's own default, max(4, CPUs), left two
// connections for every lookup's state read while the audit log's group
// commits held the others (one commits, the next one is staged): asked
// for 2,000 lookups/s, the bus answered 910/s while 30 % busy, its
// lookups queued for a connection. Several instances × 16 stay within
// PostgreSQL's default max_connections (100).
func DefaultMaxConns() int32 { return int32(max(16, 4*runtime.GOMAXPROCS(0))) }

// OpenConfig is Open with a pool configuration built by the caller.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: create pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: connect to %s:%d/%s: %w; is PostgreSQL running and the URL right?",
			cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	ms, err := store.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := store.Migrate(ctx, migrator{pool}, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return &Store{Store: sqlcore.New(newDialect(pool)), pool: pool}, nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close implements store.Store. It waits for connections in use to be
// released.
func (s *Store) Close() error {
	s.Store.Close()
	s.pool.Close()
	return nil
}
