// Package pgcdc captures changes from PostgreSQL through logical
// replication (the pgoutput plugin, read with github.com/jackc/pglogrepl).
//
// On its first start the connector creates its publication and replication
// slot; the slot exports a snapshot, and the rows already in the tables are
// read inside that snapshot (op "r"), so that the stream that follows starts
// exactly where the snapshot ends. Then inserts, updates and deletes stream
// as ops c, u and d, with the row before the change when the table's
// REPLICA IDENTITY provides it (FULL: the whole row; DEFAULT: the key).
// The snapshot reads each table in primary-key order and resumes after the
// last acknowledged key when it is interrupted (snapshot.go).
//
// A position is an LSN (see position.go). The server is told a position is
// flushed only after the bus acknowledged it (Ack): the slot then releases
// the WAL before it. Standby status heartbeats are sent while the connector
// is idle; when everything read has been acknowledged they also move the
// slot past WAL that carried no change for the bus, so an idle slot does
// not pin WAL. OnDelete drops the slot.
//
// Every captured table needs a primary key: it keys the records, so all
// changes of one row stay in order. A table without one, or with REPLICA
// IDENTITY NOTHING (deletes would carry no key), is refused with an error
// that says how to fix it.
//
// pgoutput sends a transaction once it committed; its records are handed
// out in parts of batch_size as they arrive (pump.go), so a large
// transaction is never held in memory whole. The snapshot is read one
// batch ahead of Read, so the query overlaps the pipeline's work.
package pgcdc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/internal/pgvalue"
)

// AdapterName is the name the adapter registers under.
const AdapterName = "postgres-cdc"

func init() {
	connectors.Register(connectors.Typed(AdapterName, "PostgreSQL change data capture through logical replication (pgoutput): snapshot, then inserts, updates, deletes", DefaultConfig, New))
}

// Source is a PostgreSQL CDC source.
type Source struct {
	name string
	log  *slog.Logger
	cfg  Config
	slot string
	pub  string

	conn   *pgx.Conn             // queries, snapshot
	repl   *pgconn.PgConn        // replication protocol, owned by the pump once streaming
	tables map[string]*tableInfo // by schema.table

	// snapshot state, used by Read only
	snap struct {
		active     bool
		consistent pglogrepl.LSN
		table      int
		cursorOpen bool
		resumed    bool     // read chunk by chunk, each in its own snapshot (the exported one is gone)
		after      []string // the last key read of the current table, as text; nil: from its start
		row        uint64
		held       *connectors.Record
	}
	// seen drops the stream's changes that resumed snapshot chunks already
	// showed; set before the pump starts, then owned by it.
	seen *chunkFilter
	// The snapshot is read ahead by a goroutine (prefetch) that owns the
	// snap state and the query connection until it ends; Read takes its
	// batches from ahead.
	snapping  bool // Read has not seen the snapshot's end yet (Read's own)
	ahead     chan snapBatch
	stopAhead context.CancelFunc
	aheadDone chan struct{}
	snapRows  atomic.Uint64
	snapDone  atomic.Bool
	snapTbl   atomic.Value // string

	// streaming
	startLSN  pglogrepl.LSN
	resume    *position // skip records up to this one
	txs       chan []connectors.Record
	pumpErr   chan error
	stopPump  context.CancelFunc
	pumpDone  chan struct{}
	acked     atomic.Uint64 // flush LSN of the last acknowledged position
	pumped    atomic.Uint64 // flush LSN of the last record handed to the channel
	beat      chan struct{}
	closeOnce sync.Once
}

var (
	_ connectors.Source           = (*Source)(nil)
	_ connectors.Snapshotter      = (*Source)(nil)
	_ connectors.LifecycleHooks   = (*Source)(nil)
	_ connectors.Heartbeater      = (*Source)(nil)
	_ connectors.ConnectionTester = (*Source)(nil)
)

