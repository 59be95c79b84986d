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
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lgsp-bus/lgsp/broker/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)),
// so this package's locks never collide with another user's of the same
// database.
const (
	lockMigrate int32 = 0x4c47_0001 // "LG" 1: schema migrations
	lockSubject int32 = 0x4c47_0002 // "LG" 2: AddVersion, per subject
)

// scanPage is how many citizens ScanCitizens reads per query: paging, with
// no transaction held between pages, keeps a slow callback from holding a
// snapshot open (which would stop VACUUM) for the whole scan.
const scanPage = 1000

// Store is a store.Store on PostgreSQL. Use Open to get one.
type Store struct {
	pool    *pgxpool.Pool
	filters *store.AuditFilters // the audit log's bucket filters (auditfilter.go)
}

var _ store.Store = (*Store)(nil)

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
	return OpenConfig(ctx, cfg)
}

// OpenConfig is Open with a pool configuration built by the caller.
func OpenConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: create pool: %w", err)
	}
	s := &Store{pool: pool}
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
	s.filters = store.NewAuditFilters(s)
	return s, nil
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
	s.filters.Close()
	s.pool.Close()
	return nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// ---- schemas --------------------------------------------------------------

// PutSchema implements store.SchemaStore.
func (s *Store) PutSchema(ctx context.Context, schemaType, text string) (int, bool, error) {
	sum := sha256.Sum256([]byte(text))
	lookup := func() (int, error) {
		var id int
		err := s.pool.QueryRow(ctx, `SELECT id FROM schemas
			WHERE schema_type = $1 AND text_sha256 = $2 AND schema_text = $3`,
			schemaType, sum[:], text).Scan(&id)
		return id, err
	}
	// Look first: most calls (the registry loading its schemas at start)
	// find an existing row, and a failed INSERT … ON CONFLICT would still
	// use up an id.
	id, err := lookup()
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("pgstore: look up schema: %w", err)
	}
	err = s.pool.QueryRow(ctx, `INSERT INTO schemas (schema_type, schema_text, text_sha256)
		VALUES ($1, $2, $3) ON CONFLICT (schema_type, text_sha256) DO NOTHING RETURNING id`,
		schemaType, text, sum[:]).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("pgstore: put schema: %w", err)
	}
	// Another writer inserted the same schema meanwhile.
	id, err = lookup()
	if errors.Is(err, pgx.ErrNoRows) {
		// Same type and SHA-256 but another text: a collision nobody has
		// ever seen. Refuse rather than hand out the other schema's id.
		return 0, false, fmt.Errorf("pgstore: put schema: another %s schema has the same SHA-256 but a different text; it cannot be stored", schemaType)
	}
	if err != nil {
		return 0, false, fmt.Errorf("pgstore: put schema: %w", err)
	}
	return id, false, nil
}

// SchemaByID implements store.SchemaStore.
func (s *Store) SchemaByID(ctx context.Context, id int) (store.Schema, error) {
	sc := store.Schema{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT s.schema_type, s.schema_text, COALESCE(m.value, ''), COALESCE(r.value, '')
		FROM schemas s
		LEFT JOIN registry_settings m ON m.subject = '' AND m.setting = 'schema/' || s.id || '/metadata'
		LEFT JOIN registry_settings r ON r.subject = '' AND r.setting = 'schema/' || s.id || '/ruleSet'
		WHERE s.id = $1`, id).Scan(&sc.Type, &sc.Text, &sc.Metadata, &sc.RuleSet)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Schema{}, fmt.Errorf("pgstore: schema id %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Schema{}, fmt.Errorf("pgstore: schema id %d: %w", id, err)
	}
	return sc, nil
}

// AddVersion implements store.SchemaStore. An unknown schemaID is reported
// as store.ErrNotFound.
func (s *Store) AddVersion(ctx context.Context, subject string, schemaID int) (store.SubjectVersion, error) {
	sv := store.SubjectVersion{Subject: subject, SchemaID: schemaID}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Serialise AddVersion per subject across all bus instances:
		// "look for the schema, else take max+1" must not interleave.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`,
			lockSubject, subject); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT version FROM subject_versions
			WHERE subject = $1 AND schema_id = $2 AND NOT deleted
			ORDER BY version LIMIT 1`, subject, schemaID).Scan(&sv.Version)
		if err == nil {
			return nil // already registered: write nothing
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schemas WHERE id = $1)`,
			schemaID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("schema id %d: %w", schemaID, store.ErrNotFound)
		}
		// Soft-deleted versions keep their numbers, as in Confluent.
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) + 1 FROM subject_versions
			WHERE subject = $1`, subject).Scan(&sv.Version); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO subject_versions (subject, version, schema_id)
			VALUES ($1, $2, $3)`, subject, sv.Version, schemaID)
		return err
	})
	if err != nil {
		return store.SubjectVersion{}, fmt.Errorf("pgstore: add version to subject %q: %w", subject, err)
	}
	return sv, nil
}

