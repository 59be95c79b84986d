package sqlitestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.AuditSearcher = (*Store)(nil)

// SearchAudit implements store.AuditSearcher.
func (s *Store) SearchAudit(ctx context.Context, q store.AuditSearch) ([]store.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if q.CitizenKey != "" {
		add(`citizen_key = ? AND citizen_key <> ''`, q.CitizenKey)
	}
	if q.RequestID != "" {
		add(`request_id = ? AND request_id <> ''`, q.RequestID)
	}
	if q.Actor != "" {
		add(`actor = ?`, q.Actor)
	}
	if q.Dataset != "" {
		add(`dataset = ?`, q.Dataset)
	}
	if q.Purpose != "" {
		add(`(',' || purpose || ',') LIKE ?`, "%,"+escapeLike(q.Purpose)+",%")
		where[len(where)-1] += ` ESCAPE '\'`
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
	sqlText := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		sqlText += ` WHERE ` + strings.Join(where, ` AND `)
	}
	sqlText += ` ORDER BY ` + order + ` LIMIT ?`
	args = append(args, q.SearchLimit())
	rows, err := s.r.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: search audit: %w", err)
	}
	es, err := scanAudit(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: search audit: %w", err)
	}
	return es, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
