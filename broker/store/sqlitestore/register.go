package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ---- registry: one registration in one transaction --------------------------

// Per-schema data-contract fields (Confluent's metadata and ruleSet) are
// kept in registry_settings under the global scope (the empty subject),
// keyed by the schema id: "schema/<id>/metadata" and "schema/<id>/ruleSet".
// The registry's own settings are fixed words (compatibility, mode), so
// the keys never meet, and no subject is empty (the registry refuses
// blank subjects), so deleting a subject's settings never touches them.
// This needs no migration; a later one may give them columns.
func extraKey(id int, field string) string { return "schema/" + strconv.Itoa(id) + "/" + field }

// schemaExtras returns the metadata and rule set stored with schema id.
func schemaExtras(ctx context.Context, tx *sql.Tx, id int) (metadata, ruleSet string, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT setting, value FROM registry_settings WHERE subject = '' AND setting IN (?, ?)`,
		extraKey(id, "metadata"), extraKey(id, "ruleSet"))
	if err != nil {
		return "", "", err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return "", "", err
		}
		if k == extraKey(id, "metadata") {
			metadata = v
		} else {
			ruleSet = v
		}
	}
	return metadata, ruleSet, rows.Err()
}

func insertExtras(ctx context.Context, tx *sql.Tx, id int, sc store.Schema) error {
	for _, x := range []struct{ field, value string }{{"metadata", sc.Metadata}, {"ruleSet", sc.RuleSet}} {
		if x.value == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO registry_settings (setting, subject, value) VALUES (?, '', ?)`,
			extraKey(id, x.field), x.value); err != nil {
			return err
		}
	}
	return nil
}

// sameSchema checks that the stored schema id, which has reg's type and
// text, was stored with reg's references and data-contract fields.
func sameSchema(ctx context.Context, tx *sql.Tx, id int, reg store.Registration) error {
	have, err := references(ctx, tx, id)
	if err != nil {
		return err
	}
	if !sameRefs(have, reg.References) {
		return fmt.Errorf("schema %d has the same text but other references: %w", id, store.ErrConflict)
	}
	md, rs, err := schemaExtras(ctx, tx, id)
	if err != nil {
		return err
	}
	if (reg.Schema.Metadata != "" && reg.Schema.Metadata != md) || (reg.Schema.RuleSet != "" && reg.Schema.RuleSet != rs) {
		return fmt.Errorf("schema %d has the same text but other metadata or rule set: %w", id, store.ErrConflict)
	}
	return nil
}

func liveVersions(ctx context.Context, tx *sql.Tx, subject string) ([]store.SubjectVersion, error) {
	rows, err := tx.QueryContext(ctx, `SELECT version, schema_id FROM subject_versions
		WHERE subject = ? AND deleted = 0 ORDER BY version`, subject)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.SubjectVersion
	for rows.Next() {
		sv := store.SubjectVersion{Subject: subject}
		if err := rows.Scan(&sv.Version, &sv.SchemaID); err != nil {
			return nil, err
		}
		out = append(out, sv)
	}
	return out, rows.Err()
}

// sameLive reports whether two lists of live versions name the same
// versions with the same schemas.
func sameLive(a, b []store.SubjectVersion) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Version != b[i].Version || a[i].SchemaID != b[i].SchemaID {
			return false
		}
	}
	return true
}

