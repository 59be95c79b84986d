package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.AuditPruner = (*Store)(nil)

// PruneAudit implements store.AuditPruner. The append-only trigger
// (migration 0003) lets a DELETE through only up to the transaction-local
// setting lgsp.audit_prune_through, which ends with this transaction.
func (s *Store) PruneAudit(ctx context.Context, through int64, record []store.AuditEntry) error {
	if len(record) == 0 {
		return fmt.Errorf("pgstore: prune audit: a deletion must be recorded in the log")
	}
	if err := store.CheckAuditBatch(record); err != nil {
		return fmt.Errorf("pgstore: prune audit: %w", err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var last int64
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&last); err != nil {
			return err
		}
		if through < 1 || through >= last {
			return fmt.Errorf("cannot prune through entry %d of a log that ends at %d: the tail is always kept", through, last)
		}
		if record[0].Seq != last+1 {
			return fmt.Errorf("record starts at seq %d but the log ends at %d; reload LastAudit and rebuild it", record[0].Seq, last)
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('lgsp.audit_prune_through', $1, true)`, strconv.FormatInt(through, 10)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE seq <= $1`, through); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('lgsp.audit_prune_through', '', true)`); err != nil {
			return err
		}
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_log"}, auditColumnNames,
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(record) {
					return nil, nil
				}
				e := &record[i]
				i++
				return auditRow(e), nil
			}))
		if isUniqueViolation(err) {
			return fmt.Errorf("another writer appended seq %d first; reload LastAudit and rebuild the record: %w", record[0].Seq, err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: prune audit through %d (nothing was deleted): %w", through, err)
	}
	return nil
}

// auditRow is e as the COPY row of auditColumnNames; a zero HiddenUntil is NULL.
func auditRow(e *store.AuditEntry) []any {
	var hidden *time.Time
	if !e.HiddenUntil.IsZero() {
		hidden = &e.HiddenUntil
	}
	return []any{e.Seq, e.Time, e.Actor, e.Action, e.Dataset, e.Fields, e.Purpose,
		e.LegalBasis, e.AgreementID, e.Decision, e.Reason, e.RequestID, e.CitizenKey,
		e.PrevHash, e.Hash, hidden}
}
