// Package sqlitestore is the embedded store.Store of `lgsp dev`: one SQLite
// file in the data dir, through the pure-Go driver modernc.org/sqlite so the
// binary needs no C toolchain. It owns that file's connections, its pragmas
// and its schema migrations (migrations/NNNN_*.sql).
//
// SQLite allows one writer at a time. Rather than let concurrent writers
// collide and retry on SQLITE_BUSY, the Store keeps a write pool of exactly
// one connection, so writers queue in Go, and a separate read pool, which
// WAL mode lets read while a write is in progress.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// busyTimeout is how long a connection waits for a lock held by another
// process (an `lgsp` CLI reading or verifying the same file) before failing
// with SQLITE_BUSY. Inside one process the single write connection already
// serialises writers.
const busyTimeout = 10 * time.Second

// scanPage is how many citizens ScanCitizens reads per query. Reading in
// pages, with no transaction held between them, means a slow callback does
// not pin a read snapshot and stop WAL checkpoints for the whole scan.
const scanPage = 1000

// Store is a store.Store on one SQLite file. Use Open to get one.
type Store struct {
	w       *sql.DB // exactly one connection: every write goes through it
	r       *sql.DB // query_only connections for reads
	path    string
	filters *store.AuditFilters // the audit log's bucket filters (auditfilter.go)
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
	s.filters = store.NewAuditFilters(s)
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
	if s.filters != nil {
		s.filters.Close()
	}
	var errs []error
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlitestore: close %q: %w", s.path, err)
	}
	return nil
}

// queryer is what *sql.DB and *sql.Tx share, so a lookup can run on the read
// pool or inside a write transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// withTx runs fn in a write transaction and commits it.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ---- schemas --------------------------------------------------------------

func schemaID(ctx context.Context, q queryer, schemaType, text string) (int, error) {
	var id int
	err := q.QueryRowContext(ctx,
		`SELECT id FROM schemas WHERE schema_type = ? AND schema_text = ?`,
		schemaType, text).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, store.ErrNotFound
	}
	return id, err
}

// PutSchema implements store.SchemaStore.
func (s *Store) PutSchema(ctx context.Context, schemaType, text string) (int, bool, error) {
	// Most calls (the registry loading its embedded schemas at start) find
	// an existing row: look on the read pool first, without the write lock.
	id, err := schemaID(ctx, s.r, schemaType, text)
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return 0, false, fmt.Errorf("sqlitestore: look up schema: %w", err)
	}
	created := false
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		// Look again under the write lock: another writer may have
		// inserted it since.
		id, err = schemaID(ctx, tx, schemaType, text)
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`INSERT INTO schemas (schema_type, schema_text) VALUES (?, ?)`, schemaType, text)
		if err != nil {
			return err
		}
		id64, err := res.LastInsertId()
		id, created = int(id64), true
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("sqlitestore: put schema: %w", err)
	}
	return id, created, nil
}

// SchemaByID implements store.SchemaStore.
func (s *Store) SchemaByID(ctx context.Context, id int) (store.Schema, error) {
	sc := store.Schema{ID: id}
	err := s.r.QueryRowContext(ctx, `SELECT s.schema_type, s.schema_text, COALESCE(m.value, ''), COALESCE(r.value, '')
		FROM schemas s
		LEFT JOIN registry_settings m ON m.subject = '' AND m.setting = 'schema/' || s.id || '/metadata'
		LEFT JOIN registry_settings r ON r.subject = '' AND r.setting = 'schema/' || s.id || '/ruleSet'
		WHERE s.id = ?`, id).Scan(&sc.Type, &sc.Text, &sc.Metadata, &sc.RuleSet)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Schema{}, fmt.Errorf("sqlitestore: schema id %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Schema{}, fmt.Errorf("sqlitestore: schema id %d: %w", id, err)
	}
	return sc, nil
}