// New builds a source from a config; it connects in Open.
func New(env connectors.Env, cfg Config) (*Source, error) {
	if err := connectors.CheckConfig(&cfg); err != nil {
		return nil, fmt.Errorf("pgcdc: %w", err)
	}
	s := &Source{name: env.Name, log: env.Log(), cfg: cfg, slot: cfg.Slot, pub: cfg.Publication, beat: make(chan struct{}, 1)}
	if s.slot == "" {
		s.slot = defaultName(env.Name)
	}
	if s.pub == "" {
		s.pub = defaultName(env.Name)
	}
	s.snapTbl.Store("")
	return s, nil
}

// SlotName is the replication slot the source uses.
func (s *Source) SlotName() string { return s.slot }

// PublicationName is the publication the source uses.
func (s *Source) PublicationName() string { return s.pub }

type tableInfo struct {
	qualified string // schema.table, quoted for SQL
	schema    string
	name      string
	pk        []string
	mapping   connectors.ColumnMapping
}

// meta is a new Metadata map naming the table and the LSN. The records of
// one batch (snapshot) or one transaction (stream) share it: nothing
// downstream writes to a record's Metadata.
func (t *tableInfo) meta(lsn pglogrepl.LSN) map[string]string {
	return map[string]string{connectors.MetaTable: t.schema + "." + t.name, connectors.MetaLSN: lsn.String()}
}

// connect opens the query connection; a refused connection is temporary.
func (s *Source) connect(ctx context.Context) (*pgx.Conn, error) {
	cc, err := pgx.ParseConfig(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pgcdc: url: %w: %w", connectors.ErrConfig, err)
	}
	for k, v := range pgvalue.RuntimeParams {
		cc.RuntimeParams[k] = v
	}
	cc.RuntimeParams["application_name"] = "lgsp-" + s.name
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, classify(fmt.Errorf("pgcdc: connect: %w", err))
	}
	return conn, nil
}

func (s *Source) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	pc, err := pgconn.ParseConfig(s.cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("pgcdc: url: %w: %w", connectors.ErrConfig, err)
	}
	for k, v := range pgvalue.RuntimeParams {
		pc.RuntimeParams[k] = v
	}
	pc.RuntimeParams["replication"] = "database"
	pc.RuntimeParams["application_name"] = "lgsp-" + s.name
	conn, err := pgconn.ConnectConfig(ctx, pc)
	if err != nil {
		return nil, classify(fmt.Errorf("pgcdc: replication connect: %w", err))
	}
	return conn, nil
}

// classify marks connection-level failures as temporary (the database is
// restarting or unreachable: retry); SQL errors stay permanent (fix the
// config or the database).
func classify(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), strings.HasPrefix(pgErr.Code, "53"),
			strings.HasPrefix(pgErr.Code, "57"), pgErr.Code == "55006": // connection, resources, shutdown, slot still in use
			return connectors.Backoff(err)
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return connectors.Backoff(err)
}

const tableInfoSQL = `
SELECT c.relreplident::text,
  coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord)
     FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND i.indisprimary), '{}'),
  coalesce((SELECT array_agg(a.attname::text)
     FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) AS k(attnum)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND i.indisreplident), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`

