package sqlcore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// AuditColumns are the audit_log columns a Dialect's QueryAudit reads, in
// order, in the core's spelling.
const AuditColumns = `seq, {time}, actor, action, dataset, fields, purpose, legal_basis,
	agreement_id, decision, reason, request_id, citizen_key, prev_hash, hash, {hidden_until}, text_id`

// AppendAudit implements store.AuditStore. Besides rejecting a duplicate
// Seq it checks that the batch is consecutive and starts right after the
// last stored entry, so a gap can never enter the log; two processes
// appending the same Seq at once are caught by the primary key. On any
// error nothing of the batch is stored and the caller should reload
// LastAudit and rebuild the batch.
func (s *Store) AppendAudit(ctx context.Context, entries []store.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := store.CheckAuditBatch(entries); err != nil {
		return s.errorf("append audit: %w", err)
	}
	refs, err := s.AuditTextRefs(ctx, entries)
	if err != nil {
		return s.errorf("append audit (nothing was stored): %w", err)
	}
	err = s.d.WithTx(ctx, func(tx Tx) error {
		last, err := maxSeq(ctx, tx)
		if err != nil {
			return err
		}
		if entries[0].Seq != last+1 {
			return fmt.Errorf("batch starts at seq %d but the log ends at %d; reload LastAudit and rebuild the batch: %w", entries[0].Seq, last, store.ErrChainMoved)
		}
		return s.insertAudit(ctx, tx, entries, refs)
	})
	if err != nil {
		return s.errorf("append audit (nothing was stored): %w", err)
	}
	s.Appended(entries[0].Seq, entries[len(entries)-1].Seq)
	return nil
}

// Appended tells the filters that entries first..last were committed: a
// batch that completes a bucket has it sealed in the background.
func (s *Store) Appended(first, last int64) {
	if store.Crossed(first, last) {
		s.filters.SealAsync()
	}
}

func (s *Store) insertAudit(ctx context.Context, tx Tx, entries []store.AuditEntry, refs []int64) error {
	err := tx.InsertAudit(ctx, entries, refs)
	if s.d.IsUniqueViolation(err) {
		return fmt.Errorf("another writer appended seq %d..%d first (%w); reload LastAudit and rebuild the batch: %w",
			entries[0].Seq, entries[len(entries)-1].Seq, store.ErrChainMoved, err)
	}
	return err
}

// maxSeq is the log's highest Seq, 0 when empty, read from the end of the
// primary key. AppendAudit keeps Seq 1, 2, 3 … without gaps and pruning
// never reuses one, so it is also the count of entries ever appended.
func maxSeq(ctx context.Context, db DB) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&n)
	return n, err
}

// LastAudit implements store.AuditStore.
func (s *Store) LastAudit(ctx context.Context) (store.AuditEntry, error) {
	es, err := s.readAudit(ctx, `SELECT `+AuditColumns+` FROM audit_log ORDER BY seq DESC LIMIT 1`, nil, 1)
	if err != nil {
		return store.AuditEntry{}, s.errorf("last audit entry: %w", err)
	}
	if len(es) == 0 {
		return store.AuditEntry{}, s.errorf("last audit entry: the log is empty: %w", store.ErrNotFound)
	}
	return es[0], nil
}

// ListAudit implements store.AuditStore, as SearchAudit with the page
// size of q.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditEntry, error) {
	es, err := s.queryAudit(ctx, store.AuditSearch{CitizenKey: q.CitizenKey, RequestID: q.RequestID, Actor: q.Actor, AfterSeq: q.AfterSeq}, q.PageSize())
	if err != nil {
		return nil, s.errorf("list audit: %w", err)
	}
	return nonNil(es), nil
}

// CountAudit implements store.AuditStore: the highest Seq (see maxSeq).
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	n, err := maxSeq(ctx, s.d.Read())
	if err != nil {
		return 0, s.errorf("count audit: %w", err)
	}
	return n, nil
}

// SearchAudit implements store.AuditSearcher.
func (s *Store) SearchAudit(ctx context.Context, q store.AuditSearch) ([]store.AuditEntry, error) {
	es, err := s.queryAudit(ctx, q, q.SearchLimit())
	if err != nil {
		return nil, s.errorf("search audit: %w", err)
	}
	return nonNil(es), nil
}