// AddVersion implements store.SchemaStore. An unknown schemaID is reported
// as store.ErrNotFound.
func (s *Store) AddVersion(ctx context.Context, subject string, schemaID int) (store.SubjectVersion, error) {
	sv := store.SubjectVersion{Subject: subject, SchemaID: schemaID}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx,
			`SELECT version FROM subject_versions
			 WHERE subject = ? AND schema_id = ? AND deleted = 0
			 ORDER BY version LIMIT 1`, subject, schemaID).Scan(&sv.Version)
		if err == nil {
			return nil // already registered: write nothing
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
		// Soft-deleted versions keep their numbers, as in Confluent.
		if err := tx.QueryRowContext(ctx,
			`SELECT COALESCE(MAX(version), 0) + 1 FROM subject_versions WHERE subject = ?`,
			subject).Scan(&sv.Version); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO subject_versions (subject, version, schema_id) VALUES (?, ?, ?)`,
			subject, sv.Version, schemaID)
		return err
	})
	if err != nil {
		return store.SubjectVersion{}, fmt.Errorf("sqlitestore: add version to subject %q: %w", subject, err)
	}
	return sv, nil
}

// Versions implements store.SchemaStore.
func (s *Store) Versions(ctx context.Context, subject string, includeDeleted bool) ([]store.SubjectVersion, error) {
	q := `SELECT version, schema_id, deleted FROM subject_versions WHERE subject = ?`
	if !includeDeleted {
		q += ` AND deleted = 0`
	}
	q += ` ORDER BY version`
	rows, err := s.r.QueryContext(ctx, q, subject)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: versions of subject %q: %w", subject, err)
	}
	defer rows.Close()
	out := []store.SubjectVersion{}
	for rows.Next() {
		sv := store.SubjectVersion{Subject: subject}
		if err := rows.Scan(&sv.Version, &sv.SchemaID, &sv.Deleted); err != nil {
			return nil, fmt.Errorf("sqlitestore: versions of subject %q: %w", subject, err)
		}
		out = append(out, sv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: versions of subject %q: %w", subject, err)
	}
	return out, nil
}

// Subjects implements store.SchemaStore. Names are sorted bytewise (SQLite's
// BINARY collation), the same order as Go's sort.Strings.
func (s *Store) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	q := `SELECT DISTINCT subject FROM subject_versions`
	if !includeDeleted {
		q += ` WHERE deleted = 0`
	}
	q += ` ORDER BY subject`
	rows, err := s.r.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list subjects: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("sqlitestore: list subjects: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list subjects: %w", err)
	}
	return out, nil
}

// ---- positions ------------------------------------------------------------

// GetPosition implements store.PositionStore.
func (s *Store) GetPosition(ctx context.Context, connector string) ([]byte, error) {
	var pos []byte
	err := s.r.QueryRowContext(ctx,
		`SELECT position FROM connector_positions WHERE connector = ?`, connector).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: position of connector %q: %w", connector, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: position of connector %q: %w", connector, err)
	}
	if pos == nil {
		pos = []byte{} // an empty position was stored; it is not "none"
	}
	return pos, nil
}

// PutPosition implements store.PositionStore.
func (s *Store) PutPosition(ctx context.Context, connector string, pos []byte) error {
	if pos == nil {
		pos = []byte{}
	}
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO connector_positions (connector, position, updated_us) VALUES (?, ?, ?)
		 ON CONFLICT (connector) DO UPDATE SET position = excluded.position, updated_us = excluded.updated_us`,
		connector, pos, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("sqlitestore: save position of connector %q: %w; the connector must not acknowledge its source", connector, err)
	}
	return nil
}

// ---- audit ----------------------------------------------------------------

const auditColumns = `seq, time_us, actor, action, dataset, fields, purpose, legal_basis,
	agreement_id, decision, reason, request_id, citizen_key, prev_hash, hash, hidden_until_us`