// inspect checks every configured table and reports all problems at once.
func (s *Source) inspect(ctx context.Context, conn *pgx.Conn) error {
	s.tables = map[string]*tableInfo{}
	var errs []error
	for _, t := range s.cfg.Tables {
		schema, name := splitTable(t.Table)
		var ident string
		var pk, ri []string
		err := conn.QueryRow(ctx, tableInfoSQL, schema, name).Scan(&ident, &pk, &ri)
		if errors.Is(err, pgx.ErrNoRows) {
			errs = append(errs, fmt.Errorf("table %s.%s does not exist (or the role cannot see it): fix tables[].table or grant access", schema, name))
			continue
		}
		if err != nil {
			return classify(fmt.Errorf("pgcdc: inspect %s.%s: %w", schema, name, err))
		}
		switch {
		case len(pk) == 0:
			errs = append(errs, fmt.Errorf("table %s.%s has no primary key: its changes cannot be keyed; add one (ALTER TABLE %s.%s ADD PRIMARY KEY (...))", schema, name, schema, name))
		case ident == "n":
			errs = append(errs, fmt.Errorf("table %s.%s has REPLICA IDENTITY NOTHING: updates and deletes carry no key; run ALTER TABLE %s.%s REPLICA IDENTITY DEFAULT (or FULL for the whole old row)", schema, name, schema, name))
		case ident == "i" && !covers(ri, pk):
			errs = append(errs, fmt.Errorf("table %s.%s: its REPLICA IDENTITY index (%s) does not contain the primary key (%s), so deletes cannot be keyed; run ALTER TABLE %s.%s REPLICA IDENTITY DEFAULT", schema, name, strings.Join(ri, ", "), strings.Join(pk, ", "), schema, name))
		}
		s.tables[schema+"."+name] = &tableInfo{qualified: pgx.Identifier{schema, name}.Sanitize(), schema: schema, name: name, pk: pk, mapping: t.ColumnMapping}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pgcdc: %w: %w", connectors.ErrConfig, errors.Join(errs...))
	}
	return nil
}

func covers(index, pk []string) bool {
	have := map[string]bool{}
	for _, c := range index {
		have[c] = true
	}
	for _, c := range pk {
		if !have[c] {
			return false
		}
	}
	return true
}

// ensurePublication creates the publication or sets its tables.
func (s *Source) ensurePublication(ctx context.Context, conn *pgx.Conn) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)`, s.pub).Scan(&exists); err != nil {
		return classify(fmt.Errorf("pgcdc: check publication: %w", err))
	}
	if !s.cfg.CreatePublication {
		if !exists {
			return fmt.Errorf("pgcdc: %w: publication %s does not exist: create it (CREATE PUBLICATION %s FOR TABLE ...) or set create_publication: true", connectors.ErrConfig, s.pub, s.pub)
		}
		return nil
	}
	var list []string
	for _, t := range s.cfg.Tables {
		schema, name := splitTable(t.Table)
		list = append(list, pgx.Identifier{schema, name}.Sanitize())
	}
	verb := "CREATE PUBLICATION %s FOR TABLE %s"
	if exists {
		verb = "ALTER PUBLICATION %s SET TABLE %s"
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(verb, pgx.Identifier{s.pub}.Sanitize(), strings.Join(list, ", "))); err != nil {
		return fmt.Errorf("pgcdc: publication %s: %w (the role must own the tables, or a DBA creates the publication and create_publication is false)", s.pub, err)
	}
	return nil
}

// slotState returns whether the slot exists and its confirmed flush LSN.
func (s *Source) slotState(ctx context.Context, conn *pgx.Conn) (bool, pglogrepl.LSN, error) {
	var lsn *string
	err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1`, s.slot).Scan(&lsn)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, nil
	}
	if err != nil {
		return false, 0, classify(fmt.Errorf("pgcdc: slot state: %w", err))
	}
	if lsn == nil {
		return true, 0, nil
	}
	l, err := pglogrepl.ParseLSN(*lsn)
	return true, l, err
}

func (s *Source) dropSlot(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, s.slot)
	if err != nil {
		return classify(fmt.Errorf("pgcdc: drop slot %s: %w", s.slot, err))
	}
	return nil
}

