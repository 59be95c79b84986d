package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ---- registry: references, explicit ids, deletes, settings -----------------

// lockSchemaText serialises PutSchemaRefs / PutSchemaWithID per schema
// digest, so "look up, else insert with references" never interleaves.
const lockSchemaText int32 = 0x4c47_0010 // "LG" 16

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func references(ctx context.Context, q querier, id int) ([]store.Reference, error) {
	rows, err := q.Query(ctx,
		`SELECT name, subject, version FROM schema_references WHERE schema_id = $1 ORDER BY ord`, id)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Reference, error) {
		var r store.Reference
		err := row.Scan(&r.Name, &r.Subject, &r.Version)
		return r, err
	})
	return nonNil(out), err
}

func sameRefs(a, b []store.Reference) bool {
	return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b))
}

func insertRefs(ctx context.Context, tx pgx.Tx, id int, refs []store.Reference) error {
	for i, r := range refs {
		if _, err := tx.Exec(ctx,
			`INSERT INTO schema_references (schema_id, ord, name, subject, version) VALUES ($1, $2, $3, $4, $5)`,
			id, i, r.Name, r.Subject, r.Version); err != nil {
			return err
		}
	}
	return nil
}

func lockText(ctx context.Context, tx pgx.Tx, sum []byte) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(encode($2::bytea, 'hex')))`, lockSchemaText, sum)
	return err
}

func schemaIDTx(ctx context.Context, tx pgx.Tx, schemaType, text string, sum []byte) (int, error) {
	var id int
	err := tx.QueryRow(ctx, `SELECT id FROM schemas
		WHERE schema_type = $1 AND text_sha256 = $2 AND schema_text = $3`, schemaType, sum, text).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return id, err
}

// References implements store.SchemaStore.
func (s *Store) References(ctx context.Context, id int) ([]store.Reference, error) {
	refs, err := references(ctx, s.pool, id)
	if err != nil {
		return nil, fmt.Errorf("pgstore: references of schema %d: %w", id, err)
	}
	return refs, nil
}

// PutSchemaRefs implements store.SchemaStore.
func (s *Store) PutSchemaRefs(ctx context.Context, schemaType, text string, refs []store.Reference) (int, bool, error) {
	sum := sha256.Sum256([]byte(text))
	var id int
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockText(ctx, tx, sum[:]); err != nil {
			return err
		}
		var err error
		id, err = schemaIDTx(ctx, tx, schemaType, text, sum[:])
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
		if err := tx.QueryRow(ctx, `INSERT INTO schemas (schema_type, schema_text, text_sha256)
			VALUES ($1, $2, $3) RETURNING id`, schemaType, text, sum[:]).Scan(&id); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("another %s schema has the same SHA-256: %w", schemaType, store.ErrConflict)
			}
			return err
		}
		created = true
		return insertRefs(ctx, tx, id, refs)
	})
	if err != nil {
		return 0, false, fmt.Errorf("pgstore: put schema: %w", err)
	}
	return id, created, nil
}

// PutSchemaWithID implements store.SchemaStore. It moves the id sequence
// past the imported id, so a later PutSchema never reuses it.
func (s *Store) PutSchemaWithID(ctx context.Context, id int, schemaType, text string, refs []store.Reference) error {
	sum := sha256.Sum256([]byte(text))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockText(ctx, tx, sum[:]); err != nil {
			return err
		}
		var typ, txt string
		err := tx.QueryRow(ctx, `SELECT schema_type, schema_text FROM schemas WHERE id = $1`, id).Scan(&typ, &txt)
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
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if other, err := schemaIDTx(ctx, tx, schemaType, text, sum[:]); err == nil {
			return fmt.Errorf("the schema is stored under id %d: %w", other, store.ErrConflict)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schemas (id, schema_type, schema_text, text_sha256)
			VALUES ($1, $2, $3, $4)`, id, schemaType, text, sum[:]); err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("id %d or the schema is taken: %w", id, store.ErrConflict)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('schemas', 'id'),
			GREATEST((SELECT max(id) FROM schemas), 1))`); err != nil {
			return err
		}
		return insertRefs(ctx, tx, id, refs)
	})
	if err != nil {
		return fmt.Errorf("pgstore: put schema with id %d: %w", id, err)
	}
	return nil
}

func lockSubjectTx(ctx context.Context, tx pgx.Tx, subject string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockSubject, subject)
	return err
}

// AddVersionAt implements store.SchemaStore.
func (s *Store) AddVersionAt(ctx context.Context, subject string, version, schemaID int) (store.SubjectVersion, error) {
	sv := store.SubjectVersion{Subject: subject, Version: version, SchemaID: schemaID}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSubjectTx(ctx, tx, subject); err != nil {
			return err
		}
		var have int
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT schema_id, deleted FROM subject_versions WHERE subject = $1 AND version = $2`,
			subject, version).Scan(&have, &deleted)
		if err == nil {
			if have != schemaID {
				return fmt.Errorf("version %d is taken by schema %d: %w", version, have, store.ErrConflict)
			}
			sv.Deleted = deleted
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schemas WHERE id = $1)`, schemaID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("schema id %d: %w", schemaID, store.ErrNotFound)
		}
		_, err = tx.Exec(ctx, `INSERT INTO subject_versions (subject, version, schema_id) VALUES ($1, $2, $3)`,
			subject, version, schemaID)
		return err
	})
	if err != nil {
		return store.SubjectVersion{}, fmt.Errorf("pgstore: add version %d to subject %q: %w", version, subject, err)
	}
	return sv, nil
}

// DeleteVersion implements store.SchemaStore.
func (s *Store) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSubjectTx(ctx, tx, subject); err != nil {
			return err
		}
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT deleted FROM subject_versions WHERE subject = $1 AND version = $2`,
			subject, version).Scan(&deleted)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && deleted && !permanent) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if permanent {
			if !deleted {
				return fmt.Errorf("version is not soft-deleted: %w", store.ErrConflict)
			}
			_, err = tx.Exec(ctx, `DELETE FROM subject_versions WHERE subject = $1 AND version = $2`, subject, version)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE subject_versions SET deleted = true WHERE subject = $1 AND version = $2`, subject, version)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: delete version %d of subject %q: %w", version, subject, err)
	}
	return nil
}

// DeleteSubject implements store.SchemaStore.
func (s *Store) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	var vs []int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSubjectTx(ctx, tx, subject); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version, deleted FROM subject_versions WHERE subject = $1 ORDER BY version`, subject)
		if err != nil {
			return err
		}
		type row struct {
			v int
			d bool
		}
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.v, &x.d)
			return x, err
		})
		if err != nil {
			return err
		}
		live := 0
		vs = nil
		for _, x := range all {
			if !x.d {
				live++
			}
			if permanent || !x.d {
				vs = append(vs, x.v)
			}
		}
		if len(vs) == 0 {
			return store.ErrNotFound
		}
		if permanent {
			if live > 0 {
				return fmt.Errorf("subject has versions that are not soft-deleted: %w", store.ErrConflict)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM subject_versions WHERE subject = $1`, subject); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM registry_settings WHERE subject = $1`, subject)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE subject_versions SET deleted = true WHERE subject = $1`, subject)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: delete subject %q: %w", subject, err)
	}
	return vs, nil
}

// SchemaVersions implements store.SchemaStore.
func (s *Store) SchemaVersions(ctx context.Context, id int, includeDeleted bool) ([]store.SubjectVersion, error) {
	q := `SELECT subject, version, deleted FROM subject_versions WHERE schema_id = $1`
	if !includeDeleted {
		q += ` AND NOT deleted`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY subject, version`, id)
	if err != nil {
		return nil, fmt.Errorf("pgstore: versions of schema %d: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SubjectVersion, error) {
		sv := store.SubjectVersion{SchemaID: id}
		err := row.Scan(&sv.Subject, &sv.Version, &sv.Deleted)
		return sv, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: versions of schema %d: %w", id, err)
	}
	return nonNil(out), nil
}

