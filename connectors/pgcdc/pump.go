package pgcdc

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/internal/pgvalue"
)

// pendingTx is a transaction being received. Its records are handed out
// in parts of batch_size as they arrive (pgoutput sends a transaction only
// once it committed, so none is ever rolled back), the last one held back
// until the commit message says it is the last; a transaction of a million
// rows thus never sits in memory whole, and the pipeline starts on its
// first part while the rest is still arriving.
type pendingTx struct {
	xid    uint32
	commit pglogrepl.LSN
	time   time.Time
	recs   []connectors.Record              // received, not handed out yet
	sent   int                              // records handed out before recs
	metas  map[*tableInfo]map[string]string // the records' shared Metadata, per table
}

// meta is the Metadata of the transaction's records of one table.
func (tx *pendingTx) meta(info *tableInfo) map[string]string {
	m := tx.metas[info]
	if m == nil {
		if tx.metas == nil {
			tx.metas = map[*tableInfo]map[string]string{}
		}
		m = info.meta(tx.commit)
		tx.metas[info] = m
	}
	return m
}

// pumpState is owned by the pump goroutine.
type pumpState struct {
	relations map[uint32]*pglogrepl.RelationMessage
	plans     map[uint32]*rowPlan // of the relations of captured tables
	tx        *pendingTx
	received  pglogrepl.LSN // highest WAL position seen from the server
	idle      pglogrepl.LSN // WAL fully processed with no record of the bus in it
	sentFlush pglogrepl.LSN // highest flush position reported (never decreases)
}

// pump owns the replication connection while streaming: it receives
// changes, hands committed transactions to Read, and sends standby status
// updates (heartbeats) that report only acknowledged positions as flushed.
func (s *Source) pump(ctx context.Context) error {
	st := &pumpState{relations: map[uint32]*pglogrepl.RelationMessage{}, plans: map[uint32]*rowPlan{}, received: s.startLSN}
	next := time.Now()
	var win recvWindow
	defer win.stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-s.beat:
			next = time.Now()
		default:
		}
		if !time.Now().Before(next) {
			if err := s.status(st, false); err != nil {
				return err
			}
			next = time.Now().Add(s.cfg.HeartbeatInterval)
		}
		msg, err := s.repl.ReceiveMessage(win.ctx(ctx, next))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if pgconn.Timeout(err) {
				continue
			}
			return connectors.Backoff(fmt.Errorf("pgcdc: receive: %w", err))
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return classify(fmt.Errorf("pgcdc: replication: %w", pgconn.ErrorResponseToPgError(m)))
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return fmt.Errorf("pgcdc: keepalive: %w", err)
				}
				if ka.ServerWALEnd > st.received {
					st.received = ka.ServerWALEnd
				}
				if st.tx == nil && ka.ServerWALEnd > st.idle {
					st.idle = ka.ServerWALEnd
				}
				if ka.ReplyRequested {
					next = time.Now()
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return fmt.Errorf("pgcdc: xlogdata: %w", err)
				}
				if xld.WALStart > st.received {
					st.received = xld.WALStart
				}
				if err := s.handle(ctx, st, xld.WALData); err != nil {
					return err
				}
			}
		}
	}
}

// recvWindow is the deadline the pump receives under: at most 250ms, and
// no later than the next status update is due, so that the pump wakes up
// to send it. One deadline serves every message until it passes; a
// context per message cost a tenth of the pump's time in a large
// transaction.
type recvWindow struct {
	c      context.Context
	cancel context.CancelFunc
}

func (w *recvWindow) ctx(parent context.Context, next time.Time) context.Context {
	if w.c != nil {
		if d, _ := w.c.Deadline(); w.c.Err() == nil && !d.After(next) {
			return w.c
		}
		w.cancel()
	}
	deadline := time.Now().Add(250 * time.Millisecond)
	if next.Before(deadline) {
		deadline = next
	}
	w.c, w.cancel = context.WithDeadline(parent, deadline)
	return w.c
}

func (w *recvWindow) stop() {
	if w.cancel != nil {
		w.cancel()
	}
}

// status sends a standby status update. Flushed is the acknowledged
// position; only when every record handed out has been acknowledged and no
// transaction is open may it move on to WAL that held nothing for the bus.
// It never defaults to the write position.
func (s *Source) status(st *pumpState, reply bool) error {
	flush := pglogrepl.LSN(s.acked.Load())
	if st.tx == nil && s.pumped.Load() <= s.acked.Load() && st.idle > flush {
		flush = st.idle
	}
	if flush < st.sentFlush {
		flush = st.sentFlush
	}
	st.sentFlush = flush
	return s.sendStatusLSN(st.received, flush, reply)
}

