package sqlcore

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ---- schemas and subjects ---------------------------------------------------

// PutSchema implements store.SchemaStore.
func (s *Store) PutSchema(ctx context.Context, schemaType, text string) (int, bool, error) {
	// Most calls (the registry loading its schemas at start) find an
	// existing row: look on the read pool first, without a lock.
	id, err := s.d.SchemaID(ctx, s.d.Read(), schemaType, text)
	if err == nil {
		return id, false, nil
	}
	if !noRows(err) {
		return 0, false, s.errorf("look up schema: %w", err)
	}
	created := false
	err = s.d.WithTx(ctx, func(tx Tx) error {
		if err := s.d.LockText(ctx, tx, text); err != nil {
			return err
		}
		// Look again under the lock: another writer may have inserted it.
		id, err = s.d.SchemaID(ctx, tx, schemaType, text)
		if err == nil || !noRows(err) {
			return err
		}
		id, err = s.d.InsertSchema(ctx, tx, 0, schemaType, text)
		created = err == nil
		return err
	})
	if err != nil {
		return 0, false, s.errorf("put schema: %w", err)
	}
	return id, created, nil
}

// SchemaByID implements store.SchemaStore.
func (s *Store) SchemaByID(ctx context.Context, id int) (store.Schema, error) {
	sc := store.Schema{ID: id}
	err := s.d.Read().QueryRow(ctx, `SELECT s.schema_type, s.schema_text, COALESCE(m.value, ''), COALESCE(r.value, '')
		FROM schemas s
		LEFT JOIN registry_settings m ON m.subject = '' AND m.setting = 'schema/' || s.id || '/metadata'
		LEFT JOIN registry_settings r ON r.subject = '' AND r.setting = 'schema/' || s.id || '/ruleSet'
		WHERE s.id = ?`, id).Scan(&sc.Type, &sc.Text, &sc.Metadata, &sc.RuleSet)
	if noRows(err) {
		return store.Schema{}, s.errorf("schema id %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Schema{}, s.errorf("schema id %d: %w", id, err)
	}
	return sc, nil
}

func schemaExists(ctx context.Context, db DB, id int) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schemas WHERE id = ?)`, id).Scan(&exists)
	return exists, err
}

func nextVersion(ctx context.Context, db DB, subject string) (int, error) {
	var v int
	// Soft-deleted versions keep their numbers, as in Confluent.
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM subject_versions WHERE subject = ?`,
		subject).Scan(&v)
	return v, err
}

func insertVersion(ctx context.Context, tx Tx, subject string, version, schemaID int) error {
	_, err := tx.Exec(ctx, `INSERT INTO subject_versions (subject, version, schema_id) VALUES (?, ?, ?)`,
		subject, version, schemaID)
	return err
}

