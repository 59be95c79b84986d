package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

var _ store.AuditPruner = (*Store)(nil)

// PruneAudit implements store.AuditPruner. The delete guard (migration
// 0003) lets deletes through only up to the row of audit_prune_gate, which
// exists only inside this transaction.
func (s *Store) PruneAudit(ctx context.Context, through int64, record []store.AuditEntry) error {
	if len(record) == 0 {
		return fmt.Errorf("sqlitestore: prune audit: a deletion must be recorded in the log")
	}
	if err := store.CheckAuditBatch(record); err != nil {
		return fmt.Errorf("sqlitestore: prune audit: %w", err)
	}
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&last); err != nil {
			return err
		}
		if through < 1 || through >= last {
			return fmt.Errorf("cannot prune through entry %d of a log that ends at %d: the tail is always kept", through, last)
		}
		if record[0].Seq != last+1 {
			return fmt.Errorf("record starts at seq %d but the log ends at %d; reload LastAudit and rebuild it", record[0].Seq, last)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_prune_gate (through) VALUES (?)`, through); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE seq <= ?`, through); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM audit_prune_gate`); err != nil {
			return err
		}
		return insertAudit(ctx, tx, record)
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: prune audit through %d (nothing was deleted): %w", through, err)
	}
	return nil
}

// insertRows is how many entries one INSERT statement carries: per
// statement, not per row, is where most of the driver's cost is.
const insertRows = 64

// insertAudit inserts entries with multi-row INSERT statements.
func insertAudit(ctx context.Context, tx *sql.Tx, entries []store.AuditEntry) error {
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	args := make([]any, 0, 16*insertRows)
	for len(entries) > 0 {
		n := min(len(entries), insertRows)
		st := stmts[n]
		if st == nil {
			var err error
			q := `INSERT INTO audit_log (` + auditColumns + `) VALUES ` +
				strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),`, n), ",")
			if st, err = tx.PrepareContext(ctx, q); err != nil {
				return err
			}
			stmts[n] = st
		}
		args = args[:0]
		for i := range entries[:n] {
			e := &entries[i]
			fields, err := encodeFields(e.Fields)
			if err != nil {
				return fmt.Errorf("seq %d: %w", e.Seq, err)
			}
			args = append(args, e.Seq, e.Time.UnixMicro(), e.Actor, e.Action, e.Dataset,
				fields, e.Purpose, e.LegalBasis, e.AgreementID, e.Decision, e.Reason, e.RequestID,
				e.CitizenKey, blobArg(e.PrevHash), blobArg(e.Hash), hiddenArg(e.HiddenUntil))
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("seq %d..%d: %w", entries[0].Seq, entries[n-1].Seq, err)
		}
		entries = entries[n:]
	}
	return nil
}

// hiddenArg stores a zero HiddenUntil as NULL.
func hiddenArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}
