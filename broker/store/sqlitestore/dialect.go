package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlcore"
)

// dialect is sqlcore.Dialect on SQLite: ? placeholders, time columns as
// integer microseconds (an _us suffix), a single write connection whose
// IMMEDIATE transactions already serialise every writer (so no locks of
// its own), multi-row INSERTs for the audit log.
type dialect struct {
	w, r, p       *sql.DB
	stmts, pstmts *stmtCache // the read pools' prepared statements
	// wstmts are the write connection's full-size batch statements (the
	// state upsert, the audit insert), prepared at Open: compiling a
	// 128-row upsert with its 1,024 parameters cost about a sixth of a
	// state write's CPU when it was done for every statement of every group
	// commit. They are prepared before any transaction because the write
	// pool's one connection is busy during one.
	wstmts map[string]*sql.Stmt
}

var names = &sqlcore.Rewriter{Names: map[string]string{
	"time": "time_us", "hidden_until": "hidden_until_us", "updated": "updated_us", "position_updated": "updated_us",
	"created": "created_us", "revoked": "revoked_us", "decided": "decided_us", "not_revoked": "revoked_us = 0",
}}

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// conn is sqlcore.DB on a querier, with prepared statements where
// stmts is set (the read pool).
type conn struct {
	q     querier
	stmts *stmtCache
}

// querier returns what runs q: its prepared statement, else the pool or
// transaction.
func (c conn) querier(ctx context.Context, q string) querier {
	if c.stmts != nil {
		if st := c.stmts.get(ctx, q); st != nil {
			return stmtQuerier{st}
		}
	}
	return c.q
}

func (c conn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	q = names.SQL(q)
	res, err := c.querier(ctx, q).ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, q string, args ...any) (sqlcore.Rows, error) {
	q = names.SQL(q)
	rows, err := c.querier(ctx, q).QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, q string, args ...any) sqlcore.Row {
	q = names.SQL(q)
	return c.querier(ctx, q).QueryRowContext(ctx, q, args...)
}

// stmtCache holds the read pool's prepared statements. SQLite compiles a
// statement on every unprepared query, which cost the lookup path about a
// third of its CPU (the state read, the token check). The core's reads are
// few fixed texts; the dynamic ones (audit searches with their bucket
// lists) rarely repeat, so a text is prepared on its second use, and at
// most maxStmts texts are: past that, queries run unprepared as before.
type stmtCache struct {
	db    *sql.DB
	ready sync.Map // rewritten SQL → *sql.Stmt
	mu    sync.Mutex
	seen  map[string]bool // used once, not yet prepared (bounded by maxSeen)
	n     int             // statements prepared
}

const (
	maxStmts = 256
	maxSeen  = 4096
)

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, seen: map[string]bool{}} }

// get returns q's prepared statement, nil to run q unprepared.
func (c *stmtCache) get(ctx context.Context, q string) *sql.Stmt {
	if st, ok := c.ready.Load(q); ok {
		return st.(*sql.Stmt)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.ready.Load(q); ok {
		return st.(*sql.Stmt)
	}
	if c.n >= maxStmts {
		return nil
	}
	if !c.seen[q] {
		if len(c.seen) < maxSeen {
			c.seen[q] = true
		}
		return nil
	}
	// database/sql prepares it again on each connection of the pool as it
	// is used there, and keeps it per connection.
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil // the query unprepared reports the same error the same way
	}
	delete(c.seen, q)
	c.ready.Store(q, st)
	c.n++
	return st
}

// close closes the prepared statements.
func (c *stmtCache) close() {
	c.ready.Range(func(_, st any) bool {
		_ = st.(*sql.Stmt).Close()
		return true
	})
}

// stmtQuerier runs its prepared statement whatever text it is given.
type stmtQuerier struct{ st *sql.Stmt }

func (s stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return s.st.ExecContext(ctx, args...)
}

func (s stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return s.st.QueryContext(ctx, args...)
}