// AddVersion implements store.SchemaStore. An unknown schemaID is reported
// as store.ErrNotFound.
func (s *Store) AddVersion(ctx context.Context, subject string, schemaID int) (store.SubjectVersion, error) {
	sv := store.SubjectVersion{Subject: subject, SchemaID: schemaID}
	err := s.d.WithTx(ctx, func(tx Tx) error {
		// "look for the schema, else take max+1" must not interleave
		if err := s.d.LockSubject(ctx, tx, subject); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT version FROM subject_versions
			WHERE subject = ? AND schema_id = ? AND NOT deleted
			ORDER BY version LIMIT 1`, subject, schemaID).Scan(&sv.Version)
		if err == nil {
			return nil // already registered: write nothing
		}
		if !noRows(err) {
			return err
		}
		if ok, err := schemaExists(ctx, tx, schemaID); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("schema id %d: %w", schemaID, store.ErrNotFound)
			}
			return err
		}
		if sv.Version, err = nextVersion(ctx, tx, subject); err != nil {
			return err
		}
		return insertVersion(ctx, tx, subject, sv.Version, schemaID)
	})
	if err != nil {
		return store.SubjectVersion{}, s.errorf("add version to subject %q: %w", subject, err)
	}
	return sv, nil
}

// Versions implements store.SchemaStore.
func (s *Store) Versions(ctx context.Context, subject string, includeDeleted bool) ([]store.SubjectVersion, error) {
	out, err := versionsWhere(ctx, s.d.Read(), "subject", subject, includeDeleted, "version")
	if err != nil {
		return nil, s.errorf("versions of subject %q: %w", subject, err)
	}
	return nonNil(out), nil
}

// versionsWhere lists the subject versions whose column col is v
// (soft-deleted ones only when includeDeleted), ordered by order.
func versionsWhere(ctx context.Context, db DB, col string, v any, includeDeleted bool, order string) ([]store.SubjectVersion, error) {
	q := `SELECT subject, version, schema_id, deleted FROM subject_versions WHERE ` + col + ` = ?`
	if !includeDeleted {
		q += ` AND NOT deleted`
	}
	rows, err := db.Query(ctx, q+` ORDER BY `+order, v)
	return collect(rows, err, func(r Rows) (store.SubjectVersion, error) {
		var sv store.SubjectVersion
		err := r.Scan(&sv.Subject, &sv.Version, &sv.SchemaID, &sv.Deleted)
		return sv, err
	})
}

func scanOne[T any](r Rows) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}

// Subjects implements store.SchemaStore. Names sort bytewise (COLLATE "C"
// on PostgreSQL, BINARY on SQLite), the order of Go's sort.Strings.
func (s *Store) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	q := `SELECT DISTINCT subject FROM subject_versions`
	if !includeDeleted {
		q += ` WHERE NOT deleted`
	}
	rows, err := s.d.Read().Query(ctx, q+` ORDER BY subject`)
	out, err := collect(rows, err, scanOne[string])
	if err != nil {
		return nil, s.errorf("list subjects: %w", err)
	}
	return nonNil(out), nil
}

// ---- references, explicit ids ----------------------------------------------

func references(ctx context.Context, db DB, id int) ([]store.Reference, error) {
	rows, err := db.Query(ctx, `SELECT name, subject, version FROM schema_references WHERE schema_id = ? ORDER BY ord`, id)
	out, err := collect(rows, err, func(r Rows) (store.Reference, error) {
		var ref store.Reference
		err := r.Scan(&ref.Name, &ref.Subject, &ref.Version)
		return ref, err
	})
	return nonNil(out), err
}

func sameRefs(a, b []store.Reference) bool {
	return len(a) == len(b) && (len(a) == 0 || slices.Equal(a, b))
}

func insertRefs(ctx context.Context, tx Tx, id int, refs []store.Reference) error {
	for i, r := range refs {
		if _, err := tx.Exec(ctx,
			`INSERT INTO schema_references (schema_id, ord, name, subject, version) VALUES (?, ?, ?, ?, ?)`,
			id, i, r.Name, r.Subject, r.Version); err != nil {
			return err
		}
	}
	return nil
}

// References implements store.SchemaStore.
func (s *Store) References(ctx context.Context, id int) ([]store.Reference, error) {
	refs, err := references(ctx, s.d.Read(), id)
	if err != nil {
		return nil, s.errorf("references of schema %d: %w", id, err)
	}
	return refs, nil
}

// PutSchemaRefs implements store.SchemaStore.
func (s *Store) PutSchemaRefs(ctx context.Context, schemaType, text string, refs []store.Reference) (int, bool, error) {
	var id int
	created := false
	err := s.d.WithTx(ctx, func(tx Tx) error {
		if err := s.d.LockText(ctx, tx, text); err != nil {
			return err
		}
		var err error
		id, err = s.d.SchemaID(ctx, tx, schemaType, text)
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
		if !noRows(err) {
			return err
		}
		if id, err = s.d.InsertSchema(ctx, tx, 0, schemaType, text); err != nil {
			return err
		}
		created = true
		return insertRefs(ctx, tx, id, refs)
	})
	if err != nil {
		return 0, false, s.errorf("put schema: %w", err)
	}
	return id, created, nil
}

// PutSchemaWithID implements store.SchemaStore.
func (s *Store) PutSchemaWithID(ctx context.Context, id int, schemaType, text string, refs []store.Reference) error {
	err := s.d.WithTx(ctx, func(tx Tx) error {
		if err := s.d.LockText(ctx, tx, text); err != nil {
			return err
		}
		var typ, txt string
		err := tx.QueryRow(ctx, `SELECT schema_type, schema_text FROM schemas WHERE id = ?`, id).Scan(&typ, &txt)
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
		if !noRows(err) {
			return err
		}
		if other, err := s.d.SchemaID(ctx, tx, schemaType, text); err == nil {
			return fmt.Errorf("the schema is stored under id %d: %w", other, store.ErrConflict)
		} else if !noRows(err) {
			return err
		}
		if _, err := s.d.InsertSchema(ctx, tx, id, schemaType, text); err != nil {
			return err
		}
		return insertRefs(ctx, tx, id, refs)
	})
	if err != nil {
		return s.errorf("put schema with id %d: %w", id, err)
	}
	return nil
}

// AddVersionAt implements store.SchemaStore.
func (s *Store) AddVersionAt(ctx context.Context, subject string, version, schemaID int) (store.SubjectVersion, error) {
	sv := store.SubjectVersion{Subject: subject, Version: version, SchemaID: schemaID}
	err := s.d.WithTx(ctx, func(tx Tx) error {
		if err := s.d.LockSubject(ctx, tx, subject); err != nil {
			return err
		}
		var have int
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT schema_id, deleted FROM subject_versions WHERE subject = ? AND version = ?`,
			subject, version).Scan(&have, &deleted)
		if err == nil {
			if have != schemaID {
				return fmt.Errorf("version %d is taken by schema %d: %w", version, have, store.ErrConflict)
			}
			sv.Deleted = deleted
			return nil
		}
		if !noRows(err) {
			return err
		}
		if ok, err := schemaExists(ctx, tx, schemaID); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("schema id %d: %w", schemaID, store.ErrNotFound)
			}
			return err
		}
		return insertVersion(ctx, tx, subject, version, schemaID)
	})
	if err != nil {
		return store.SubjectVersion{}, s.errorf("add version %d to subject %q: %w", version, subject, err)
	}
	return sv, nil
}

