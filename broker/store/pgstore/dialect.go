package pgstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlcore"
)

// dialect is sqlcore.Dialect on PostgreSQL: $n placeholders, timestamptz
// time columns, transaction-scoped advisory locks, COPY for bulk rows and
// pipelined batches.
type dialect struct {
	pool *pgxpool.Pool
	rw   *sqlcore.Rewriter
}

func newDialect(pool *pgxpool.Pool) *dialect {
	return &dialect{pool: pool, rw: &sqlcore.Rewriter{Dollar: true, Names: map[string]string{
		"time": "time", "hidden_until": "hidden_until", "updated": "updated", "position_updated": "updated_at",
		"created": "created", "revoked": "revoked", "decided": "decided", "not_revoked": "revoked IS NULL",
	}}}
}

// querier is what the pool and a transaction share.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// conn is sqlcore.DB on a querier.
type conn struct {
	q  querier
	rw *sqlcore.Rewriter
}

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, c.rw.SQL(q), args...)
	return tag.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	rows, err := c.q.Query(ctx, c.rw.SQL(q), args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	return c.q.QueryRow(ctx, c.rw.SQL(q), args...)
}

// tx is sqlcore.Tx on a pgx transaction.
type tx struct {
	conn
	tx pgx.Tx
}

func (d *dialect) Name() string      { return "pgstore" }
func (d *dialect) Read() sqlcore.DB  { return conn{d.pool, d.rw} }
func (d *dialect) Write() sqlcore.DB { return conn{d.pool, d.rw} }

func (d *dialect) WithTx(ctx context.Context, fn func(sqlcore.Tx) error) error {
	return pgx.BeginFunc(ctx, d.pool, func(t pgx.Tx) error {
		return fn(&tx{conn{t, d.rw}, t})
	})
}

func (d *dialect) IsUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// Time is t in UTC: pgx sends time.Time as timestamptz.
func (d *dialect) Time(t time.Time) any { return t.UTC() }

func (d *dialect) LockSubject(ctx context.Context, t sqlcore.Tx, subject string) error {
	_, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(?))`, lockSubject, subject)
	return err
}

func (d *dialect) LockText(ctx context.Context, t sqlcore.Tx, text string) error {
	sum := sha256.Sum256([]byte(text))
	_, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(encode(?::bytea, 'hex')))`, lockSchemaText, sum[:])
	return err
}

// SchemaID looks the text up by its SHA-256, which the unique index
// (schema_type, text_sha256) keeps, and compares the whole text.
func (d *dialect) SchemaID(ctx context.Context, db sqlcore.DB, schemaType, text string) (int, error) {
	sum := sha256.Sum256([]byte(text))
	var id int
	err := db.QueryRow(ctx, `SELECT id FROM schemas WHERE schema_type = ? AND text_sha256 = ? AND schema_text = ?`,
		schemaType, sum[:], text).Scan(&id)
	return id, err
}

// InsertSchema moves the id sequence past an explicit id, so a later
// insert never reuses it.
func (d *dialect) InsertSchema(ctx context.Context, t sqlcore.Tx, id int, schemaType, text string) (int, error) {
	sum := sha256.Sum256([]byte(text))
	var err error
	if id == 0 {
		err = t.QueryRow(ctx, `INSERT INTO schemas (schema_type, schema_text, text_sha256) VALUES (?, ?, ?) RETURNING id`,
			schemaType, text, sum[:]).Scan(&id)
	} else {
		_, err = t.Exec(ctx, `INSERT INTO schemas (id, schema_type, schema_text, text_sha256) VALUES (?, ?, ?, ?)`,
			id, schemaType, text, sum[:])
		if err == nil {
			_, err = t.Exec(ctx, `SELECT setval(pg_get_serial_sequence('schemas', 'id'), GREATEST((SELECT max(id) FROM schemas), 1))`)
		}
	}
	if d.IsUniqueViolation(err) {
		// the id, or another text of this type with the same SHA-256
		return 0, fmt.Errorf("another %s schema has the same id or SHA-256: %w", schemaType, store.ErrConflict)
	}
	return id, err
}

// DeleteAuditThrough: the append-only trigger (migration 0003) lets a
// DELETE through only up to the transaction-local setting
// lgsp.audit_prune_through, cleared again right after.
func (d *dialect) DeleteAuditThrough(ctx context.Context, t sqlcore.Tx, through int64) error {
	if _, err := t.Exec(ctx, `SELECT set_config('lgsp.audit_prune_through', ?, true)`, strconv.FormatInt(through, 10)); err != nil {
		return err
	}
	if _, err := t.Exec(ctx, `DELETE FROM audit_log WHERE seq <= ?`, through); err != nil {
		return err
	}
	_, err := t.Exec(ctx, `SELECT set_config('lgsp.audit_prune_through', '', true)`)
	return err
}

func (d *dialect) AuditBuckets(buckets []int64) (string, []any) {
	return `(seq >> ` + strconv.Itoa(store.AuditBucketShift) + `) = ANY (?::bigint[])`, []any{buckets}
}