// Versions implements store.SchemaStore.
func (s *Store) Versions(ctx context.Context, subject string, includeDeleted bool) ([]store.SubjectVersion, error) {
	q := `SELECT version, schema_id, deleted FROM subject_versions WHERE subject = $1`
	if !includeDeleted {
		q += ` AND NOT deleted`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY version`, subject)
	if err != nil {
		return nil, fmt.Errorf("pgstore: versions of subject %q: %w", subject, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SubjectVersion, error) {
		sv := store.SubjectVersion{Subject: subject}
		err := row.Scan(&sv.Version, &sv.SchemaID, &sv.Deleted)
		return sv, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: versions of subject %q: %w", subject, err)
	}
	return nonNil(out), nil
}

// Subjects implements store.SchemaStore. Names sort bytewise (COLLATE "C"),
// the same order as Go's sort.Strings.
func (s *Store) Subjects(ctx context.Context, includeDeleted bool) ([]string, error) {
	q := `SELECT DISTINCT subject FROM subject_versions`
	if !includeDeleted {
		q += ` WHERE NOT deleted`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY subject`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list subjects: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("pgstore: list subjects: %w", err)
	}
	return nonNil(out), nil
}

// nonNil turns "no rows" into an empty slice, so the API encodes [] rather
// than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ---- positions ------------------------------------------------------------

// GetPosition implements store.PositionStore.
func (s *Store) GetPosition(ctx context.Context, connector string) ([]byte, error) {
	var pos []byte
	err := s.pool.QueryRow(ctx, `SELECT position FROM connector_positions WHERE connector = $1`,
		connector).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: position of connector %q: %w", connector, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: position of connector %q: %w", connector, err)
	}
	if pos == nil {
		pos = []byte{} // an empty position was stored; it is not "none"
	}
	return pos, nil
}

// PutPosition implements store.PositionStore. It returns once the commit is
// durable (with the server's default synchronous_commit).
func (s *Store) PutPosition(ctx context.Context, connector string, pos []byte) error {
	if pos == nil {
		pos = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO connector_positions (connector, position, updated_at)
		VALUES ($1, $2, now())
		ON CONFLICT (connector) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
		connector, pos)
	if err != nil {
		return fmt.Errorf("pgstore: save position of connector %q: %w; the connector must not acknowledge its source", connector, err)
	}
	return nil
}

// ---- audit ----------------------------------------------------------------

var auditColumnNames = []string{"seq", "time", "actor", "action", "dataset", "fields", "purpose",
	"legal_basis", "agreement_id", "decision", "reason", "request_id", "citizen_key", "prev_hash", "hash", "hidden_until"}

var auditColumns = strings.Join(auditColumnNames, ", ")