// ---- deletes ----------------------------------------------------------------

// DeleteVersion implements store.SchemaStore.
func (s *Store) DeleteVersion(ctx context.Context, subject string, version int, permanent bool) error {
	err := s.d.WithTx(ctx, func(tx Tx) error {
		if err := s.d.LockSubject(ctx, tx, subject); err != nil {
			return err
		}
		var deleted bool
		err := tx.QueryRow(ctx, `SELECT deleted FROM subject_versions WHERE subject = ? AND version = ?`,
			subject, version).Scan(&deleted)
		if noRows(err) || (err == nil && deleted && !permanent) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		if permanent {
			if !deleted {
				return fmt.Errorf("version is not soft-deleted: %w", store.ErrConflict)
			}
			_, err = tx.Exec(ctx, `DELETE FROM subject_versions WHERE subject = ? AND version = ?`, subject, version)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE subject_versions SET deleted = TRUE WHERE subject = ? AND version = ?`, subject, version)
		return err
	})
	if err != nil {
		return s.errorf("delete version %d of subject %q: %w", version, subject, err)
	}
	return nil
}

// DeleteSubject implements store.SchemaStore.
func (s *Store) DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error) {
	var vs []int
	err := s.d.WithTx(ctx, func(tx Tx) error {
		if err := s.d.LockSubject(ctx, tx, subject); err != nil {
			return err
		}
		type row struct {
			v int
			d bool
		}
		rows, err := tx.Query(ctx, `SELECT version, deleted FROM subject_versions WHERE subject = ? ORDER BY version`, subject)
		all, err := collect(rows, err, func(r Rows) (row, error) {
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
			if _, err := tx.Exec(ctx, `DELETE FROM subject_versions WHERE subject = ?`, subject); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM registry_settings WHERE subject = ?`, subject)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE subject_versions SET deleted = TRUE WHERE subject = ?`, subject)
		return err
	})
	if err != nil {
		return nil, s.errorf("delete subject %q: %w", subject, err)
	}
	return vs, nil
}

// SchemaVersions implements store.SchemaStore.
func (s *Store) SchemaVersions(ctx context.Context, id int, includeDeleted bool) ([]store.SubjectVersion, error) {
	out, err := versionsWhere(ctx, s.d.Read(), "schema_id", id, includeDeleted, "subject, version")
	if err != nil {
		return nil, s.errorf("versions of schema %d: %w", id, err)
	}
	return nonNil(out), nil
}

// ReferencedBy implements store.SchemaStore.
func (s *Store) ReferencedBy(ctx context.Context, subject string, version int) ([]int, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT DISTINCT r.schema_id FROM schema_references r
		WHERE r.subject = ? AND r.version = ?
		  AND EXISTS (SELECT 1 FROM subject_versions v WHERE v.schema_id = r.schema_id AND NOT v.deleted)
		ORDER BY r.schema_id`, subject, version)
	out, err := collect(rows, err, scanOne[int])
	if err != nil {
		return nil, s.errorf("referenced by %q/%d: %w", subject, version, err)
	}
	return nonNil(out), nil
}

// ---- settings ---------------------------------------------------------------

// GetSetting implements store.SchemaStore.
func (s *Store) GetSetting(ctx context.Context, setting store.Setting, subject string) (string, error) {
	var v string
	err := s.d.Read().QueryRow(ctx, `SELECT value FROM registry_settings WHERE setting = ? AND subject = ?`,
		string(setting), subject).Scan(&v)
	if noRows(err) {
		return "", s.errorf("%s of %q: %w", setting, subject, store.ErrNotFound)
	}
	if err != nil {
		return "", s.errorf("%s of %q: %w", setting, subject, err)
	}
	return v, nil
}

// PutSetting implements store.SchemaStore.
func (s *Store) PutSetting(ctx context.Context, setting store.Setting, subject, value string) error {
	_, err := s.d.Write().Exec(ctx, `INSERT INTO registry_settings (setting, subject, value) VALUES (?, ?, ?)
		ON CONFLICT (setting, subject) DO UPDATE SET value = excluded.value`, string(setting), subject, value)
	if err != nil {
		return s.errorf("set %s of %q: %w", setting, subject, err)
	}
	return nil
}

// DeleteSetting implements store.SchemaStore.
func (s *Store) DeleteSetting(ctx context.Context, setting store.Setting, subject string) error {
	n, err := s.d.Write().Exec(ctx, `DELETE FROM registry_settings WHERE setting = ? AND subject = ?`,
		string(setting), subject)
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return s.errorf("delete %s of %q: %w", setting, subject, err)
	}
	return nil
}

