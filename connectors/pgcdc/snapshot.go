package pgcdc

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/internal/pgvalue"
)

// The initial snapshot reads each table in primary-key order. The first
// pass runs inside the snapshot the slot exported, so the stream that
// follows starts exactly where it ends. When that pass is interrupted (a
// crash, a takeover by another instance) the exported snapshot is gone;
// the slot is not, and it still holds the WAL from the consistent point.
// The rows after the last acknowledged key are then read in chunks, each
// in a short REPEATABLE READ transaction whose snapshot is noted, and the
// stream starts at the consistent point as before. A change in that stream
// that a chunk already showed (its transaction is visible in the chunk's
// snapshot and the row's key was in the chunk) is dropped, so no row goes
// back to an older version — the watermark idea of Debezium's incremental
// snapshots, with PostgreSQL's own snapshot as the watermark and no write
// to the source database.

// tableAt is the inspected table of the configured table i.
func (s *Source) tableAt(i int) *tableInfo {
	schema, name := splitTable(s.cfg.Tables[i].Table)
	if t := s.tables[schema+"."+name]; t != nil {
		return t
	}
	return &tableInfo{}
}

// snapshotQuery selects the row version's xmin and the key as text, then
// the row, after the given key, in key order.
func snapshotQuery(info *tableInfo, after []string, limit int) (string, []any) {
	// The table is aliased and every reference qualified: the extra
	// columns would otherwise make ORDER BY on a key column ambiguous.
	var sb strings.Builder
	sb.WriteString(`SELECT lgsp_t.xmin::text::bigint AS "lgsp$xmin"`)
	cols := make([]string, len(info.pk))
	for i, c := range info.pk {
		cols[i] = "lgsp_t." + pgx.Identifier{c}.Sanitize()
		fmt.Fprintf(&sb, `, %s::text AS "lgsp$k%d"`, cols[i], i)
	}
	sb.WriteString(", lgsp_t.* FROM " + info.qualified + " AS lgsp_t")
	var args []any
	if after != nil {
		ph := make([]string, len(after))
		for i, v := range after {
			args = append(args, v)
			ph[i] = "$" + strconv.Itoa(i+1)
		}
		fmt.Fprintf(&sb, " WHERE (%s) > (%s)", strings.Join(cols, ", "), strings.Join(ph, ", "))
	}
	sb.WriteString(" ORDER BY " + strings.Join(cols, ", "))
	if limit > 0 {
		fmt.Fprintf(&sb, " LIMIT %d", limit)
	}
	return sb.String(), args
}

// snapBatch is one batch of the snapshot, read ahead.
type snapBatch struct {
	recs []connectors.Record
	err  error
	done bool // the snapshot is over and streaming has started
}

// startAhead starts the goroutine that reads the snapshot one batch ahead
// of Read: the query and the decoding of the next batch then overlap the
// pipeline's work on the current one instead of leaving it idle (they were
// a quarter of the snapshot's wall time). It stops after the snapshot's
// last batch, at the first error (which Read returns; the next Read starts
// another), or when Close cancels it.
func (s *Source) startAhead() {
	ctx, cancel := context.WithCancel(context.Background())
	ahead, done := make(chan snapBatch, 1), make(chan struct{})
	if s.stopAhead != nil {
		s.stopAhead() // the previous one stopped at its error: release its context
	}
	s.ahead, s.stopAhead, s.aheadDone = ahead, cancel, done
	go func() {
		defer close(done)
		for {
			recs, err := s.readSnapshot(ctx)
			b := snapBatch{recs: recs, err: err, done: err == nil && !s.snap.active}
			select {
			case ahead <- b:
			case <-ctx.Done():
				return
			}
			if b.err != nil || b.done {
				return
			}
		}
	}()
}

