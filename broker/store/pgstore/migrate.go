package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// migrator runs store.Migrate on the pool. Each step takes a transaction-
// scoped advisory lock, so bus instances starting together migrate one after
// the other and the later ones find the version already recorded.
type migrator struct{ pool *pgxpool.Pool }

func lockMigrations(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockMigrate)
	return err
}

func (m migrator) EnsureMigrationTable(ctx context.Context) error {
	// Under the lock: two concurrent CREATE TABLE IF NOT EXISTS can
	// otherwise fail on the catalog's unique index.
	return pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer     NOT NULL PRIMARY KEY,
			name       text        NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`)
		return err
	})
}

func (m migrator) AppliedVersions(ctx context.Context) ([]int, error) {
	rows, err := m.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

func (m migrator) ApplyMigration(ctx context.Context, mg store.Migration) (applied bool, err error) {
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)
			ON CONFLICT (version) DO NOTHING`, mg.Version, mg.Name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // another instance applied it while we waited
		}
		// No arguments: pgx sends it with the simple protocol, which
		// allows the several statements of a migration file.
		if _, err := tx.Exec(ctx, mg.SQL); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied, err
}
