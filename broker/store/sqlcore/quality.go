package sqlcore

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ---- data quality: scorecard counters and redrive items ----------------------------
//
// Times are integer milliseconds on both backends (migration 0013), so the
// statements need no dialect names.

var qualityCounterCols = []string{"received", "valid", "duplicates", "verified", "mismatch", "not_found", "invalid_id",
	"linked", "review", "deceased", "unmatched", "deceased_active", "unreflected"}

func counterArgs(c *store.QualityCounts) []any {
	return []any{c.Received, c.Valid, c.Duplicates, c.Verified, c.Mismatch, c.NotFound, c.InvalidID, c.Linked, c.Review,
		c.Deceased, c.Unmatched, c.DeceasedActive, c.Unreflected}
}

func counterDest(c *store.QualityCounts) []any {
	return []any{&c.Received, &c.Valid, &c.Duplicates, &c.Verified, &c.Mismatch, &c.NotFound, &c.InvalidID, &c.Linked, &c.Review,
		&c.Deceased, &c.Unmatched, &c.DeceasedActive, &c.Unreflected}
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// upsertCounts adds to the counters rather than setting them, so the
// increments of several instances and of every restart add up.
var upsertCounts = func() string {
	var sets []string
	for _, c := range qualityCounterCols {
		sets = append(sets, c+" = quality_counts."+c+" + excluded."+c)
	}
	return `INSERT INTO quality_counts (source, dataset, day, ` + strings.Join(qualityCounterCols, ", ") + `, last_seen_ms)
		VALUES (?, ?, ?` + strings.Repeat(", ?", len(qualityCounterCols)) + `, ?)
		ON CONFLICT (source, dataset, day) DO UPDATE SET ` + strings.Join(sets, ", ") + `,
		last_seen_ms = CASE WHEN excluded.last_seen_ms > quality_counts.last_seen_ms THEN excluded.last_seen_ms ELSE quality_counts.last_seen_ms END`
}()

// AddQuality implements store.QualityStore. The rows are upserted in key
// order, so two instances adding to the same rows at once wait for each
// other instead of deadlocking (PostgreSQL).
func (s *Store) AddQuality(ctx context.Context, deltas []store.QualityDelta) error {
	deltas = slices.Clone(deltas)
	slices.SortFunc(deltas, func(a, b store.QualityDelta) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.Day, b.Day))
	})
	var stmts []Stmt
	for i := range deltas {
		d := &deltas[i]
		d.Fields = slices.Clone(d.Fields)
		slices.SortFunc(d.Fields, func(a, b store.QualityFieldCount) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Field, b.Field))
		})
		d.Reasons = slices.Clone(d.Reasons)
		slices.SortFunc(d.Reasons, func(a, b store.QualityReason) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Path, b.Path))
		})
		args := append([]any{d.Source, d.Dataset, d.Day}, counterArgs(&d.QualityCounts)...)
		stmts = append(stmts, Stmt{upsertCounts, append(args, millis(d.LastSeen))})
		for _, f := range d.Fields {
			stmts = append(stmts, Stmt{`INSERT INTO quality_fields (source, dataset, day, kind, field, n) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (source, dataset, day, kind, field) DO UPDATE SET n = quality_fields.n + excluded.n`,
				[]any{d.Source, d.Dataset, d.Day, f.Kind, f.Field, f.N}})
		}
		for _, r := range d.Reasons {
			stmts = append(stmts, Stmt{`INSERT INTO quality_reasons (source, dataset, day, kind, path, example, n) VALUES (?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (source, dataset, day, kind, path) DO UPDATE SET n = quality_reasons.n + excluded.n, example = excluded.example`,
				[]any{d.Source, d.Dataset, d.Day, r.Kind, r.Path, r.Example, r.N}})
		}
	}
	if len(stmts) == 0 {
		return nil
	}
	if err := s.d.WithTx(ctx, func(tx Tx) error { return tx.ExecBatch(ctx, stmts) }); err != nil {
		return s.errorf("add %d quality counter sets (nothing was added; retry): %w", len(deltas), err)
	}
	return nil
}

// qualityWhere is the condition of q on the counter tables; none is false
// when q selects no source at all.
func qualityWhere(q store.QualityQuery) (cond string, args []any, none bool) {
	cond, args = `day >= ? AND day <= ?`, []any{q.FromDay, q.ToDay}
	if q.Dataset != "" {
		cond += ` AND dataset = ?`
		args = append(args, q.Dataset)
	}
	c, a, none := sourcesIn(q.Sources)
	return cond + c, append(args, a...), none
}

func sourcesIn(sources []string) (string, []any, bool) {
	if sources == nil {
		return "", nil, false
	}
	if len(sources) == 0 {
		return "", nil, true
	}
	args := make([]any, len(sources))
	for i, s := range sources {
		args[i] = s
	}
	return ` AND source IN (?` + strings.Repeat(", ?", len(sources)-1) + `)`, args, false
}