// Open connects, checks the tables, makes the publication and slot as
// needed and starts at pos: nil (or an unfinished snapshot) takes a new
// snapshot when the config asks for one.
func (s *Source) Open(ctx context.Context, pos connectors.Position) error {
	var p *position
	if pos != nil {
		dp, err := decodePosition(pos)
		if err != nil {
			return fmt.Errorf("%w (%w)", err, connectors.ErrConfig)
		}
		p = &dp
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	s.conn = conn
	if err := s.inspect(ctx, conn); err != nil {
		return err
	}
	if err := s.ensurePublication(ctx, conn); err != nil {
		return err
	}
	exists, confirmed, err := s.slotState(ctx, conn)
	if err != nil {
		return err
	}
	repl, err := s.connectReplication(ctx)
	if err != nil {
		return err
	}
	s.repl = repl

	needSnapshot := s.cfg.Snapshot == "initial" && (p == nil || p.snapshot && !p.done)
	resumable := needSnapshot && p != nil && p.keyed && exists && int(p.table) < len(s.cfg.Tables) && len(p.key) == len(s.tableAt(int(p.table)).pk) &&
		(confirmed == 0 || confirmed <= p.consistent)
	switch {
	case resumable:
		// The slot has not moved since the snapshot began, so the WAL
		// from its consistent point is still there: read the rows after
		// the last acknowledged key, then stream from the consistent point.
		s.log.Info("resuming the initial snapshot where it was acknowledged", "slot", s.slot, "consistent_lsn", p.consistent.String(),
			"table", s.cfg.Tables[p.table].Table)
		s.snap.active, s.snap.consistent, s.snap.resumed = true, p.consistent, true
		s.snapping = true
		s.snap.table, s.snap.after = int(p.table), p.key
		s.seen = &chunkFilter{keys: map[string]int{}}
		s.snapTbl.Store(s.cfg.Tables[p.table].Table)
		s.acked.Store(uint64(p.consistent))
		s.pumped.Store(uint64(p.consistent))
		return nil
	case needSnapshot:
		if exists {
			if err := s.dropSlot(ctx, conn); err != nil {
				return err
			}
		}
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "EXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
		if err != nil {
			return classify(fmt.Errorf("pgcdc: create slot %s: %w", s.slot, err))
		}
		lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
		if err != nil {
			return fmt.Errorf("pgcdc: slot consistent point %q: %w", res.ConsistentPoint, err)
		}
		if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return classify(fmt.Errorf("pgcdc: begin snapshot: %w", err))
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("SET TRANSACTION SNAPSHOT '%s'", res.SnapshotName)); err != nil {
			return classify(fmt.Errorf("pgcdc: import snapshot: %w", err))
		}
		s.log.Info("replication slot created; taking the initial snapshot", "slot", s.slot, "consistent_lsn", lsn.String())
		s.snap.active, s.snap.consistent = true, lsn
		s.snapping = true
		s.snapTbl.Store(s.cfg.Tables[0].Table)
		s.acked.Store(uint64(lsn))
		s.pumped.Store(uint64(lsn))
		return nil
	case !exists && p != nil:
		return fmt.Errorf("pgcdc: %w: replication slot %s is gone, so the changes after position %s are lost: reset the connector's position to take a new snapshot", connectors.ErrConfig, s.slot, p)
	case !exists:
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{SnapshotAction: "NOEXPORT_SNAPSHOT", Mode: pglogrepl.LogicalReplication})
		if err != nil {
			return classify(fmt.Errorf("pgcdc: create slot %s: %w", s.slot, err))
		}
		if confirmed, err = pglogrepl.ParseLSN(res.ConsistentPoint); err != nil {
			return fmt.Errorf("pgcdc: slot consistent point %q: %w", res.ConsistentPoint, err)
		}
		s.log.Info("replication slot created; streaming changes from now on (snapshot: never)", "slot", s.slot, "lsn", confirmed.String())
	}
	s.snapDone.Store(true)
	start := confirmed
	if p != nil {
		if f := p.flushLSN(); f > start {
			start = f
		}
		if !p.snapshot {
			s.resume = p
		}
	}
	return s.startStreaming(ctx, start)
}