// AuditKey: migration 0006's index keeps the key's 64-bit hash.
func (d *dialect) AuditKey(col, key string) (string, []any) {
	return `hashtextextended(` + col + `, 0) = hashtextextended(?::text, 0) AND ` + col + ` = ? AND ` + col + ` <> ''`, []any{key, key}
}

func (d *dialect) AuditPurpose(purpose string) (string, []any) {
	return `? = ANY (string_to_array(purpose, ','))`, []any{purpose}
}

func (d *dialect) QueryAudit(ctx context.Context, q string, args []any, sizeHint int) ([]store.AuditEntry, []int64, error) {
	rows, err := d.pool.Query(ctx, d.rw.SQL(q), args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	out := make([]store.AuditEntry, 0, min(max(sizeHint, 0), 5000))
	refs := make([]int64, 0, cap(out))
	for rows.Next() {
		var e store.AuditEntry
		var hidden *time.Time
		var textID *int64
		if err := rows.Scan(&e.Seq, &e.Time, &e.Actor, &e.Action, &e.Dataset, &e.Fields, &e.Purpose,
			&e.LegalBasis, &e.AgreementID, &e.Decision, &e.Reason, &e.RequestID, &e.CitizenKey,
			&e.PrevHash, &e.Hash, &hidden, &textID); err != nil {
			return nil, nil, err
		}
		e.Time = e.Time.UTC() // pgx returns timestamptz in time.Local
		if hidden != nil {
			e.HiddenUntil = hidden.UTC()
		}
		var ref int64
		if textID != nil {
			ref = *textID
		}
		out, refs = append(out, e), append(refs, ref)
	}
	return out, refs, rows.Err()
}

// ExecBatch sends the statements in one round trip.
func (t *tx) ExecBatch(ctx context.Context, stmts []sqlcore.Stmt) error {
	b := &pgx.Batch{}
	for _, s := range stmts {
		b.Queue(t.rw.SQL(s.SQL), s.Args...)
	}
	return t.tx.SendBatch(ctx, b).Close()
}

var auditColumnNames = []string{"seq", "time", "actor", "action", "dataset", "fields", "purpose",
	"legal_basis", "agreement_id", "decision", "reason", "request_id", "citizen_key", "prev_hash", "hash", "hidden_until", "text_id"}

// InsertAudit sends the rows with COPY.
func (t *tx) InsertAudit(ctx context.Context, entries []store.AuditEntry, refs []int64) error {
	return copyAudit(ctx, t.tx, entries, refs)
}

// copyAudit writes text_id and leaves legal_basis empty and fields NULL where
// refs[i] != 0 (migration 0013).
func copyAudit(ctx context.Context, t pgx.Tx, entries []store.AuditEntry, refs []int64) error {
	i := 0
	_, err := t.CopyFrom(ctx, pgx.Identifier{"audit_log"}, auditColumnNames,
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(entries) {
				return nil, nil
			}
			e := &entries[i]
			i++
			var hidden *time.Time // a zero HiddenUntil is NULL
			if !e.HiddenUntil.IsZero() {
				hidden = &e.HiddenUntil
			}
			fields, legal, textID := e.Fields, e.LegalBasis, (*int64)(nil)
			if refs[i-1] != 0 {
				fields, legal, textID = nil, "", &refs[i-1]
			}
			return []any{e.Seq, e.Time, e.Actor, e.Action, e.Dataset, fields, e.Purpose,
				legal, e.AgreementID, e.Decision, e.Reason, e.RequestID, e.CitizenKey,
				e.PrevHash, e.Hash, hidden, textID}, nil
		}))
	return err
}

// UpsertCitizens copies the batch into a temporary table and merges it with
// one INSERT … ON CONFLICT. Rows that did not change are not rewritten, so
// re-importing a whole register costs reads, not table bloat.
func (t *tx) UpsertCitizens(ctx context.Context, cs []store.Citizen) error {
	// ON CONFLICT DO UPDATE cannot touch one row twice in a statement.
	cs = lastPerID(cs)
	if _, err := t.tx.Exec(ctx, `CREATE TEMP TABLE citizens_load
		(LIKE citizens INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
		return err
	}
	i := 0
	if _, err := t.tx.CopyFrom(ctx, pgx.Identifier{"citizens_load"},
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
	_, err := t.tx.Exec(ctx, `INSERT INTO citizens AS c
			(id, old_id, full_name, dob, sex, birth_province, deceased, residence)
		SELECT id, old_id, full_name, dob, sex, birth_province, deceased, residence FROM citizens_load
		ON CONFLICT (id) DO UPDATE SET old_id = EXCLUDED.old_id, full_name = EXCLUDED.full_name,
			dob = EXCLUDED.dob, sex = EXCLUDED.sex, birth_province = EXCLUDED.birth_province,
			deceased = EXCLUDED.deceased, residence = EXCLUDED.residence
		WHERE (c.old_id, c.full_name, c.dob, c.sex, c.birth_province, c.deceased, c.residence)
			IS DISTINCT FROM (EXCLUDED.old_id, EXCLUDED.full_name, EXCLUDED.dob, EXCLUDED.sex,
				EXCLUDED.birth_province, EXCLUDED.deceased, EXCLUDED.residence)`)
	return err
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