// ReferencedBy implements store.SchemaStore.
func (s *Store) ReferencedBy(ctx context.Context, subject string, version int) ([]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT r.schema_id FROM schema_references r
		WHERE r.subject = $1 AND r.version = $2
		  AND EXISTS (SELECT 1 FROM subject_versions v WHERE v.schema_id = r.schema_id AND NOT v.deleted)
		ORDER BY r.schema_id`, subject, version)
	if err != nil {
		return nil, fmt.Errorf("pgstore: referenced by %q/%d: %w", subject, version, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("pgstore: referenced by %q/%d: %w", subject, version, err)
	}
	return nonNil(out), nil
}

// GetSetting implements store.SchemaStore.
func (s *Store) GetSetting(ctx context.Context, setting store.Setting, subject string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM registry_settings WHERE setting = $1 AND subject = $2`,
		string(setting), subject).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("pgstore: %s of %q: %w", setting, subject, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("pgstore: %s of %q: %w", setting, subject, err)
	}
	return v, nil
}

// PutSetting implements store.SchemaStore.
func (s *Store) PutSetting(ctx context.Context, setting store.Setting, subject, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO registry_settings (setting, subject, value) VALUES ($1, $2, $3)
		ON CONFLICT (setting, subject) DO UPDATE SET value = excluded.value`, string(setting), subject, value)
	if err != nil {
		return fmt.Errorf("pgstore: set %s of %q: %w", setting, subject, err)
	}
	return nil
}

// DeleteSetting implements store.SchemaStore.
func (s *Store) DeleteSetting(ctx context.Context, setting store.Setting, subject string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM registry_settings WHERE setting = $1 AND subject = $2`,
		string(setting), subject)
	if err != nil {
		return fmt.Errorf("pgstore: delete %s of %q: %w", setting, subject, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: delete %s of %q: %w", setting, subject, store.ErrNotFound)
	}
	return nil
}