// QualityDays implements store.QualityStore.
func (s *Store) QualityDays(ctx context.Context, q store.QualityQuery) ([]store.QualityRow, error) {
	cond, args, none := qualityWhere(q)
	if none {
		return []store.QualityRow{}, nil
	}
	rows, err := s.d.Read().Query(ctx, `SELECT source, dataset, day, `+strings.Join(qualityCounterCols, ", ")+`, last_seen_ms
		FROM quality_counts WHERE `+cond+` ORDER BY source, dataset, day`, args...)
	out, err := collect(rows, err, func(r Rows) (store.QualityRow, error) {
		var qr store.QualityRow
		var ms int64
		dest := append([]any{&qr.Source, &qr.Dataset, &qr.Day}, counterDest(&qr.QualityCounts)...)
		err := r.Scan(append(dest, &ms)...)
		qr.LastSeen = fromMillis(ms)
		return qr, err
	})
	if err != nil {
		return nil, s.errorf("read quality counters: %w", err)
	}
	return nonNil(out), nil
}

// QualityFields implements store.QualityStore.
func (s *Store) QualityFields(ctx context.Context, q store.QualityQuery) ([]store.QualityFieldRow, error) {
	cond, args, none := qualityWhere(q)
	if none {
		return []store.QualityFieldRow{}, nil
	}
	rows, err := s.d.Read().Query(ctx, `SELECT source, dataset, kind, field, sum(n) FROM quality_fields WHERE `+cond+`
		GROUP BY source, dataset, kind, field ORDER BY source, dataset, kind, field`, args...)
	out, err := collect(rows, err, func(r Rows) (store.QualityFieldRow, error) {
		var f store.QualityFieldRow
		err := r.Scan(&f.Source, &f.Dataset, &f.Kind, &f.Field, &f.N)
		return f, err
	})
	if err != nil {
		return nil, s.errorf("read quality field counts: %w", err)
	}
	return nonNil(out), nil
}

// QualityReasons implements store.QualityStore.
func (s *Store) QualityReasons(ctx context.Context, q store.QualityQuery, limit int) ([]store.QualityReasonRow, error) {
	if limit <= 0 {
		limit = 20
	}
	cond, args, none := qualityWhere(q)
	if none {
		return []store.QualityReasonRow{}, nil
	}
	rows, err := s.d.Read().Query(ctx, `SELECT source, dataset, kind, path, max(example), sum(n) AS total FROM quality_reasons WHERE `+cond+`
		GROUP BY source, dataset, kind, path ORDER BY total DESC, source, dataset, kind, path LIMIT ?`, append(args, limit)...)
	out, err := collect(rows, err, func(r Rows) (store.QualityReasonRow, error) {
		var x store.QualityReasonRow
		err := r.Scan(&x.Source, &x.Dataset, &x.Kind, &x.Path, &x.Example, &x.N)
		return x, err
	})
	if err != nil {
		return nil, s.errorf("read quality rejection reasons: %w", err)
	}
	return nonNil(out), nil
}

const itemColumns = `id, event_id, source, connector, dataset, kind, path, reason, status, record, entity_key, citizen_key,
	attempts, last_event_id, created_ms, updated_ms`

func scanItem(r Row) (store.QualityItem, error) {
	var it store.QualityItem
	var c, u int64
	err := r.Scan(&it.ID, &it.EventID, &it.Source, &it.Connector, &it.Dataset, &it.Kind, &it.Path, &it.Reason, &it.Status,
		&it.Record, &it.EntityKey, &it.CitizenKey, &it.Attempts, &it.LastEventID, &c, &u)
	it.Created, it.Updated = fromMillis(c), fromMillis(u)
	return it, err
}