// ---- one registration in one transaction --------------------------------------

// Per-schema data-contract fields (Confluent's metadata and ruleSet) are
// kept in registry_settings under the global scope (the empty subject),
// keyed by the schema id: "schema/<id>/metadata" and "schema/<id>/ruleSet".
// The registry's own settings are fixed words (compatibility, mode), so
// the keys never meet, and no subject is empty (the registry refuses
// blank subjects), so deleting a subject's settings never touches them.
// This needs no migration; a later one may give them columns.
func extraKey(id int, field string) string { return "schema/" + strconv.Itoa(id) + "/" + field }

// schemaExtras returns the metadata and rule set stored with schema id.
func schemaExtras(ctx context.Context, tx Tx, id int) (metadata, ruleSet string, err error) {
	rows, err := tx.Query(ctx, `SELECT setting, value FROM registry_settings WHERE subject = '' AND setting IN (?, ?)`,
		extraKey(id, "metadata"), extraKey(id, "ruleSet"))
	kvs, err := collect(rows, err, func(r Rows) ([2]string, error) {
		var kv [2]string
		err := r.Scan(&kv[0], &kv[1])
		return kv, err
	})
	for _, kv := range kvs {
		if kv[0] == extraKey(id, "metadata") {
			metadata = kv[1]
		} else {
			ruleSet = kv[1]
		}
	}
	return metadata, ruleSet, err
}