// startStreaming starts replication at lsn and the pump that reads it.
func (s *Source) startStreaming(ctx context.Context, lsn pglogrepl.LSN) error {
	if lsn == 0 {
		return fmt.Errorf("pgcdc: no start position for slot %s (the slot has no confirmed position yet): retry", s.slot)
	}
	err := pglogrepl.StartReplication(ctx, s.repl, s.slot, lsn, pglogrepl.StartReplicationOptions{
		Mode:       pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", s.pub)},
	})
	if err != nil {
		return classify(fmt.Errorf("pgcdc: start replication on slot %s at %s: %w", s.slot, lsn, err))
	}
	s.startLSN = lsn
	if uint64(lsn) > s.acked.Load() {
		s.acked.Store(uint64(lsn))
	}
	s.pumped.Store(s.acked.Load())
	s.txs = make(chan []connectors.Record, 4)
	s.pumpErr = make(chan error, 1)
	s.pumpDone = make(chan struct{})
	pctx, cancel := context.WithCancel(context.Background())
	s.stopPump = cancel
	go func() {
		defer close(s.pumpDone)
		s.pumpErr <- s.pump(pctx)
	}()
	return nil
}

// Read returns snapshot rows first, then committed changes.
func (s *Source) Read(ctx context.Context) ([]connectors.Record, error) {
	if s.snapping {
		if s.ahead == nil {
			s.startAhead()
		}
		select {
		case b := <-s.ahead:
			if b.err != nil {
				s.ahead = nil // the goroutine stopped; the next Read starts another (a retry, as before)
				return nil, b.err
			}
			if !b.done || len(b.recs) > 0 {
				s.snapping = !b.done
				return b.recs, nil
			}
			s.snapping = false
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	var out []connectors.Record
	select {
	case tx := <-s.txs:
		out = tx // Read owns it; appending to it never writes into the pump's memory
	case err := <-s.pumpErr:
		s.pumpErr <- err
		if err == nil {
			err = errors.New("replication stopped")
		}
		// Not a back-off: the stream is gone, so the runtime must close
		// this source and open a new one at the acknowledged position
		// (retrying Read on a dead stream would never recover).
		return nil, fmt.Errorf("pgcdc: replication stream lost; reopen at the acknowledged position: %s", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(out) < s.cfg.BatchSize {
		select {
		case tx := <-s.txs:
			out = append(out, tx...)
			continue
		default:
		}
		break
	}
	return out, nil
}

// Ack records that every record up to pos is durable; the pump reports it
// to the server with its next status update (within a second).
func (s *Source) Ack(_ context.Context, pos connectors.Position) error {
	p, err := decodePosition(pos)
	if err != nil {
		return err
	}
	f := uint64(p.flushLSN())
	for {
		cur := s.acked.Load()
		if f <= cur || s.acked.CompareAndSwap(cur, f) {
			break
		}
	}
	select {
	case s.beat <- struct{}{}:
	default:
	}
	return nil
}

// Heartbeat asks the pump to send a standby status update now.
func (s *Source) Heartbeat(context.Context) error {
	select {
	case s.beat <- struct{}{}:
	default:
	}
	return nil
}

// SnapshotStatus reports the initial snapshot's progress.
func (s *Source) SnapshotStatus() connectors.SnapshotStatus {
	done := s.snapDone.Load()
	return connectors.SnapshotStatus{Running: !done && s.snapTbl.Load().(string) != "", Done: done, Rows: s.snapRows.Load(), Table: s.snapTbl.Load().(string)}
}

// Close stops streaming, reports the acknowledged position one last time
// and closes the connections. The slot stays (OnDelete drops it).
func (s *Source) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		if s.stopAhead != nil {
			s.stopAhead()
			<-s.aheadDone
		}
		if s.stopPump != nil {
			s.stopPump()
			<-s.pumpDone
		}
		if s.repl != nil {
			if s.stopPump != nil && !s.repl.IsClosed() {
				_ = s.sendStatus(0, false)
			}
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.repl.Close(cctx)
			cancel()
		}
		if s.conn != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.conn.Close(cctx)
			cancel()
		}
	})
	return nil
}