func insertHistory(ctx context.Context, db DB, id int64, at time.Time, actor, action, status, kind, path, reason, note, eventID string) error {
	_, err := db.Exec(ctx, `INSERT INTO quality_item_history (item_id, at_ms, actor, action, status, kind, path, reason, note, event_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, millis(at), actor, action, status, kind, path, reason, note, eventID)
	return err
}

// AddQualityItems implements store.QualityStore.
func (s *Store) AddQualityItems(ctx context.Context, items []store.QualityItem, at time.Time) (int, error) {
	// in event id order, so instances adding the same items wait for each
	// other rather than deadlock
	items = slices.Clone(items)
	slices.SortFunc(items, func(a, b store.QualityItem) int { return cmp.Compare(a.EventID, b.EventID) })
	added := 0
	err := s.d.WithTx(ctx, func(tx Tx) error {
		added = 0
		for _, it := range items {
			if it.Record == nil {
				it.Record = []byte{}
			}
			var id int64
			err := tx.QueryRow(ctx, `INSERT INTO quality_items (event_id, source, connector, dataset, kind, path, reason, status, record,
				entity_key, citizen_key, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)
				ON CONFLICT (event_id) DO NOTHING RETURNING id`,
				it.EventID, it.Source, it.Connector, it.Dataset, it.Kind, it.Path, it.Reason, it.Record, it.EntityKey, it.CitizenKey,
				millis(at), millis(at)).Scan(&id)
			if noRows(err) {
				continue // stored before: a re-read batch
			}
			if err != nil {
				return err
			}
			if err := insertHistory(ctx, tx, id, at, "bus", "created", store.ItemOpen, it.Kind, it.Path, it.Reason, "", it.EventID); err != nil {
				return err
			}
			added++
		}
		return nil
	})
	if err != nil {
		return 0, s.errorf("add %d quality items (nothing was added; retry): %w", len(items), err)
	}
	return added, nil
}

// GetQualityItem implements store.QualityStore.
func (s *Store) GetQualityItem(ctx context.Context, id int64) (store.QualityItem, error) {
	it, err := scanItem(s.d.Read().QueryRow(ctx, `SELECT `+itemColumns+` FROM quality_items WHERE id = ?`, id))
	if noRows(err) {
		return it, s.errorf("quality item %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return it, s.errorf("get quality item %d: %w", id, err)
	}
	return it, nil
}

// ListQualityItems implements store.QualityStore.
func (s *Store) ListQualityItems(ctx context.Context, q store.QualityItemQuery) ([]store.QualityItem, error) {
	cond, args := `id > ?`, []any{q.AfterID}
	for _, f := range []struct{ col, v string }{{"dataset", q.Dataset}, {"status", q.Status}, {"kind", q.Kind}, {"path", q.Path}} {
		if f.v != "" {
			cond += ` AND ` + f.col + ` = ?`
			args = append(args, f.v)
		}
	}
	c, a, none := sourcesIn(q.Sources)
	if none {
		return []store.QualityItem{}, nil
	}
	rows, err := s.d.Read().Query(ctx, `SELECT `+itemColumns+` FROM quality_items WHERE `+cond+c+` ORDER BY id LIMIT ?`,
		append(append(args, a...), store.QualityListLimit(q.Limit))...)
	out, err := collect(rows, err, func(r Rows) (store.QualityItem, error) { return scanItem(r) })
	if err != nil {
		return nil, s.errorf("list quality items: %w", err)
	}
	return nonNil(out), nil
}

// OpenQualityItemsByCitizen implements store.QualityStore.
func (s *Store) OpenQualityItemsByCitizen(ctx context.Context, citizenKey string, limit int) ([]store.QualityItem, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT `+itemColumns+` FROM quality_items
		WHERE citizen_key = ? AND citizen_key <> '' AND status = 'open' ORDER BY id LIMIT ?`, citizenKey, store.QualityListLimit(limit))
	out, err := collect(rows, err, func(r Rows) (store.QualityItem, error) { return scanItem(r) })
	if err != nil {
		return nil, s.errorf("open quality items of a citizen: %w", err)
	}
	return nonNil(out), nil
}

// ChangeQualityItem implements store.QualityStore.
func (s *Store) ChangeQualityItem(ctx context.Context, id int64, ch store.QualityItemChange) (store.QualityItem, error) {
	if len(ch.From) == 0 {
		return store.QualityItem{}, s.errorf("change quality item %d: no status to change from", id)
	}
	var it store.QualityItem
	err := s.d.WithTx(ctx, func(tx Tx) error {
		attempt := 0
		if ch.Attempt {
			attempt = 1
		}
		args := []any{ch.Status, ch.Kind, ch.Kind, ch.Path, ch.Path, ch.Reason, ch.Reason, ch.Record == nil, ch.Record,
			ch.EventID, ch.EventID, attempt, millis(ch.At), id}
		for _, f := range ch.From {
			args = append(args, f)
		}
		rec := ch.Record
		if rec == nil {
			rec = []byte{}
		}
		args[8] = rec
		var err error
		it, err = scanItem(tx.QueryRow(ctx, `UPDATE quality_items SET status = ?,
			kind = CASE WHEN ? = '' THEN kind ELSE ? END,
			path = CASE WHEN ? = '' THEN path ELSE ? END,
			reason = CASE WHEN ? = '' THEN reason ELSE ? END,
			record = CASE WHEN ? THEN record ELSE ? END,
			last_event_id = CASE WHEN ? = '' THEN last_event_id ELSE ? END,
			attempts = attempts + ?, updated_ms = ?
			WHERE id = ? AND status IN (?`+strings.Repeat(", ?", len(ch.From)-1)+`) RETURNING `+itemColumns, args...))
		if err != nil {
			return err
		}
		return insertHistory(ctx, tx, id, ch.At, ch.Actor, ch.Action, it.Status, it.Kind, it.Path, it.Reason, ch.Note, ch.EventID)
	})
	if err == nil {
		return it, nil
	}
	if !noRows(err) {
		return it, s.errorf("change quality item %d (not changed; retry): %w", id, err)
	}
	it, err = s.GetQualityItem(ctx, id)
	if err != nil {
		return it, err
	}
	return it, s.errorf("quality item %d is %s: %w", id, it.Status, store.ErrConflict)
}