func insertExtras(ctx context.Context, tx Tx, id int, sc store.Schema) error {
	for _, x := range []struct{ field, value string }{{"metadata", sc.Metadata}, {"ruleSet", sc.RuleSet}} {
		if x.value == "" {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO registry_settings (setting, subject, value) VALUES (?, '', ?)`,
			extraKey(id, x.field), x.value); err != nil {
			return err
		}
	}
	return nil
}

// sameSchema checks that the stored schema id, which has reg's type and
// text, was stored with reg's references and data-contract fields.
func sameSchema(ctx context.Context, tx Tx, id int, reg store.Registration) error {
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

func liveVersions(ctx context.Context, tx Tx, subject string) ([]store.SubjectVersion, error) {
	return versionsWhere(ctx, tx, "subject", subject, false, "version")
}

// sameLive reports whether two lists of live versions name the same
// versions with the same schemas.
func sameLive(a, b []store.SubjectVersion) bool {
	return slices.EqualFunc(a, b, func(x, y store.SubjectVersion) bool {
		return x.Version == y.Version && x.SchemaID == y.SchemaID
	})
}

// RegisterVersion implements store.SchemaStore. The subject's lock (the one
// AddVersion and the deletes take) makes "read the live versions, compare
// with what the caller checked, add the next one" one step for every
// process sharing the store; the text's lock (the one PutSchemaRefs takes)
// makes "find the schema, else insert it" one step, so the same schema
// registered at once under two subjects gets one id. Locks are always
// taken subject first, then text.
func (s *Store) RegisterVersion(ctx context.Context, reg store.Registration) (store.SubjectVersion, error) {
	sc := reg.Schema
	var sv store.SubjectVersion
	err := s.d.WithTx(ctx, func(tx Tx) error {
		if err := s.d.LockSubject(ctx, tx, reg.Subject); err != nil {
			return err
		}
		if err := s.d.LockText(ctx, tx, sc.Text); err != nil {
			return err
		}
		id, err := s.d.SchemaID(ctx, tx, sc.Type, sc.Text)
		found := err == nil
		if err != nil && !noRows(err) {
			return err
		}
		if found {
			if err := sameSchema(ctx, tx, id, reg); err != nil {
				return err
			}
		}
		if sc.ID > 0 {
			sv, err = s.importVersion(ctx, tx, reg, id, found)
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
			if id, err = s.insertSchema(ctx, tx, reg, 0); err != nil {
				return err
			}
		}
		sv = store.SubjectVersion{Subject: reg.Subject, SchemaID: id}
		if sv.Version, err = nextVersion(ctx, tx, reg.Subject); err != nil {
			return err
		}
		return insertVersion(ctx, tx, reg.Subject, sv.Version, id)
	})
	if err != nil {
		return store.SubjectVersion{}, s.errorf("register a version of subject %q: %w", reg.Subject, err)
	}
	return sv, nil
}

// insertSchema inserts reg's schema, under id when not 0, with its
// references and data-contract fields, and returns its id.
func (s *Store) insertSchema(ctx context.Context, tx Tx, reg store.Registration, id int) (int, error) {
	id, err := s.d.InsertSchema(ctx, tx, id, reg.Schema.Type, reg.Schema.Text)
	if err != nil {
		return 0, err
	}
	if err := insertRefs(ctx, tx, id, reg.References); err != nil {
		return 0, err
	}
	return id, insertExtras(ctx, tx, id, reg.Schema)
}

// importVersion is RegisterVersion in IMPORT mode; id is the schema's
// current id when found.
func (s *Store) importVersion(ctx context.Context, tx Tx, reg store.Registration, id int, found bool) (store.SubjectVersion, error) {
	want := reg.Schema.ID
	if found && id != want {
		return store.SubjectVersion{}, fmt.Errorf("the schema is stored under id %d: %w", id, store.ErrConflict)
	}
	if !found {
		taken, err := schemaExists(ctx, tx, want)
		if err != nil {
			return store.SubjectVersion{}, err
		}
		if taken {
			return store.SubjectVersion{}, fmt.Errorf("id %d is taken by another schema: %w", want, store.ErrConflict)
		}
		if _, err := s.insertSchema(ctx, tx, reg, want); err != nil {
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
	err := tx.QueryRow(ctx, `SELECT schema_id, deleted FROM subject_versions WHERE subject = ? AND version = ?`,
		reg.Subject, sv.Version).Scan(&have, &sv.Deleted)
	switch {
	case err == nil && have != want:
		return store.SubjectVersion{}, fmt.Errorf("version %d is taken by schema %d: %w", sv.Version, have, store.ErrConflict)
	case err == nil:
		return sv, nil // the same version again: a no-op
	case !noRows(err):
		return store.SubjectVersion{}, err
	}
	return sv, insertVersion(ctx, tx, reg.Subject, sv.Version, want)
}