// readSnapshot reads the next batch of the snapshot. The last record read
// is held back until the next one is known, so that the final record of
// the snapshot can carry the done flag.
func (s *Source) readSnapshot(ctx context.Context) ([]connectors.Record, error) {
	var out []connectors.Record
	emit := func(r connectors.Record) {
		if s.snap.held != nil {
			out = append(out, *s.snap.held)
		}
		s.snap.held = &r
	}
	for s.snap.table < len(s.cfg.Tables) && len(out) < s.cfg.BatchSize {
		t := s.cfg.Tables[s.snap.table]
		info := s.tableAt(s.snap.table)
		s.snapTbl.Store(t.Table)
		n := s.cfg.BatchSize - len(out)
		var rows pgx.Rows
		var err error
		var chunk int
		if s.snap.resumed {
			chunk, rows, err = s.beginChunk(ctx, info, n)
		} else {
			if !s.snap.cursorOpen {
				q, args := snapshotQuery(info, s.snap.after, 0)
				if _, err := s.conn.Exec(ctx, "DECLARE lgsp_snapshot NO SCROLL CURSOR FOR "+q, args...); err != nil {
					return nil, classify(fmt.Errorf("pgcdc: snapshot %s: %w", t.Table, err))
				}
				s.snap.cursorOpen = true
			}
			rows, err = s.conn.Query(ctx, fmt.Sprintf("FETCH %d FROM lgsp_snapshot", n))
		}
		if err != nil {
			return nil, classify(fmt.Errorf("pgcdc: snapshot %s: %w", t.Table, err))
		}
		fds := rows.FieldDescriptions()
		extra := 1 + len(info.pk)
		names := make([]string, len(fds)-extra)
		for i := range names {
			names[i] = fds[extra+i].Name
		}
		plan := newRowPlan(info.mapping, names)
		// Every row of the batch has the same metadata: one map, read-only.
		meta := info.meta(s.snap.consistent)
		got := 0
		for rows.Next() {
			raw := rows.RawValues()
			xmin, _ := strconv.ParseUint(string(raw[0]), 10, 64)
			key := make([]string, len(info.pk))
			for i := range key {
				key[i] = string(raw[1+i])
			}
			row := plan.newRow()
			for i := range names {
				if plan.wants(i) {
					plan.set(row, i, pgvalue.Decode(fds[extra+i].DataTypeOID, raw[extra+i]))
				}
			}
			got++
			s.snap.row++
			s.snap.after = key
			if s.snap.resumed {
				s.seen.add(info, key, chunk)
			}
			emit(connectors.Record{Dataset: info.mapping.Dataset, Op: connectors.OpRead, After: plan.record(info.mapping, row), Metadata: meta,
				Position: position{snapshot: true, keyed: true, consistent: s.snap.consistent, table: uint16(s.snap.table), xmin: xmin, key: key}.encode()})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, classify(fmt.Errorf("pgcdc: snapshot %s: %w", t.Table, err))
		}
		s.snapRows.Store(s.snap.row)
		if s.snap.resumed {
			if _, err := s.conn.Exec(ctx, "COMMIT"); err != nil {
				return nil, classify(fmt.Errorf("pgcdc: snapshot %s: %w", t.Table, err))
			}
		}
		if got < n {
			if s.snap.cursorOpen {
				if _, err := s.conn.Exec(ctx, "CLOSE lgsp_snapshot"); err != nil {
					return nil, classify(fmt.Errorf("pgcdc: snapshot %s: %w", t.Table, err))
				}
				s.snap.cursorOpen = false
			}
			s.snap.table++
			s.snap.after = nil
		}
	}
	if s.snap.table < len(s.cfg.Tables) {
		return out, nil
	}
	// Snapshot complete: the held record closes it.
	if s.snap.held != nil {
		last := *s.snap.held
		p, _ := decodePosition(last.Position)
		p.done = true
		last.Position = p.encode()
		out = append(out, last)
		s.snap.held = nil
	}
	if s.snap.resumed {
		// Every transaction a chunk saw committed before now: changes
		// committed at or after this LSN need no filtering.
		var lsn string
		if err := s.conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
			return nil, classify(fmt.Errorf("pgcdc: end snapshot: %w", err))
		}
		until, err := pglogrepl.ParseLSN(lsn)
		if err != nil {
			return nil, fmt.Errorf("pgcdc: end snapshot: %w", err)
		}
		s.seen.until = until
	} else if _, err := s.conn.Exec(ctx, "COMMIT"); err != nil {
		return nil, classify(fmt.Errorf("pgcdc: end snapshot: %w", err))
	}
	s.snap.active = false
	s.snapDone.Store(true)
	s.snapTbl.Store("")
	s.log.Info("initial snapshot done; streaming changes", "rows", s.snap.row, "slot", s.slot, "resumed", s.snap.resumed)
	if err := s.startStreaming(ctx, s.snap.consistent); err != nil {
		return nil, err
	}
	return out, nil
}