// QualityItemHistory implements store.QualityStore.
func (s *Store) QualityItemHistory(ctx context.Context, id int64) ([]store.QualityEvent, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT item_id, at_ms, actor, action, status, kind, path, reason, note, event_id
		FROM quality_item_history WHERE item_id = ? ORDER BY seq`, id)
	out, err := collect(rows, err, func(r Rows) (store.QualityEvent, error) {
		var e store.QualityEvent
		var ms int64
		err := r.Scan(&e.ItemID, &ms, &e.Actor, &e.Action, &e.Status, &e.Kind, &e.Path, &e.Reason, &e.Note, &e.EventID)
		e.At = fromMillis(ms)
		return e, err
	})
	if err != nil {
		return nil, s.errorf("history of quality item %d: %w", id, err)
	}
	return nonNil(out), nil
}

// ---- register changes not yet reflected (migration 0015) ---------------------

// NoteRegisterChanges implements store.QualityStore. The rows are written
// in key order, so instances noting the same changes wait for each other
// rather than deadlock.
func (s *Store) NoteRegisterChanges(ctx context.Context, chs []store.RegisterChange) error {
	chs = sortedChanges(chs)
	stmts := make([]Stmt, 0, len(chs))
	for _, c := range chs {
		stmts = append(stmts, Stmt{`INSERT INTO quality_register_changes (source, dataset, citizen_key, field, expected, changed_ms)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (source, dataset, citizen_key, field) DO UPDATE SET
			changed_ms = CASE WHEN quality_register_changes.expected = excluded.expected AND quality_register_changes.changed_ms < excluded.changed_ms
				THEN quality_register_changes.changed_ms ELSE excluded.changed_ms END,
			expected = excluded.expected`,
			[]any{c.Source, c.Dataset, c.CitizenKey, c.Field, c.Expected, millis(c.Changed)}})
	}
	if len(stmts) == 0 {
		return nil
	}
	if err := s.d.WithTx(ctx, func(tx Tx) error { return tx.ExecBatch(ctx, stmts) }); err != nil {
		return s.errorf("note %d register changes (nothing was noted; retry): %w", len(chs), err)
	}
	return nil
}

// ResolveRegisterChanges implements store.QualityStore.
func (s *Store) ResolveRegisterChanges(ctx context.Context, chs []store.RegisterChange) error {
	chs = sortedChanges(chs)
	stmts := make([]Stmt, 0, len(chs))
	for _, c := range chs {
		stmts = append(stmts, Stmt{`DELETE FROM quality_register_changes
			WHERE source = ? AND dataset = ? AND citizen_key = ? AND field = ? AND changed_ms <= ?`,
			[]any{c.Source, c.Dataset, c.CitizenKey, c.Field, millis(c.Changed)}})
	}
	if len(stmts) == 0 {
		return nil
	}
	if err := s.d.WithTx(ctx, func(tx Tx) error { return tx.ExecBatch(ctx, stmts) }); err != nil {
		return s.errorf("resolve %d register changes (nothing was resolved; retry): %w", len(chs), err)
	}
	return nil
}

// DueRegisterChanges implements store.QualityStore.
func (s *Store) DueRegisterChanges(ctx context.Context, due time.Time, limit int) ([]store.RegisterChange, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT source, dataset, citizen_key, field, expected, changed_ms FROM quality_register_changes
		WHERE changed_ms <= ? ORDER BY changed_ms, source, dataset, citizen_key, field LIMIT ?`, millis(due), store.QualityListLimit(limit))
	out, err := collect(rows, err, func(r Rows) (store.RegisterChange, error) {
		var c store.RegisterChange
		var ms int64
		err := r.Scan(&c.Source, &c.Dataset, &c.CitizenKey, &c.Field, &c.Expected, &ms)
		c.Changed = fromMillis(ms)
		return c, err
	})
	if err != nil {
		return nil, s.errorf("list due register changes (retry): %w", err)
	}
	return out, nil
}

func sortedChanges(chs []store.RegisterChange) []store.RegisterChange {
	chs = slices.Clone(chs)
	slices.SortFunc(chs, func(a, b store.RegisterChange) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.CitizenKey, b.CitizenKey),
			cmp.Compare(a.Field, b.Field))
	})
	return chs
}