// AppendAudit implements store.AuditStore: one transaction, the rows sent
// with COPY. Besides rejecting a duplicate Seq it checks that the batch is
// consecutive and starts right after the last stored entry, so a gap can
// never enter the log. Two instances appending the same Seq at once are
// caught by the primary key. On any error nothing of the batch is stored and
// the caller should reload LastAudit and rebuild the batch.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	st, err := s.StageAudit(ctx, entries)
	if err != nil {
		return err
	}
	return st.Commit(ctx)
}

var _ store.AuditStager = (*Store)(nil)

// StageAudit implements store.AuditStager: it opens a transaction and sends
// the rows with COPY; Commit checks the log's end and commits. The rows of
// a batch staged on top of one not yet committed do not conflict with it
// (their seqs differ), so both transactions run at once; the second one's
// check, after the first has committed, sees the first one's rows (READ
// COMMITTED takes a new snapshot per statement).
func (s *Store) StageAudit(ctx context.Context, entries []store.AuditEntry) (store.StagedAudit, error) {
	if len(entries) == 0 {
		return nil, errors.New("pgstore: stage audit: no entries")
	}
	if err := store.CheckAuditBatch(entries); err != nil {
		return nil, fmt.Errorf("pgstore: append audit: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	i := 0
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, auditColumnNames,
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(entries) {
				return nil, nil
			}
			e := &entries[i]
			i++
			return auditRow(e), nil
		}))
	if err != nil {
		_ = tx.Rollback(ctx)
		if isUniqueViolation(err) {
			err = fmt.Errorf("another writer appended seq %d..%d first; reload LastAudit and rebuild the batch: %w",
				entries[0].Seq, entries[len(entries)-1].Seq, err)
		}
		return nil, fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	return &stagedAudit{s: s, tx: tx, first: entries[0].Seq, last: entries[len(entries)-1].Seq}, nil
}

type stagedAudit struct {
	s           *Store
	tx          pgx.Tx
	first, last int64
}