// beginChunk opens a REPEATABLE READ transaction, notes its snapshot and
// queries the next n rows after the last key read. The caller commits.
func (s *Source) beginChunk(ctx context.Context, info *tableInfo, n int) (int, pgx.Rows, error) {
	if _, err := s.conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return 0, nil, err
	}
	var text string
	if err := s.conn.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		return 0, nil, err
	}
	snap, err := parseSnapshot(text)
	if err != nil {
		return 0, nil, err
	}
	s.seen.snaps = append(s.seen.snaps, snap)
	q, args := snapshotQuery(info, s.snap.after, n)
	rows, err := s.conn.Query(ctx, q, args...)
	return len(s.seen.snaps) - 1, rows, err
}

// pgSnapshot is a transaction snapshot (pg_current_snapshot): which
// transactions it sees. Transaction ids are compared modulo 2^32, as
// pgoutput sends them.
type pgSnapshot struct {
	xmin, xmax uint32
	xip        map[uint32]bool
}

func parseSnapshot(text string) (pgSnapshot, error) {
	parts := strings.Split(text, ":")
	if len(parts) != 3 {
		return pgSnapshot{}, fmt.Errorf("pgcdc: snapshot %q: want xmin:xmax:xip", text)
	}
	num := func(s string) (uint32, error) {
		v, err := strconv.ParseUint(s, 10, 64)
		return uint32(v), err
	}
	var snap pgSnapshot
	var err error
	if snap.xmin, err = num(parts[0]); err != nil {
		return snap, fmt.Errorf("pgcdc: snapshot %q: %w", text, err)
	}
	if snap.xmax, err = num(parts[1]); err != nil {
		return snap, fmt.Errorf("pgcdc: snapshot %q: %w", text, err)
	}
	snap.xip = map[uint32]bool{}
	for _, x := range strings.Split(parts[2], ",") {
		if x == "" {
			continue
		}
		v, err := num(x)
		if err != nil {
			return snap, fmt.Errorf("pgcdc: snapshot %q: %w", text, err)
		}
		snap.xip[v] = true
	}
	return snap, nil
}

// precedes is transaction id order with wraparound.
func precedes(a, b uint32) bool { return int32(a-b) < 0 }

// sees reports whether the snapshot sees the committed transaction xid.
func (p pgSnapshot) sees(xid uint32) bool {
	return precedes(xid, p.xmin) || precedes(xid, p.xmax) && !p.xip[xid]
}

// chunkFilter remembers, for the rows of resumed snapshot chunks, the
// snapshot each was read in.
type chunkFilter struct {
	keys  map[string]int // table NUL key text → chunk
	snaps []pgSnapshot
	until pglogrepl.LSN // transactions committed from here on were seen by no chunk
}

func filterKey(info *tableInfo, key []string) string {
	return info.schema + "." + info.name + "\x00" + strings.Join(key, "\x00")
}

func (f *chunkFilter) add(info *tableInfo, key []string, chunk int) {
	f.keys[filterKey(info, key)] = chunk
}

// shown reports whether a change by transaction xid to the row with this
// key is already in what a chunk read.
func (f *chunkFilter) shown(info *tableInfo, key []string, xid uint32) bool {
	if f == nil {
		return false
	}
	c, ok := f.keys[filterKey(info, key)]
	return ok && f.snaps[c].sees(xid)
}