// queryAudit runs q with page size limit; ListAudit and SearchAudit share
// it. Only the filters that are set appear in the SQL, so each query has
// its own plan and uses the index for its filter. A search by citizen or
// request id names the buckets (store.AuditBucketShift) of the cursor's
// range whose Bloom filter may hold the key (all the unsealed ones), which
// the index of migration 0006 is searched once each for (Dialect.AuditKey);
// the whole key is compared on the row, so a collision of what the index
// keeps never returns another citizen's or request's entry.
func (s *Store) queryAudit(ctx context.Context, q store.AuditSearch, limit int) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	addArgs := func(cond string, vs []any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	add := func(cond string, vs ...any) { addArgs(cond, vs) }
	keyCol, key := "", ""
	switch {
	case q.CitizenKey != "":
		keyCol, key = "citizen_key", q.CitizenKey
	case q.RequestID != "":
		keyCol, key = "request_id", q.RequestID
	}
	if keyCol != "" {
		buckets, err := s.filters.SearchBuckets(ctx, q, keyCol == "citizen_key", key)
		if err != nil {
			return nil, err
		}
		if len(buckets) == 0 {
			return []store.AuditEntry{}, nil
		}
		addArgs(s.d.AuditBuckets(buckets))
		addArgs(s.d.AuditKey(keyCol, key))
	}
	if q.CitizenKey != "" && keyCol != "citizen_key" {
		add(`citizen_key = ? AND citizen_key <> ''`, q.CitizenKey)
	}
	if q.RequestID != "" && keyCol != "request_id" {
		add(`request_id = ? AND request_id <> ''`, q.RequestID)
	}
	for _, f := range []struct{ col, v string }{{"actor", q.Actor}, {"dataset", q.Dataset}, {"decision", q.Decision}, {"action", q.Action}} {
		if f.v != "" {
			add(f.col+` = ?`, f.v)
		}
	}
	if q.Purpose != "" {
		addArgs(s.d.AuditPurpose(q.Purpose))
	}
	if !q.Since.IsZero() {
		add(`{time} >= ?`, s.d.Time(q.Since))
	}
	if !q.Until.IsZero() {
		add(`{time} < ?`, s.d.Time(q.Until))
	}
	if !q.VisibleAt.IsZero() {
		add(`({hidden_until} IS NULL OR {hidden_until} <= ?)`, s.d.Time(q.VisibleAt))
	}
	order := `seq`
	if q.Newest {
		order = `seq DESC`
		if q.BeforeSeq > 0 {
			add(`seq < ?`, q.BeforeSeq)
		}
	} else if q.AfterSeq > 0 {
		add(`seq > ?`, q.AfterSeq)
	}
	sqlText := `SELECT ` + AuditColumns + ` FROM audit_log`
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sqlText += ` ORDER BY ` + order + ` LIMIT ?`
	return s.readAudit(ctx, sqlText, append(args, limit), limit)
}

// readAudit runs a SELECT of AuditColumns and puts each entry's legal
// basis and fields back where they are stored apart.
func (s *Store) readAudit(ctx context.Context, q string, args []any, sizeHint int) ([]store.AuditEntry, error) {
	es, refs, err := s.d.QueryAudit(ctx, q, args, sizeHint)
	if err != nil {
		return nil, err
	}
	if err := s.ResolveAuditTexts(ctx, es, refs); err != nil {
		return nil, err
	}
	return es, nil
}

// PruneAudit implements store.AuditPruner: the checks, the deletion past
// the backend's append-only guard and the record of it, in one
// transaction.
func (s *Store) PruneAudit(ctx context.Context, through int64, record []store.AuditEntry) error {
	if len(record) == 0 {
		return s.errorf("prune audit: a deletion must be recorded in the log")
	}
	if err := store.CheckAuditBatch(record); err != nil {
		return s.errorf("prune audit: %w", err)
	}
	refs, err := s.AuditTextRefs(ctx, record)
	if err != nil {
		return s.errorf("prune audit through %d (nothing was deleted): %w", through, err)
	}
	err = s.d.WithTx(ctx, func(tx Tx) error {
		last, err := maxSeq(ctx, tx)
		if err != nil {
			return err
		}
		if through < 1 || through >= last {
			return fmt.Errorf("cannot prune through entry %d of a log that ends at %d: the tail is always kept", through, last)
		}
		if record[0].Seq != last+1 {
			return fmt.Errorf("record starts at seq %d but the log ends at %d; reload LastAudit and rebuild it", record[0].Seq, last)
		}
		if err := s.d.DeleteAuditThrough(ctx, tx, through); err != nil {
			return err
		}
		return s.insertAudit(ctx, tx, record, refs)
	})
	if err != nil {
		return s.errorf("prune audit through %d (nothing was deleted): %w", through, err)
	}
	return nil
}

