package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.AuditSearcher = (*Store)(nil)

// SearchAudit implements store.AuditSearcher.
func (s *Store) SearchAudit(ctx context.Context, q store.AuditSearch) ([]store.AuditEntry, error) {
	es, err := s.queryAudit(ctx, q, q.SearchLimit())
	if err != nil {
		return nil, fmt.Errorf("pgstore: search audit: %w", err)
	}
	return nonNil(es), nil
}

// queryAudit runs q with page size limit; ListAudit and SearchAudit share
// it. Only the filters that are set appear in the SQL, so each query has its
// own plan and uses the index for its filter. A search by citizen or
// request id names the buckets (store.AuditBucketShift) of the cursor's
// range whose Bloom filter may hold the key (store.AuditFilters), which the
// index of migration 0006 descends once each for the key's 64-bit hash; the whole key is compared on the row, so a hash
// collision never returns another citizen's or request's entry.
func (s *Store) queryAudit(ctx context.Context, q store.AuditSearch, limit int) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	keyCol, key := "", ""
	switch {
	case q.CitizenKey != "":
		keyCol, key = "citizen_key", q.CitizenKey
	case q.RequestID != "":
		keyCol, key = "request_id", q.RequestID
	}
	if keyCol != "" {
		shift := strconv.Itoa(store.AuditBucketShift)
		// only the buckets whose Bloom filter may hold the key (and the
		// unsealed ones, which have none)
		buckets, err := s.filters.SearchBuckets(ctx, q, keyCol == "citizen_key", key)
		if err != nil {
			return nil, err
		}
		if len(buckets) == 0 {
			return []store.AuditEntry{}, nil
		}
		where = append(where, `(seq >> `+shift+`) = ANY (`+arg(buckets)+`::bigint[])`)
		p := arg(key)
		where = append(where, `hashtextextended(`+keyCol+`, 0) = hashtextextended(`+p+`::text, 0) AND `+keyCol+` = `+p+` AND `+keyCol+` <> ''`)
	}
	if q.CitizenKey != "" && keyCol != "citizen_key" {
		where = append(where, `citizen_key = `+arg(q.CitizenKey)+` AND citizen_key <> ''`)
	}
	if q.RequestID != "" && keyCol != "request_id" {
		where = append(where, `request_id = `+arg(q.RequestID)+` AND request_id <> ''`)
	}
	if q.Actor != "" {
		where = append(where, `actor = `+arg(q.Actor))
	}
	if q.Dataset != "" {
		where = append(where, `dataset = `+arg(q.Dataset))
	}
	if q.Purpose != "" {
		where = append(where, arg(q.Purpose)+` = ANY (string_to_array(purpose, ','))`)
	}
	if q.Decision != "" {
		where = append(where, `decision = `+arg(q.Decision))
	}
	if q.Action != "" {
		where = append(where, `action = `+arg(q.Action))
	}
	if !q.Since.IsZero() {
		where = append(where, `time >= `+arg(q.Since.UTC()))
	}
	if !q.Until.IsZero() {
		where = append(where, `time < `+arg(q.Until.UTC()))
	}
	if !q.VisibleAt.IsZero() {
		where = append(where, `(hidden_until IS NULL OR hidden_until <= `+arg(q.VisibleAt.UTC())+`)`)
	}
	order := `seq`
	if q.Newest {
		order = `seq DESC`
		if q.BeforeSeq > 0 {
			where = append(where, `seq < `+arg(q.BeforeSeq))
		}
	} else if q.AfterSeq > 0 {
		where = append(where, `seq > `+arg(q.AfterSeq))
	}
	sqlText := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sqlText += ` ORDER BY ` + order + ` LIMIT ` + arg(limit)
	rows, err := s.pool.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanAudit)
}
