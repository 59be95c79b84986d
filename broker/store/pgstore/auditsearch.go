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
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.CitizenKey != "" {
		where = append(where, `citizen_key = `+arg(q.CitizenKey)+` AND citizen_key <> ''`)
	}
	if q.RequestID != "" {
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
	sqlText += ` ORDER BY ` + order + ` LIMIT ` + arg(q.SearchLimit())
	rows, err := s.pool.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: search audit: %w", err)
	}
	es, err := pgx.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: search audit: %w", err)
	}
	return nonNil(es), nil
}
