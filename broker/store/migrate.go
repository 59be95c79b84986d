package store

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered step of a backend's schema. Backends keep their
// SQL in their own package (embedded NNNN_name.sql files) because the
// dialects differ; only the ordering and bookkeeping rules are shared here, so
// both backends upgrade the same way.
type Migration struct {
	Version int    // 1, 2, 3 … from the file name prefix
	Name    string // file name, for error messages and the bookkeeping row
	SQL     string
}

// LoadMigrations reads the *.sql files of dir in fsys. Names must start with a
// positive version number followed by '_' (0001_init.sql); versions must run
// 1, 2, 3 … without gaps or duplicates, so a missing or doubled file is a build
// mistake caught at Open rather than a silently skipped schema change.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations dir %q: %w", dir, err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		prefix, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			return nil, fmt.Errorf("store: migration %q: name must be NNNN_description.sql", e.Name())
		}
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %q: name must start with a positive version number", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("store: migrations must be numbered 1, 2, 3 … without gaps or duplicates; found %q at position %d", m.Name, i+1)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("store: no migrations in %q", dir)
	}
	return ms, nil
}

// MigrationTarget is what a backend provides to [Migrate]. The bookkeeping
// table is named schema_migrations(version, name, applied_at) in every
// backend.
type MigrationTarget interface {
	// EnsureMigrationTable creates schema_migrations if it does not exist.
	EnsureMigrationTable(ctx context.Context) error
	// AppliedVersions returns the versions recorded in schema_migrations.
	AppliedVersions(ctx context.Context) ([]int, error)
	// ApplyMigration runs m in one transaction: it records m.Version in
	// schema_migrations and executes m.SQL. If the version is already
	// recorded (another process migrated concurrently) it changes nothing
	// and reports applied=false.
	ApplyMigration(ctx context.Context, m Migration) (applied bool, err error)
}

// Migrate brings the target up to the last of ms, applying missing versions
// in ascending order, each in its own transaction, so a failure leaves the
// database at the last fully applied version and the next Open resumes from
// there. Re-running on an up-to-date database changes nothing. A database
// that records a version this binary does not know was written by a newer
// release; Migrate refuses it rather than run old code on a newer schema.
func Migrate(ctx context.Context, t MigrationTarget, ms []Migration) error {
	if err := t.EnsureMigrationTable(ctx); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	applied, err := t.AppliedVersions(ctx)
	if err != nil {
		return fmt.Errorf("store: read schema_migrations: %w", err)
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		if v > len(ms) {
			return fmt.Errorf("store: database is at schema version %d but this binary knows only up to %d; run a newer lgsp release against it", v, len(ms))
		}
		done[v] = true
	}
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		if _, err := t.ApplyMigration(ctx, m); err != nil {
			return fmt.Errorf("store: apply migration %s: %w; the database stays at the previous version, fix the cause and open it again", m.Name, err)
		}
	}
	return nil
}