// AppendAudit implements store.AuditStore. Besides rejecting a duplicate
// Seq it checks that the batch is consecutive and starts right after the
// last stored entry, so a gap can never enter the log; on any error nothing
// of the batch is stored and the caller should reload LastAudit and rebuild
// the batch.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := store.CheckAuditBatch(entries); err != nil {
		return fmt.Errorf("sqlitestore: append audit: %w", err)
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&last); err != nil {
			return err
		}
		if entries[0].Seq != last+1 {
			return fmt.Errorf("batch starts at seq %d but the log ends at %d; reload LastAudit and rebuild the batch", entries[0].Seq, last)
		}
		return insertAudit(ctx, tx, entries) // auditprune.go
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: append audit (nothing was stored): %w", err)
	}
	if store.Crossed(entries[0].Seq, entries[len(entries)-1].Seq) {
		s.filters.SealAsync()
	}
	return nil
}

// LastAudit implements store.AuditStore.
func (s *Store) LastAudit(ctx context.Context) (store.AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("sqlitestore: last audit entry: %w", err)
	}
	es, err := scanAudit(rows, 1)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("sqlitestore: last audit entry: %w", err)
	}
	if len(es) == 0 {
		return store.AuditEntry{}, fmt.Errorf("sqlitestore: last audit entry: the log is empty: %w", store.ErrNotFound)
	}
	return es[0], nil
}

// ListAudit implements store.AuditStore, as SearchAudit with the page
// size of q (see queryAudit).
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	es, err := s.queryAudit(ctx, store.AuditSearch{CitizenKey: q.CitizenKey, RequestID: q.RequestID, Actor: q.Actor, AfterSeq: q.AfterSeq}, q.PageSize())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list audit: %w", err)
	}
	return es, nil
}

// CountAudit implements store.AuditStore. AppendAudit keeps Seq 1, 2, 3 …
// without gaps, so the count is the highest Seq, read from the end of the
// primary key instead of counting every row.
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count audit: %w", err)
	}
	return n, nil
}

func scanAudit(rows *sql.Rows, sizeHint int) ([]store.AuditEntry, error) {
	defer rows.Close()
	out := make([]store.AuditEntry, 0, min(max(sizeHint, 0), 5000))
	// Most columns repeat from entry to entry (a handful of agencies,
	// actions, datasets, purposes, legal bases, agreements, field lists):
	// reading them as raw bytes and keeping one string per distinct value
	// spares an allocation per column and row, which made reading the log
	// (audit verify) spend a third of its time in the allocator.
	intern := map[string]string{}
	str := func(b sql.RawBytes) string {
		if s, ok := intern[string(b)]; ok {
			return s
		}
		s := string(b)
		if len(intern) < 4096 {
			intern[s] = s
		}
		return s
	}
	fieldLists := map[string][]string{}
	var actor, action, dataset, purpose, legal, agreement, decision sql.RawBytes
	for rows.Next() {
		var (
			e              store.AuditEntry
			timeUS         int64
			fields         sql.RawBytes
			prevHash, hash any
			hiddenUS       sql.NullInt64
		)
		if err := rows.Scan(&e.Seq, &timeUS, &actor, &action, &dataset, &fields,
			&purpose, &legal, &agreement, &decision, &e.Reason, &e.RequestID,
			&e.CitizenKey, &prevHash, &hash, &hiddenUS); err != nil {
			return nil, err
		}
		e.Actor, e.Action, e.Dataset, e.Purpose = str(actor), str(action), str(dataset), str(purpose)
		e.LegalBasis, e.AgreementID, e.Decision = str(legal), str(agreement), str(decision)
		e.Time = time.UnixMicro(timeUS).UTC()
		if hiddenUS.Valid {
			e.HiddenUntil = time.UnixMicro(hiddenUS.Int64).UTC()
		}
		if fields != nil { // NULL is a nil slice, "[]" an empty one
			fs, ok := fieldLists[string(fields)]
			if !ok {
				var err error
				if fs, err = decodeFields(sql.NullString{String: string(fields), Valid: true}); err != nil {
					return nil, fmt.Errorf("seq %d: %w", e.Seq, err)
				}
				if len(fieldLists) < 1024 {
					fieldLists[string(fields)] = fs
				}
			}
			e.Fields = slices.Clone(fs) // each entry its own, as callers may change it
			if e.Fields == nil {
				e.Fields = []string{}
			}
		}
		e.PrevHash, e.Hash = blobValue(prevHash), blobValue(hash)
		out = append(out, e)
	}
	return out, rows.Err()
}

