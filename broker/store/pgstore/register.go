package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

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
func schemaExtras(ctx context.Context, tx pgx.Tx, id int) (metadata, ruleSet string, err error) {
	rows, err := tx.Query(ctx, `SELECT setting, value FROM registry_settings WHERE subject = '' AND setting IN ($1, $2)`,
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

func insertExtras(ctx context.Context, tx pgx.Tx, id int, sc store.Schema) error {
	for _, x := range []struct{ field, value string }{{"metadata", sc.Metadata}, {"ruleSet", sc.RuleSet}} {
		if x.value == "" {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO registry_settings (setting, subject, value) VALUES ($1, '', $2)`,
			extraKey(id, x.field), x.value); err != nil {
			return err
		}
	}
	return nil
}

// sameSchema checks that the stored schema id, which has reg's type and
// text, was stored with reg's references and data-contract fields.
func sameSchema(ctx context.Context, tx pgx.Tx, id int, reg store.Registration) error {
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

func liveVersions(ctx context.Context, tx pgx.Tx, subject string) ([]store.SubjectVersion, error) {
	rows, err := tx.Query(ctx, `SELECT version, schema_id FROM subject_versions
		WHERE subject = $1 AND NOT deleted ORDER BY version`, subject)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SubjectVersion, error) {
		sv := store.SubjectVersion{Subject: subject}
		err := row.Scan(&sv.Version, &sv.SchemaID)
		return sv, err
	})
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

func nextVersion(ctx context.Context, tx pgx.Tx, subject string) (int, error) {
	var v int
	err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM subject_versions WHERE subject = $1`,
		subject).Scan(&v)
	return v, err
}

// RegisterVersion implements store.SchemaStore. The subject's advisory
// lock (the one AddVersion and the deletes take) makes "read the live
// versions, compare with what the caller checked, add the next one" one
// step for every bus instance on the database; the text's lock (the one
// PutSchemaRefs takes) makes "find the schema, else insert it" one step,
// so the same schema registered at once under two subjects gets one id.
// Locks are always taken subject first, then text.
func (s *Store) RegisterVersion(ctx context.Context, reg store.Registration) (store.SubjectVersion, error) {
	sc := reg.Schema
	sum := sha256.Sum256([]byte(sc.Text))
	var sv store.SubjectVersion
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockSubjectTx(ctx, tx, reg.Subject); err != nil {
			return err
		}
		if err := lockText(ctx, tx, sum[:]); err != nil {
			return err
		}
		id, err := schemaIDTx(ctx, tx, sc.Type, sc.Text, sum[:])
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
			sv, err = importVersion(ctx, tx, reg, id, found, sum[:])
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
			if id, err = insertSchema(ctx, tx, reg, 0, sum[:]); err != nil {
				return err
			}
		}
		sv = store.SubjectVersion{Subject: reg.Subject, SchemaID: id}
		if sv.Version, err = nextVersion(ctx, tx, reg.Subject); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO subject_versions (subject, version, schema_id) VALUES ($1, $2, $3)`,
			reg.Subject, sv.Version, id)
		return err
	})
	if err != nil {
		return store.SubjectVersion{}, fmt.Errorf("pgstore: register a version of subject %q: %w", reg.Subject, err)
	}
	return sv, nil
}

// insertSchema inserts reg's schema, under id when not 0, with its
// references and data-contract fields, and returns its id.
func insertSchema(ctx context.Context, tx pgx.Tx, reg store.Registration, id int, sum []byte) (int, error) {
	sc := reg.Schema
	var err error
	if id == 0 {
		err = tx.QueryRow(ctx, `INSERT INTO schemas (schema_type, schema_text, text_sha256)
			VALUES ($1, $2, $3) RETURNING id`, sc.Type, sc.Text, sum).Scan(&id)
	} else {
		_, err = tx.Exec(ctx, `INSERT INTO schemas (id, schema_type, schema_text, text_sha256)
			VALUES ($1, $2, $3, $4)`, id, sc.Type, sc.Text, sum)
		if err == nil {
			_, err = tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('schemas', 'id'),
				GREATEST((SELECT max(id) FROM schemas), 1))`)
		}
	}
	if isUniqueViolation(err) {
		return 0, fmt.Errorf("another %s schema has the same SHA-256: %w", sc.Type, store.ErrConflict)
	}
	if err != nil {
		return 0, err
	}
	if err := insertRefs(ctx, tx, id, reg.References); err != nil {
		return 0, err
	}
	return id, insertExtras(ctx, tx, id, sc)
}

// importVersion is RegisterVersion in IMPORT mode; id is the schema's
// current id when found.
func importVersion(ctx context.Context, tx pgx.Tx, reg store.Registration, id int, found bool, sum []byte) (store.SubjectVersion, error) {
	want := reg.Schema.ID
	if found && id != want {
		return store.SubjectVersion{}, fmt.Errorf("the schema is stored under id %d: %w", id, store.ErrConflict)
	}
	if !found {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schemas WHERE id = $1)`, want).Scan(&taken); err != nil {
			return store.SubjectVersion{}, err
		}
		if taken {
			return store.SubjectVersion{}, fmt.Errorf("id %d is taken by another schema: %w", want, store.ErrConflict)
		}
		if _, err := insertSchema(ctx, tx, reg, want, sum); err != nil {
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
	err := tx.QueryRow(ctx, `SELECT schema_id, deleted FROM subject_versions WHERE subject = $1 AND version = $2`,
		reg.Subject, sv.Version).Scan(&have, &sv.Deleted)
	switch {
	case err == nil && have != want:
		return store.SubjectVersion{}, fmt.Errorf("version %d is taken by schema %d: %w", sv.Version, have, store.ErrConflict)
	case err == nil:
		return sv, nil // the same version again: a no-op
	case !errors.Is(err, pgx.ErrNoRows):
		return store.SubjectVersion{}, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO subject_versions (subject, version, schema_id) VALUES ($1, $2, $3)`,
		reg.Subject, sv.Version, want)
	return sv, err
}
