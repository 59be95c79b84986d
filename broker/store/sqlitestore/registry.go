package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ---- registry: references, explicit ids, deletes, settings -----------------

type rowsQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func references(ctx context.Context, q rowsQueryer, id int) ([]store.Reference, error) {
	rows, err := q.QueryContext(ctx,
		`SELECT name, subject, version FROM schema_references WHERE schema_id = ? ORDER BY ord`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Reference{}
	for rows.Next() {
		var r store.Reference
		if err := rows.Scan(&r.Name, &r.Subject, &r.Version); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func sameRefs(a, b []store.Reference) bool {
	return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b))
}

func insertRefs(ctx context.Context, tx *sql.Tx, id int, refs []store.Reference) error {
	for i, r := range refs {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_references (schema_id, ord, name, subject, version) VALUES (?, ?, ?, ?, ?)`,
			id, i, r.Name, r.Subject, r.Version); err != nil {
			return err
		}
	}
	return nil
}

// References implements store.SchemaStore.
func (s *Store) References(ctx context.Context, id int) ([]store.Reference, error) {
	refs, err := references(ctx, s.r, id)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: references of schema %d: %w", id, err)
	}
	return refs, nil
}

// PutSchemaRefs implements store.SchemaStore.
func (s *Store) PutSchemaRefs(ctx context.Context, schemaType, text string, refs []store.Reference) (int, bool, error) {
	var id int
	created := false
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = schemaID(ctx, tx, schemaType, text)
		if err == nil {
			have, err := references(ctx, tx, id)
			if err != nil {
				return err
			}
			if !sameRefs(have, refs) {
				return fmt.Errorf("schema %d has the same text but other references: %w", id, store.ErrConflict)
			}
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`INSERT INTO schemas (schema_type, schema_text) VALUES (?, ?)`, schemaType, text)
		if err != nil {
			return err
		}
		id64, err := res.LastInsertId()
		if err != nil {
			return err
		}
		id, created = int(id64), true
		return insertRefs(ctx, tx, id, refs)
	})
	if err != nil {
		return 0, false, fmt.Errorf("sqlitestore: put schema: %w", err)
	}
	return id, created, nil
}

// PutSchemaWithID implements store.SchemaStore. SQLite gives the next row
// max(id)+1, so a later PutSchema never reuses an imported id.
func (s *Store) PutSchemaWithID(ctx context.Context, id int, schemaType, text string, refs []store.Reference) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var typ, txt string
		err := tx.QueryRowContext(ctx, `SELECT schema_type, schema_text FROM schemas WHERE id = ?`, id).Scan(&typ, &txt)
		if err == nil {
			have, err := references(ctx, tx, id)
			if err != nil {
				return err
			}
			if typ != schemaType || txt != text || !sameRefs(have, refs) {
				return fmt.Errorf("id %d is taken by another schema: %w", id, store.ErrConflict)
			}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if other, err := schemaID(ctx, tx, schemaType, text); err == nil {
			return fmt.Errorf("the schema is stored under id %d: %w", other, store.ErrConflict)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schemas (id, schema_type, schema_text) VALUES (?, ?, ?)`, id, schemaType, text); err != nil {
			return err
		}
		return insertRefs(ctx, tx, id, refs)
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: put schema with id %d: %w", id, err)
	}
	return nil
}

// AddVersionAt implements store.SchemaStore.
func (s *Store) AddVersionAt(ctx context.Context, subject string, version, schemaID int) (store.SubjectVersion, error) {
	sv := store.SubjectVersion{Subject: subject, Version: version, SchemaID: schemaID}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var have int
		var deleted bool
		err := tx.QueryRowContext(ctx, `SELECT schema_id, deleted FROM subject_versions WHERE subject = ? AND version = ?`,
			subject, version).Scan(&have, &deleted)
		if err == nil {
			if have != schemaID {
				return fmt.Errorf("version %d is taken by schema %d: %w", version, have, store.ErrConflict)
			}
			sv.Deleted = deleted
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM schemas WHERE id = ?)`, schemaID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("schema id %d: %w", schemaID, store.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO subject_versions (subject, version, schema_id) VALUES (?, ?, ?)`, subject, version, schemaID)
		return err
	})
	if err != nil {
		return store.SubjectVersion{}, fmt.Errorf("sqlitestore: add version %d to subject %q: %w", version, subject, err)
	}
	return sv, nil
}