// ---- bucket filters -----------------------------------------------------------

// LoadAuditFilters implements store.AuditFilterBackend.
func (s *Store) LoadAuditFilters(ctx context.Context, afterBucket int64) ([]store.AuditBucketFilter, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT bucket, citizens, requests FROM audit_bucket_filters WHERE bucket > ? ORDER BY bucket`, afterBucket)
	out, err := collect(rows, err, func(r Rows) (store.AuditBucketFilter, error) {
		var f store.AuditBucketFilter
		err := r.Scan(&f.Bucket, &f.Citizens, &f.Requests)
		return f, err
	})
	if err != nil {
		return nil, s.errorf("audit filters: %w", err)
	}
	return out, nil
}

// AuditFilterBuckets implements store.AuditFilterBackend.
func (s *Store) AuditFilterBuckets(ctx context.Context, from int64) ([]int64, error) {
	rows, err := s.d.Read().Query(ctx, `SELECT bucket FROM audit_bucket_filters WHERE bucket >= ? ORDER BY bucket`, from)
	out, err := collect(rows, err, scanOne[int64])
	if err != nil {
		return nil, s.errorf("audit filter buckets: %w", err)
	}
	return out, nil
}

// AuditBucketKeys implements store.AuditFilterBackend.
func (s *Store) AuditBucketKeys(ctx context.Context, b int64) (citizens, requests []string, err error) {
	lo, hi := b<<store.AuditBucketShift, (b+1)<<store.AuditBucketShift-1
	rows, err := s.d.Read().Query(ctx, `SELECT citizen_key, request_id FROM audit_log WHERE seq BETWEEN ? AND ?`, lo, hi)
	if err != nil {
		return nil, nil, s.errorf("audit bucket keys: %w", err)
	}
	defer rows.Close()
	if citizens, requests, err = store.CollectBucketKeys(rows); err != nil {
		return nil, nil, s.errorf("audit bucket keys: %w", err)
	}
	return citizens, requests, nil
}

// PutAuditFilter implements store.AuditFilterBackend.
func (s *Store) PutAuditFilter(ctx context.Context, f store.AuditBucketFilter) error {
	if _, err := s.d.Write().Exec(ctx, `INSERT INTO audit_bucket_filters (bucket, citizens, requests) VALUES (?, ?, ?) ON CONFLICT (bucket) DO NOTHING`,
		f.Bucket, f.Citizens, f.Requests); err != nil {
		return s.errorf("put audit filter %d: %w", f.Bucket, err)
	}
	return nil
}

// SealAuditBuckets implements store.AuditFilterStore.
func (s *Store) SealAuditBuckets(ctx context.Context) (int, error) {
	n, err := s.filters.Seal(ctx)
	if err != nil {
		return n, s.errorf("seal audit buckets: %w", err)
	}
	return n, nil
}

// SealAuditBucketsInBackground implements store.AuditFilterStore.
func (s *Store) SealAuditBucketsInBackground(onError func(error)) {
	s.filters.SetOnError(onError)
	s.filters.SealAsync()
}

// AuditFilters implements store.AuditFilterStore.
func (s *Store) AuditFilters(ctx context.Context) ([]store.AuditBucketFilter, error) {
	return s.LoadAuditFilters(ctx, -1)
}

// BucketList is buckets as a SQL list of numbers, for a Dialect's
// AuditBuckets: they are the store's own integers, never input.
func BucketList(buckets []int64) string {
	in := make([]string, len(buckets))
	for i, b := range buckets {
		in[i] = strconv.FormatInt(b, 10)
	}
	return strings.Join(in, ",")
}