// sendStatus is the last status update of Close, from the acknowledged
// position alone.
func (s *Source) sendStatus(_ pglogrepl.LSN, reply bool) error {
	f := pglogrepl.LSN(s.acked.Load())
	return s.sendStatusLSN(f, f, reply)
}

func (s *Source) sendStatusLSN(write, flush pglogrepl.LSN, reply bool) error {
	if flush == 0 {
		return nil // nothing known to be durable: say nothing rather than let flush default to write
	}
	if write < flush {
		write = flush
	}
	err := pglogrepl.SendStandbyStatusUpdate(context.Background(), s.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: write, WALFlushPosition: flush, WALApplyPosition: flush, ReplyRequested: reply,
	})
	if err != nil {
		return connectors.Backoff(fmt.Errorf("pgcdc: send status: %w", err))
	}
	return nil
}

// handle decodes one pgoutput message.
func (s *Source) handle(ctx context.Context, st *pumpState, data []byte) error {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return fmt.Errorf("pgcdc: parse pgoutput message: %w", err)
	}
	var buf [2]connectors.Record // a message makes at most two records
	add := buf[:0]
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		st.relations[m.RelationID] = m
		delete(st.plans, m.RelationID)
		if info := s.tables[m.Namespace+"."+m.RelationName]; info != nil {
			st.plans[m.RelationID] = relationPlan(info, m)
		}
	case *pglogrepl.BeginMessage:
		st.tx = &pendingTx{xid: m.Xid, commit: m.FinalLSN, time: m.CommitTime}
		if s.seen != nil && m.FinalLSN >= s.seen.until {
			s.seen = nil // no resumed snapshot chunk saw this transaction or any after it
		}
	case *pglogrepl.InsertMessage:
		rel, info := s.relation(st, m.RelationID)
		if info != nil && st.tx != nil && !s.seen.shown(info, tupleKey(rel, m.Tuple, info.pk), st.tx.xid) {
			add = append(add, connectors.Record{Dataset: info.mapping.Dataset, Metadata: st.tx.meta(info), Op: connectors.OpCreate,
				After: tupleRecord(rel, st.plans[m.RelationID], info.mapping, m.Tuple)})
		}
	case *pglogrepl.UpdateMessage:
		rel, info := s.relation(st, m.RelationID)
		if info != nil && st.tx != nil {
			if m.OldTuple == nil {
				// No old row (the key did not change, REPLICA IDENTITY
				// DEFAULT): the common case, decoded straight into the record.
				if !s.seen.shown(info, tupleKey(rel, m.NewTuple, info.pk), st.tx.xid) {
					add = append(add, connectors.Record{Dataset: info.mapping.Dataset, Metadata: st.tx.meta(info), Op: connectors.OpUpdate,
						After: tupleRecord(rel, st.plans[m.RelationID], info.mapping, m.NewTuple)})
				}
				break
			}
			before := tupleRow(rel, m.OldTuple, m.OldTupleType == pglogrepl.UpdateMessageTupleTypeKey, nil)
			after := tupleRow(rel, m.NewTuple, false, before)
			shown := s.seen.shown(info, tupleKey(rel, m.NewTuple, info.pk), st.tx.xid)
			if keyChanged(info.pk, m.OldTupleType, before, after) {
				// A changed primary key is another entity, as Debezium has it:
				// a delete of the old key, then a create of the new one.
				add = append(add,
					connectors.Record{Dataset: info.mapping.Dataset, Metadata: st.tx.meta(info), Op: connectors.OpDelete, Before: info.mapping.Apply(before)})
				if !shown {
					add = append(add,
						connectors.Record{Dataset: info.mapping.Dataset, Metadata: st.tx.meta(info), Op: connectors.OpCreate, After: info.mapping.Apply(after)})
				}
				break
			}
			if shown {
				break // a resumed snapshot chunk read this row after the change
			}
			add = append(add, connectors.Record{Dataset: info.mapping.Dataset, Metadata: st.tx.meta(info), Op: connectors.OpUpdate,
				Before: info.mapping.Apply(before), After: info.mapping.Apply(after)})
		}
	case *pglogrepl.DeleteMessage:
		rel, info := s.relation(st, m.RelationID)
		if info != nil && st.tx != nil && m.OldTuple != nil {
			before := tupleRow(rel, m.OldTuple, m.OldTupleType == pglogrepl.DeleteMessageTupleTypeKey, nil)
			add = append(add, connectors.Record{Dataset: info.mapping.Dataset, Metadata: st.tx.meta(info), Op: connectors.OpDelete,
				Before: info.mapping.Apply(before)})
		}
	case *pglogrepl.CommitMessage:
		tx := st.tx
		st.tx = nil
		if tx == nil {
			return nil
		}
		recs := s.seal(tx, tx.recs, m)
		if len(recs) == 0 {
			// Nothing for the bus (or all of it read before the position
			// the source was opened at; a prefix of the transaction is
			// skipped, so no earlier part was handed out either).
			if m.TransactionEndLSN > st.idle {
				st.idle = m.TransactionEndLSN
			}
			return nil
		}
		return s.handOut(ctx, st, recs)
	}
	if len(add) == 0 {
		return nil
	}
	st.tx.recs = append(st.tx.recs, add...)
	if n := len(st.tx.recs); n > s.cfg.BatchSize {
		// Hand out all but the last record (it may be the transaction's
		// last); the handed-out slice belongs to Read from now on.
		part, held := st.tx.recs[:n-1:n-1], st.tx.recs[n-1]
		st.tx.recs = append(make([]connectors.Record, 0, min(n, 64)), held)
		if part = s.seal(st.tx, part, nil); len(part) > 0 {
			return s.handOut(ctx, st, part)
		}
	}
	return nil
}

