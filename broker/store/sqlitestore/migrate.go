package sqlitestore

import (
	"context"
	"database/sql"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// migrator runs store.Migrate on the write pool. Its transactions begin
// IMMEDIATE (see Open), so two processes opening the same file migrate one
// after the other, and the second finds the version already recorded.
type migrator struct{ db *sql.DB }

func (m migrator) EnsureMigrationTable(ctx context.Context) error {
	_, err := m.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at TEXT    NOT NULL
	) STRICT`)
	return err
}

func (m migrator) AppliedVersions(ctx context.Context) ([]int, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}

func (m migrator) ApplyMigration(ctx context.Context, mg store.Migration) (bool, error) {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)
		 ON CONFLICT (version) DO NOTHING`,
		mg.Version, mg.Name, time.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err // already applied by another process
	}
	if _, err := tx.ExecContext(ctx, mg.SQL); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
