package sqlitestore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.AuditSearcher = (*Store)(nil)

// SearchAudit implements store.AuditSearcher.
func (s *Store) SearchAudit(ctx context.Context, q store.AuditSearch) ([]store.AuditEntry, error) {
	es, err := s.queryAudit(ctx, q, q.SearchLimit())
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: search audit: %w", err)
	}
	return es, nil
}

// queryAudit runs q with page size limit; ListAudit and SearchAudit share it.
// Only the filters that are set appear in the SQL, so each query can use
// the index for its filter. A search by citizen or request id goes bucket
// by bucket (store.AuditBucketShift): the buckets of the cursor's range
// whose Bloom filter may hold the key (all the unsealed ones) are listed,
// and the index of migration 0006 is searched once per listed bucket for
// the key's first 16 characters; the whole key is compared on the row
// ("+" keeps SQLite from folding that equality into the index expression,
// which would stop it from using the index).
func (s *Store) queryAudit(ctx context.Context, q store.AuditSearch, limit int) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	keyCol, key := "", ""
	switch {
	case q.CitizenKey != "":
		keyCol, key = "citizen_key", q.CitizenKey
	case q.RequestID != "":
		keyCol, key = "request_id", q.RequestID
	}
	sqlText := `SELECT ` + auditColumns + ` FROM audit_log`
	if keyCol != "" {
		const shift = store.AuditBucketShift
		buckets, err := s.filters.SearchBuckets(ctx, q, keyCol == "citizen_key", key)
		if err != nil {
			return nil, err
		}
		if len(buckets) == 0 {
			return []store.AuditEntry{}, nil
		}
		in := make([]string, len(buckets))
		for i, b := range buckets {
			in[i] = strconv.FormatInt(b, 10)
		}
		add(`(seq >> ` + strconv.Itoa(shift) + `) IN (` + strings.Join(in, ",") + `)`)
		add(`substr(`+keyCol+`, 1, 16) = substr(?, 1, 16) AND +`+keyCol+` = ? AND `+keyCol+` <> ''`, key, key)
	}
	if q.CitizenKey != "" && keyCol != "citizen_key" {
		add(`citizen_key = ? AND citizen_key <> ''`, q.CitizenKey)
	}
	if q.RequestID != "" && keyCol != "request_id" {
		add(`request_id = ? AND request_id <> ''`, q.RequestID)
	}
	if q.Actor != "" {
		add(`actor = ?`, q.Actor)
	}
	if q.Dataset != "" {
		add(`dataset = ?`, q.Dataset)
	}
	if q.Purpose != "" {
		add(`(',' || purpose || ',') LIKE ? ESCAPE '\'`, "%,"+escapeLike(q.Purpose)+",%")
	}
	if q.Decision != "" {
		add(`decision = ?`, q.Decision)
	}
	if q.Action != "" {
		add(`action = ?`, q.Action)
	}
	if !q.Since.IsZero() {
		add(`time_us >= ?`, q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		add(`time_us < ?`, q.Until.UnixMicro())
	}
	if !q.VisibleAt.IsZero() {
		add(`(hidden_until_us IS NULL OR hidden_until_us <= ?)`, q.VisibleAt.UnixMicro())
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
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sqlText += ` ORDER BY ` + order + ` LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	return scanAudit(rows, limit)
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