func (st *stagedAudit) Commit(ctx context.Context) error {
	var last int64
	err := st.tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log WHERE seq < $1`, st.first).Scan(&last)
	if err == nil && last != st.first-1 {
		err = fmt.Errorf("batch starts at seq %d but the log ends at %d; reload LastAudit and rebuild the batch", st.first, last)
	}
	if err == nil {
		err = st.tx.Commit(ctx)
	}
	if err != nil {
		_ = st.tx.Rollback(ctx)
		return fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	if store.Crossed(st.first, st.last) {
		st.s.filters.SealAsync()
	}
	return nil
}

func (st *stagedAudit) Rollback(ctx context.Context) { _ = st.tx.Rollback(ctx) }

// LastAudit implements store.AuditStore.
func (s *Store) LastAudit(ctx context.Context) (store.AuditEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("pgstore: last audit entry: %w", err)
	}
	es, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("pgstore: last audit entry: %w", err)
	}
	if len(es) == 0 {
		return store.AuditEntry{}, fmt.Errorf("pgstore: last audit entry: the log is empty: %w", store.ErrNotFound)
	}
	return es[0], nil
}

// ListAudit implements store.AuditStore, as SearchAudit with the page
// size of q (see queryAudit).
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	es, err := s.queryAudit(ctx, store.AuditSearch{CitizenKey: q.CitizenKey, RequestID: q.RequestID, Actor: q.Actor, AfterSeq: q.AfterSeq}, q.PageSize())
	if err != nil {
		return nil, fmt.Errorf("pgstore: list audit: %w", err)
	}
	return nonNil(es), nil
}

// CountAudit implements store.AuditStore. AppendAudit keeps Seq 1, 2, 3 …
// without gaps, so the count is the highest Seq, read from the end of the
// primary key index instead of counting every row.
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count audit: %w", err)
	}
	return n, nil
}

func scanAudit(row pgx.CollectableRow) (store.AuditEntry, error) {
	var e store.AuditEntry
	var hidden *time.Time
	err := row.Scan(&e.Seq, &e.Time, &e.Actor, &e.Action, &e.Dataset, &e.Fields, &e.Purpose,
		&e.LegalBasis, &e.AgreementID, &e.Decision, &e.Reason, &e.RequestID, &e.CitizenKey,
		&e.PrevHash, &e.Hash, &hidden)
	e.Time = e.Time.UTC() // pgx returns timestamptz in time.Local
	if hidden != nil {
		e.HiddenUntil = hidden.UTC()
	}
	return e, err
}

// ---- population -----------------------------------------------------------

// PutCitizens implements store.PopulationStore: the batch is copied into a
// temporary table and merged with one INSERT … ON CONFLICT, all in one
// transaction. A citizen given twice counts once, the later entry winning.
// Rows that did not change are not rewritten, so re-importing a whole
// register costs reads, not table bloat. Errors never name a citizen.
func (s *Store) PutCitizens(ctx context.Context, cs []store.Citizen) error {
	if len(cs) == 0 {
		return nil
	}
	if err := store.CheckCitizens(cs); err != nil {
		return fmt.Errorf("pgstore: put citizens: %w", err)
	}
	// ON CONFLICT DO UPDATE cannot touch one row twice in a statement.
	cs = lastPerID(cs)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE citizens_load
			(LIKE citizens INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		i := 0
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"citizens_load"},
			[]string{"id", "old_id", "full_name", "dob", "sex", "birth_province", "deceased", "residence"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(cs) {
					return nil, nil
				}
				c := &cs[i]
				i++
				return []any{c.ID, c.OldID, c.FullName, c.DOB, c.Sex, c.BirthProvince, c.Deceased, c.Residence}, nil
			})); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO citizens AS c
				(id, old_id, full_name, dob, sex, birth_province, deceased, residence)
			SELECT id, old_id, full_name, dob, sex, birth_province, deceased, residence FROM citizens_load
			ON CONFLICT (id) DO UPDATE SET old_id = EXCLUDED.old_id, full_name = EXCLUDED.full_name,
				dob = EXCLUDED.dob, sex = EXCLUDED.sex, birth_province = EXCLUDED.birth_province,
				deceased = EXCLUDED.deceased, residence = EXCLUDED.residence
			WHERE (c.old_id, c.full_name, c.dob, c.sex, c.birth_province, c.deceased, c.residence)
				IS DISTINCT FROM (EXCLUDED.old_id, EXCLUDED.full_name, EXCLUDED.dob, EXCLUDED.sex,
					EXCLUDED.birth_province, EXCLUDED.deceased, EXCLUDED.residence)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: put %d citizens (none were stored): %w", len(cs), err)
	}
	return nil
}

// lastPerID drops all but the last entry of each ID, keeping input order
// otherwise. It copies only when there is a duplicate.
func lastPerID(cs []store.Citizen) []store.Citizen {
	last := make(map[string]int, len(cs))
	for i := range cs {
		last[cs[i].ID] = i
	}
	if len(last) == len(cs) {
		return cs
	}
	out := make([]store.Citizen, 0, len(last))
	for i := range cs {
		if last[cs[i].ID] == i {
			out = append(out, cs[i])
		}
	}
	return out
}

// CountCitizens implements store.PopulationStore.
func (s *Store) CountCitizens(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM citizens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgstore: count citizens: %w", err)
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
		rows, err := s.pool.Query(ctx, `SELECT id, old_id, full_name, dob, sex, birth_province, deceased, residence
			FROM citizens WHERE id > $1 ORDER BY id LIMIT $2`, after, scanPage)
		if err != nil {
			return fmt.Errorf("pgstore: scan citizens: %w", err)
		}
		page, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Citizen, error) {
			var c store.Citizen
			err := row.Scan(&c.ID, &c.OldID, &c.FullName, &c.DOB, &c.Sex, &c.BirthProvince, &c.Deceased, &c.Residence)
			return c, err
		})
		if err != nil {
			return fmt.Errorf("pgstore: scan citizens: %w", err)
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