// DeleteVersion implements store.SchemaStore.
func (s *Store) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) error {
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var deleted bool
		err := tx.QueryRowContext(ctx, `SELECT deleted FROM subject_versions WHERE subject = ? AND version = ?`,
			subject, version).Scan(&deleted)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && deleted && !permanent) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if permanent {
			if !deleted {
				return fmt.Errorf("version is not soft-deleted: %w", store.ErrConflict)
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM subject_versions WHERE subject = ? AND version = ?`, subject, version)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE subject_versions SET deleted = 1 WHERE subject = ? AND version = ?`, subject, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete version %d of subject %q: %w", version, subject, err)
	}
	return nil
}

// DeleteSubject implements store.SchemaStore.
func (s *Store) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	var vs []int
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT version, deleted FROM subject_versions WHERE subject = ? ORDER BY version`
		rows, err := tx.QueryContext(ctx, q, subject)
		if err != nil {
			return err
		}
		live := 0
		for rows.Next() {
			var v int
			var d bool
			if err := rows.Scan(&v, &d); err != nil {
				rows.Close()
				return err
			}
			if !d {
				live++
			}
			if permanent || !d {
				vs = append(vs, v)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(vs) == 0 {
			return store.ErrNotFound
		}
		if permanent {
			if live > 0 {
				return fmt.Errorf("subject has versions that are not soft-deleted: %w", store.ErrConflict)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM subject_versions WHERE subject = ?`, subject); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `DELETE FROM registry_settings WHERE subject = ?`, subject)
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE subject_versions SET deleted = 1 WHERE subject = ?`, subject)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: delete subject %q: %w", subject, err)
	}
	return vs, nil
}

// SchemaVersions implements store.SchemaStore.
func (s *Store) SchemaVersions(ctx context.Context, id int, includeDeleted bool) ([]store.SubjectVersion, error) {
	q := `SELECT subject, version, deleted FROM subject_versions WHERE schema_id = ?`
	if !includeDeleted {
		q += ` AND deleted = 0`
	}
	rows, err := s.r.QueryContext(ctx, q+` ORDER BY subject, version`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: versions of schema %d: %w", id, err)
	}
	defer rows.Close()
	out := []store.SubjectVersion{}
	for rows.Next() {
		sv := store.SubjectVersion{SchemaID: id}
		if err := rows.Scan(&sv.Subject, &sv.Version, &sv.Deleted); err != nil {
			return nil, fmt.Errorf("sqlitestore: versions of schema %d: %w", id, err)
		}
		out = append(out, sv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: versions of schema %d: %w", id, err)
	}
	return out, nil
}

// ReferencedBy implements store.SchemaStore.
func (s *Store) ReferencedBy(ctx context.Context, subject string, version int) ([]int, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT r.schema_id FROM schema_references r
		WHERE r.subject = ? AND r.version = ?
		  AND EXISTS (SELECT 1 FROM subject_versions v WHERE v.schema_id = r.schema_id AND v.deleted = 0)
		ORDER BY r.schema_id`, subject, version)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: referenced by %q/%d: %w", subject, version, err)
	}
	defer rows.Close()
	out := []int{}
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlitestore: referenced by %q/%d: %w", subject, version, err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: referenced by %q/%d: %w", subject, version, err)
	}
	return out, nil
}

// GetSetting implements store.SchemaStore.
func (s *Store) GetSetting(ctx context.Context, setting store.Setting, subject string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM registry_settings WHERE setting = ? AND subject = ?`,
		string(setting), subject).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlitestore: %s of %q: %w", setting, subject, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlitestore: %s of %q: %w", setting, subject, err)
	}
	return v, nil
}

// PutSetting implements store.SchemaStore.
func (s *Store) PutSetting(ctx context.Context, setting store.Setting, subject, value string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO registry_settings (setting, subject, value) VALUES (?, ?, ?)
		ON CONFLICT (setting, subject) DO UPDATE SET value = excluded.value`, string(setting), subject, value)
	if err != nil {
		return fmt.Errorf("sqlitestore: set %s of %q: %w", setting, subject, err)
	}
	return nil
}

// DeleteSetting implements store.SchemaStore.
func (s *Store) DeleteSetting(ctx context.Context, setting store.Setting, subject string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM registry_settings WHERE setting = ? AND subject = ?`,
		string(setting), subject)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete %s of %q: %w", setting, subject, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err == nil {
			err = store.ErrNotFound
		}
		return fmt.Errorf("sqlitestore: delete %s of %q: %w", setting, subject, err)
	}
	return nil
}
