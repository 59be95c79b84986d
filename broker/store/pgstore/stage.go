package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// StageAudit implements store.AuditStager: it opens a transaction and sends
// the rows with COPY; Commit checks the log's end and commits. The rows of
// a batch staged on top of one not yet committed do not conflict with it
// (their seqs differ), so both transactions run at once; the second one's
// check, after the first has committed, sees the first one's rows (READ
// COMMITTED takes a new snapshot per statement). It stays outside sqlcore:
// two write transactions open at once is what SQLite's single writer
// cannot do.
func (s *Store) StageAudit(ctx context.Context, entries []store.AuditEntry) (store.StagedAudit, error) {
	if len(entries) == 0 {
		return nil, errors.New("pgstore: stage audit: no entries")
	}
	if err := store.CheckAuditBatch(entries); err != nil {
		return nil, fmt.Errorf("pgstore: append audit: %w", err)
	}
	refs, err := s.AuditTextRefs(ctx, entries)
	if err != nil {
		return nil, fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	// Another instance's staged batch may hold the same sequence numbers
	// in its open transaction while it waits for its own earlier batch,
	// which may wait on ours: a wait the database cannot see as a
	// deadlock. A bounded lock wait breaks it; the loser chains again.
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '1s'`); err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	if err := copyAudit(ctx, tx, entries, refs); err != nil {
		_ = tx.Rollback(ctx)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "55P03") {
			err = fmt.Errorf("another writer appended seq %d..%d first (%w); reload LastAudit and rebuild the batch: %w",
				entries[0].Seq, entries[len(entries)-1].Seq, store.ErrChainMoved, err)
		}
		return nil, fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	return &stagedAudit{s: s, tx: tx, first: entries[0].Seq, last: entries[len(entries)-1].Seq}, nil
}

type stagedAudit struct {
	s           *Store
	tx          pgx.Tx
	first, last int64
}

func (st *stagedAudit) Commit(ctx context.Context) error {
	var last int64
	err := st.tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log WHERE seq < $1`, st.first).Scan(&last)
	if err == nil && last != st.first-1 {
		err = fmt.Errorf("batch starts at seq %d but the log ends at %d; reload LastAudit and rebuild the batch: %w", st.first, last, store.ErrChainMoved)
	}
	if err == nil {
		err = st.tx.Commit(ctx)
	}
	if err != nil {
		_ = st.tx.Rollback(ctx)
		return fmt.Errorf("pgstore: append audit (nothing was stored): %w", err)
	}
	st.s.Appended(st.first, st.last)
	return nil
}

func (st *stagedAudit) Rollback(ctx context.Context) { _ = st.tx.Rollback(ctx) }