// encodeFields stores the slice as a JSON array, keeping nil (NULL) apart
// from empty ("[]"): the audit package hashes entries, and a verifier must
// read back exactly what was hashed.
func encodeFields(fs []string) (any, error) {
	if fs == nil {
		return nil, nil
	}
	b, err := json.Marshal(fs)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func decodeFields(ns sql.NullString) ([]string, error) {
	if !ns.Valid {
		return nil, nil
	}
	out := []string{}
	if err := json.Unmarshal([]byte(ns.String), &out); err != nil {
		return nil, fmt.Errorf("decode fields: %w", err)
	}
	return out, nil
}

// blobArg binds nil as NULL and anything else, empty included, as a BLOB, so
// nil and empty hashes read back as they were written.
func blobArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

func blobValue(v any) []byte {
	switch b := v.(type) {
	case nil:
		return nil
	case []byte:
		if b == nil {
			return []byte{}
		}
		return b
	case string:
		return []byte(b)
	}
	return nil
}

// ---- population -----------------------------------------------------------

// PutCitizens implements store.PopulationStore: all of cs in one
// transaction, later entries winning over earlier ones with the same ID.
// Errors never name a citizen, so they are safe to log.
func (s *Store) PutCitizens(ctx context.Context, cs []store.Citizen) error {
	if len(cs) == 0 {
		return nil
	}
	if err := store.CheckCitizens(cs); err != nil {
		return fmt.Errorf("sqlitestore: put citizens: %w", err)
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO citizens
			(id, old_id, full_name, dob, sex, birth_province, deceased, residence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET old_id = excluded.old_id, full_name = excluded.full_name,
				dob = excluded.dob, sex = excluded.sex, birth_province = excluded.birth_province,
				deceased = excluded.deceased, residence = excluded.residence`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range cs {
			c := &cs[i]
			if _, err := st.ExecContext(ctx, c.ID, c.OldID, c.FullName, c.DOB, c.Sex,
				c.BirthProvince, c.Deceased, c.Residence); err != nil {
				return fmt.Errorf("citizen #%d of the batch: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: put %d citizens (none were stored): %w", len(cs), err)
	}
	return nil
}

// CountCitizens implements store.PopulationStore.
func (s *Store) CountCitizens(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM citizens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: count citizens: %w", err)
	}
	return n, nil
}

// ScanCitizens implements store.PopulationStore. It reads page by page in ID
// order (keyset pagination), so it sees every citizen that exists for the
// whole scan exactly once, but it is not one snapshot: rows written during
// the scan may or may not be seen.
func (s *Store) ScanCitizens(ctx context.Context, fn func(store.Citizen) error) error {
	after := "" // PutCitizens rejects empty IDs, so "" sorts before every row
	for {
		page, err := s.citizenPage(ctx, after)
		if err != nil {
			return fmt.Errorf("sqlitestore: scan citizens: %w", err)
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err // the caller's own error, unwrapped
			}
		}
		if len(page) < scanPage {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (s *Store) citizenPage(ctx context.Context, after string) ([]store.Citizen, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, old_id, full_name, dob, sex, birth_province, deceased, residence
		FROM citizens WHERE id > ? ORDER BY id LIMIT ?`, after, scanPage)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page := make([]store.Citizen, 0, scanPage)
	for rows.Next() {
		var c store.Citizen
		if err := rows.Scan(&c.ID, &c.OldID, &c.FullName, &c.DOB, &c.Sex, &c.BirthProvince, &c.Deceased, &c.Residence); err != nil {
			return nil, err
		}
		page = append(page, c)
	}
	return page, rows.Err()
}