func nextVersion(ctx context.Context, tx *sql.Tx, subject string) (int, error) {
	var v int
	err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM subject_versions WHERE subject = ?`,
		subject).Scan(&v)
	return v, err
}

// RegisterVersion implements store.SchemaStore. Write transactions begin
// IMMEDIATE (see Open), so the whole registration holds the database's
// write lock: every process sharing the file sees it as one step.
func (s *Store) RegisterVersion(ctx context.Context, reg store.Registration) (store.SubjectVersion, error) {
	sc := reg.Schema
	var sv store.SubjectVersion
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		id, err := schemaID(ctx, tx, sc.Type, sc.Text)
		found := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if found {
			if err := sameSchema(ctx, tx, id, reg); err != nil {
				return err
			}
		}
		if sc.ID > 0 {
			sv, err = importVersion(ctx, tx, reg, id, found)
			return err
		}
		live, err := liveVersions(ctx, tx, reg.Subject)
		if err != nil {
			return err
		}
		if found {
			for _, v := range live {
				if v.SchemaID == id {
					sv = v
					return nil // already registered: write nothing
				}
			}
		}
		if !sameLive(live, reg.Live) {
			return store.ErrStale
		}
		if !found {
			if id, err = insertSchema(ctx, tx, reg, 0); err != nil {
				return err
			}
		}
		sv = store.SubjectVersion{Subject: reg.Subject, SchemaID: id}
		if sv.Version, err = nextVersion(ctx, tx, reg.Subject); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO subject_versions (subject, version, schema_id) VALUES (?, ?, ?)`,
			reg.Subject, sv.Version, id)
		return err
	})
	if err != nil {
		return store.SubjectVersion{}, fmt.Errorf("sqlitestore: register a version of subject %q: %w", reg.Subject, err)
	}
	return sv, nil
}

// insertSchema inserts reg's schema, under id when not 0, with its
// references and data-contract fields, and returns its id. SQLite gives
// the next row max(id)+1, so an imported id is never reused.
func insertSchema(ctx context.Context, tx *sql.Tx, reg store.Registration, id int) (int, error) {
	sc := reg.Schema
	if id == 0 {
		res, err := tx.ExecContext(ctx, `INSERT INTO schemas (schema_type, schema_text) VALUES (?, ?)`, sc.Type, sc.Text)
		if err != nil {
			return 0, err
		}
		id64, err := res.LastInsertId()
		if err != nil {
			return 0, err
		}
		id = int(id64)
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO schemas (id, schema_type, schema_text) VALUES (?, ?, ?)`,
		id, sc.Type, sc.Text); err != nil {
		return 0, err
	}
	if err := insertRefs(ctx, tx, id, reg.References); err != nil {
		return 0, err
	}
	return id, insertExtras(ctx, tx, id, sc)
}

// importVersion is RegisterVersion in IMPORT mode; id is the schema's
// current id when found.
func importVersion(ctx context.Context, tx *sql.Tx, reg store.Registration, id int, found bool) (store.SubjectVersion, error) {
	want := reg.Schema.ID
	if found && id != want {
		return store.SubjectVersion{}, fmt.Errorf("the schema is stored under id %d: %w", id, store.ErrConflict)
	}
	if !found {
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schemas WHERE id = ?)`, want).Scan(&taken); err != nil {
			return store.SubjectVersion{}, err
		}
		if taken {
			return store.SubjectVersion{}, fmt.Errorf("id %d is taken by another schema: %w", want, store.ErrConflict)
		}
		if _, err := insertSchema(ctx, tx, reg, want); err != nil {
			return store.SubjectVersion{}, err
		}
	}
	sv := store.SubjectVersion{Subject: reg.Subject, Version: reg.Version, SchemaID: want}
	if sv.Version <= 0 {
		v, err := nextVersion(ctx, tx, reg.Subject)
		if err != nil {
			return store.SubjectVersion{}, err
		}
		sv.Version = v
	}
	var have int
	err := tx.QueryRowContext(ctx, `SELECT schema_id, deleted FROM subject_versions WHERE subject = ? AND version = ?`,
		reg.Subject, sv.Version).Scan(&have, &sv.Deleted)
	switch {
	case err == nil && have != want:
		return store.SubjectVersion{}, fmt.Errorf("version %d is taken by schema %d: %w", sv.Version, have, store.ErrConflict)
	case err == nil:
		return sv, nil // the same version again: a no-op
	case !errors.Is(err, sql.ErrNoRows):
		return store.SubjectVersion{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO subject_versions (subject, version, schema_id) VALUES (?, ?, ?)`,
		reg.Subject, sv.Version, want)
	return sv, err
}