func (s stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return s.st.QueryRowContext(ctx, args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// tx is sqlcore.Tx on a write transaction.
type tx struct {
	conn
	tx     *sql.Tx
	wstmts map[string]*sql.Stmt
}

// exec runs q (rewritten SQL) in the transaction, with its statement
// prepared at Open when there is one (other sizes are compiled as before).
// The write pool's one connection keeps that statement, so Tx.StmtContext
// only binds it to the transaction, which closes the binding when it ends.
func (t *tx) exec(ctx context.Context, q string, args ...any) error {
	if st := t.wstmts[q]; st != nil {
		_, err := t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return err
	}
	_, err := t.tx.ExecContext(ctx, q, args...)
	return err
}

func (d *dialect) Name() string      { return "sqlitestore" }
func (d *dialect) Read() sqlcore.DB  { return conn{q: d.r, stmts: d.stmts} }
func (d *dialect) Write() sqlcore.DB { return conn{q: d.w} }

// ReadPoint is the pool without the file mapping (see Open).
func (d *dialect) ReadPoint() sqlcore.DB { return conn{q: d.p, stmts: d.pstmts} }

// WithTx begins IMMEDIATE (see Open): the transaction holds the database's
// write lock from its start, for every process sharing the file.
func (d *dialect) WithTx(ctx context.Context, fn func(sqlcore.Tx) error) error {
	t, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&tx{conn{q: t}, t, d.wstmts}); err != nil {
		_ = t.Rollback()
		return err
	}
	return t.Commit()
}

func (d *dialect) IsUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func (d *dialect) Time(t time.Time) any { return t.UnixMicro() }

// LockSubject and LockText have nothing to do: the write transaction
// holds the whole database's write lock.
func (d *dialect) LockSubject(context.Context, sqlcore.Tx, string) error { return nil }
func (d *dialect) LockText(context.Context, sqlcore.Tx, string) error    { return nil }

func (d *dialect) SchemaID(ctx context.Context, db sqlcore.DB, schemaType, text string) (int, error) {
	var id int
	err := db.QueryRow(ctx, `SELECT id FROM schemas WHERE schema_type = ? AND schema_text = ?`, schemaType, text).Scan(&id)
	return id, err
}

// InsertSchema: SQLite gives the next row max(id)+1, so an explicit id is
// never reused.
func (d *dialect) InsertSchema(ctx context.Context, t sqlcore.Tx, id int, schemaType, text string) (int, error) {
	var err error
	if id == 0 {
		err = t.QueryRow(ctx, `INSERT INTO schemas (schema_type, schema_text) VALUES (?, ?) RETURNING id`, schemaType, text).Scan(&id)
	} else {
		_, err = t.Exec(ctx, `INSERT INTO schemas (id, schema_type, schema_text) VALUES (?, ?, ?)`, id, schemaType, text)
	}
	if d.IsUniqueViolation(err) {
		return 0, fmt.Errorf("another %s schema has the same id or text: %w", schemaType, store.ErrConflict)
	}
	return id, err
}

// DeleteAuditThrough: the delete guard (migration 0003) lets deletes
// through only up to the row of audit_prune_gate, which exists only inside
// this transaction.
func (d *dialect) DeleteAuditThrough(ctx context.Context, t sqlcore.Tx, through int64) error {
	if _, err := t.Exec(ctx, `INSERT INTO audit_prune_gate (through) VALUES (?)`, through); err != nil {
		return err
	}
	if _, err := t.Exec(ctx, `DELETE FROM audit_log WHERE seq <= ?`, through); err != nil {
		return err
	}
	_, err := t.Exec(ctx, `DELETE FROM audit_prune_gate`)
	return err
}

func (d *dialect) AuditBuckets(buckets []int64) (string, []any) {
	return `(seq >> ` + strconv.Itoa(store.AuditBucketShift) + `) IN (` + sqlcore.BucketList(buckets) + `)`, nil
}

// AuditKey: migration 0006's index keeps the key's first 16 characters;
// "+" keeps SQLite from folding the whole-key equality into the index
// expression, which would stop it from using the index.
func (d *dialect) AuditKey(col, key string) (string, []any) {
	return `substr(` + col + `, 1, 16) = substr(?, 1, 16) AND +` + col + ` = ? AND ` + col + ` <> ''`, []any{key, key}
}

func (d *dialect) AuditPurpose(purpose string) (string, []any) {
	return `(',' || purpose || ',') LIKE ? ESCAPE '\'`, []any{"%," + escapeLike(purpose) + ",%"}
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (d *dialect) QueryAudit(ctx context.Context, q string, args []any, sizeHint int) ([]store.AuditEntry, []int64, error) {
	rows, err := d.r.QueryContext(ctx, names.SQL(q), args...)
	if err != nil {
		return nil, nil, err
	}
	return scanAudit(rows, sizeHint)
}

func (t *tx) ExecBatch(ctx context.Context, stmts []sqlcore.Stmt) error {
	for _, s := range stmts {
		if err := t.exec(ctx, names.SQL(s.SQL), s.Args...); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) InsertAudit(ctx context.Context, entries []store.AuditEntry, refs []int64) error {
	return insertAudit(ctx, t, entries, refs)
}

func (t *tx) UpsertCitizens(ctx context.Context, cs []store.Citizen) error {
	st, err := t.tx.PrepareContext(ctx, `INSERT INTO citizens
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
}

// insertRows is how many entries one INSERT statement carries: per
// statement, not per row, is where most of the driver's cost is.
const insertRows = 64

// insertAudit inserts entries with multi-row INSERT statements, the
// full-size one prepared at Open (see tx.exec).
func insertAudit(ctx context.Context, t *tx, entries []store.AuditEntry, refs []int64) error {
	args := make([]any, 0, 17*insertRows)
	for len(entries) > 0 {
		n := min(len(entries), insertRows)
		args = args[:0]
		for i := range entries[:n] {
			e := &entries[i]
			var fields, textID any
			legal := e.LegalBasis
			if refs[i] != 0 { // stored once in audit_texts (migration 0014)
				legal, textID = "", refs[i]
			} else {
				var err error
				if fields, err = encodeFields(e.Fields); err != nil {
					return fmt.Errorf("seq %d: %w", e.Seq, err)
				}
			}
			args = append(args, e.Seq, e.Time.UnixMicro(), e.Actor, e.Action, e.Dataset,
				fields, e.Purpose, legal, e.AgreementID, e.Decision, e.Reason, e.RequestID,
				e.CitizenKey, blobArg(e.PrevHash), blobArg(e.Hash), hiddenArg(e.HiddenUntil), textID)
		}
		refs = refs[n:]
		if err := t.exec(ctx, insertAuditSQL(n), args...); err != nil {
			return fmt.Errorf("seq %d..%d: %w", entries[0].Seq, entries[n-1].Seq, err)
		}
		entries = entries[n:]
	}
	return nil
}

// insertAuditSQL is the INSERT of n entries; the full-size one is built
// once.
func insertAuditSQL(n int) string {
	if n == insertRows {
		return insertAuditFull
	}
	return buildInsertAudit(n)
}

var insertAuditFull = buildInsertAudit(insertRows)

func buildInsertAudit(n int) string {
	return `INSERT INTO audit_log (` + auditColumns + `) VALUES ` +
		strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),`, n), ",")
}

// hiddenArg stores a zero HiddenUntil as NULL.
func hiddenArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

const auditColumns = `seq, time_us, actor, action, dataset, fields, purpose, legal_basis,
	agreement_id, decision, reason, request_id, citizen_key, prev_hash, hash, hidden_until_us, text_id`

func scanAudit(rows *sql.Rows, sizeHint int) ([]store.AuditEntry, []int64, error) {
	defer rows.Close()
	out := make([]store.AuditEntry, 0, min(max(sizeHint, 0), 5000))
	refs := make([]int64, 0, cap(out))
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
			textID         sql.NullInt64
		)
		if err := rows.Scan(&e.Seq, &timeUS, &actor, &action, &dataset, &fields,
			&purpose, &legal, &agreement, &decision, &e.Reason, &e.RequestID,
			&e.CitizenKey, &prevHash, &hash, &hiddenUS, &textID); err != nil {
			return nil, nil, err
		}
		refs = append(refs, textID.Int64)
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
					return nil, nil, fmt.Errorf("seq %d: %w", e.Seq, err)
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
	return out, refs, rows.Err()
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

// prepareBatches prepares the write connection's full-size batch
// statements (see dialect.wstmts).
func prepareBatches(ctx context.Context, w *sql.DB) (map[string]*sql.Stmt, error) {
	out := map[string]*sql.Stmt{}
	for _, q := range append(sqlcore.BatchSQL(), insertAuditFull) {
		q = names.SQL(q)
		st, err := w.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range out {
				_ = st.Close()
			}
			return nil, err
		}
		out[q] = st
	}
	return out, nil
}