func (s *Source) relation(st *pumpState, id uint32) (*pglogrepl.RelationMessage, *tableInfo) {
	rel, ok := st.relations[id]
	if !ok {
		return nil, nil
	}
	return rel, s.tables[rel.Namespace+"."+rel.RelationName]
}

// seal gives the next records of a transaction their positions and drops
// those at or before the position the source was opened at. c is the
// commit message when recs end the transaction: only the last record of a
// transaction carries its end LSN (the others are handed out before it is
// known).
func (s *Source) seal(tx *pendingTx, recs []connectors.Record, c *pglogrepl.CommitMessage) []connectors.Record {
	n := len(recs)
	out := recs[:0]
	base := tx.sent
	tx.sent += n
	for i, r := range recs {
		p := position{commit: tx.commit, index: uint32(base + i)}
		if c != nil && i == n-1 {
			p.end, p.last = c.TransactionEndLSN, true
		}
		if rp := s.resume; rp != nil {
			if p.commit < rp.commit || p.commit == rp.commit && (rp.last || p.index <= rp.index) {
				continue
			}
		}
		r.Position = p.encode()
		r.Time = tx.time
		out = append(out, r)
	}
	if s.resume != nil && tx.commit > s.resume.commit {
		s.resume = nil
	}
	return out
}

// handOut passes a transaction to Read, heartbeating while Read is slow
// (back-pressure from Kafka must not make the server drop the connection).
func (s *Source) handOut(ctx context.Context, st *pumpState, recs []connectors.Record) error {
	last, _ := decodePosition(recs[len(recs)-1].Position)
	s.pumped.Store(uint64(last.flushLSN()))
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case s.txs <- recs:
			return nil
		case <-tick.C:
		case <-s.beat:
		case <-ctx.Done():
			return nil
		}
		if err := s.status(st, false); err != nil {
			return err
		}
	}
}

// tupleRow decodes a tuple into column → value. keyOnly keeps only the
// replica identity columns (the others are sent as nulls). An unchanged
// TOASTed value is taken from old when the old row has it, else left out.
// keyChanged reports whether an update moved the row to another primary
// key: PostgreSQL sends the old key alone ('K') only then; with REPLICA
// IDENTITY FULL ('O', every column flagged as key) the primary key columns
// are compared.
func keyChanged(pk []string, oldType uint8, before, after map[string]any) bool {
	if before == nil {
		return false
	}
	if oldType == pglogrepl.UpdateMessageTupleTypeKey {
		return true
	}
	for _, c := range pk {
		if fmt.Sprint(before[c]) != fmt.Sprint(after[c]) {
			return true
		}
	}
	return false
}

// tupleKey is the primary key of a tuple as text, as the snapshot reads it.
func tupleKey(rel *pglogrepl.RelationMessage, t *pglogrepl.TupleData, pk []string) []string {
	if rel == nil || t == nil {
		return nil
	}
	key := make([]string, 0, len(pk))
	for _, name := range pk {
		for i, c := range rel.Columns {
			if c.Name == name && i < len(t.Columns) {
				key = append(key, string(t.Columns[i].Data))
				break
			}
		}
	}
	return key
}

func tupleRow(rel *pglogrepl.RelationMessage, t *pglogrepl.TupleData, keyOnly bool, old map[string]any) map[string]any {
	if rel == nil || t == nil {
		return nil
	}
	row := make(map[string]any, len(t.Columns))
	for i, col := range t.Columns {
		if i >= len(rel.Columns) {
			break
		}
		c := rel.Columns[i]
		if keyOnly && c.Flags&1 == 0 {
			continue
		}
		switch col.DataType {
		case pglogrepl.TupleDataTypeNull:
			row[c.Name] = nil
		case pglogrepl.TupleDataTypeToast:
			if v, ok := old[c.Name]; ok {
				row[c.Name] = v
			}
		case pglogrepl.TupleDataTypeText:
			row[c.Name] = pgvalue.Decode(c.DataType, col.Data)
		}
	}
	return row
}
