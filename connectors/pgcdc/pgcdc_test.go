package pgcdc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/connectors/sdktest"
)

// fixture is one test's table, slot and publication, all uniquely named
// and removed when the test ends.
type fixture struct {
	url, table, slot string
	conn             *pgx.Conn
}

func newFixture(t *testing.T, ddl string) *fixture {
	t.Helper()
	f := &fixture{url: pgtest.URL(t), table: pgtest.Name("cdc_t"), slot: pgtest.Name("cdc_slot")}
	f.conn = pgtest.Conn(t)
	pgtest.Exec(t, f.conn, fmt.Sprintf(ddl, f.table))
	t.Cleanup(func() {
		ctx := context.Background()
		src, err := New(connectors.Env{Name: "cleanup"}, f.config())
		if err == nil {
			for i := 0; i < 50; i++ {
				if err = src.OnDelete(ctx); err == nil || !errors.Is(err, connectors.ErrBackoff) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				t.Errorf("OnDelete: %v", err)
			}
		}
		f.conn.Exec(ctx, "DROP TABLE IF EXISTS "+f.table)
	})
	return f
}

func (f *fixture) config() Config {
	c := DefaultConfig()
	c.URL, c.Slot, c.Publication = f.url, f.slot, f.slot
	c.HeartbeatInterval = 200 * time.Millisecond
	c.Tables = []Table{{Table: f.table, ColumnMapping: connectors.ColumnMapping{Dataset: "test.item", Columns: map[string]string{"id": "key", "version": "version", "note": "note"}}}}
	return c
}

func (f *fixture) source(t testing.TB) *Source {
	t.Helper()
	s, err := New(connectors.Env{Name: "test"}, f.config())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) slotFlushed(t testing.TB) pglogrepl.LSN {
	t.Helper()
	var lsn string
	if err := f.conn.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name=$1", f.slot).Scan(&lsn); err != nil {
		t.Fatalf("slot %s: %v", f.slot, err)
	}
	l, err := pglogrepl.ParseLSN(lsn)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const itemDDL = `CREATE TABLE %s (id text PRIMARY KEY, version int NOT NULL, note text)`

func TestAcceptance(t *testing.T) {
	f := newFixture(t, itemDDL)
	sdktest.Run(t, sdktest.Harness{
		NewSource: func(t testing.TB) connectors.Source { return f.source(t) },
		Write: func(t testing.TB, cs []sdktest.Change) {
			for _, c := range cs {
				pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s (id, version) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET version = excluded.version`, f.table), c.Key, c.Version)
			}
		},
		Identify:   identify,
		NoBadInput: true, // PostgreSQL types every value
	})
}

func identify(r connectors.Record) (string, int, bool) {
	row := r.Row()
	k, ok1 := row["key"].(string)
	v, ok2 := row["version"].(int64)
	return k, int(v), ok1 && ok2
}

// readN reads until n records arrived.
func readN(t *testing.T, s *Source, n int) []connectors.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out []connectors.Record
	for len(out) < n {
		recs, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("Read after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, recs...)
	}
	if len(out) != n {
		for _, r := range out {
			t.Logf("%s before=%v after=%v", r.Op, r.Before, r.After)
		}
		t.Fatalf("read %d records, want %d", len(out), n)
	}
	return out
}

func TestSnapshotThenStream(t *testing.T) {
	f := newFixture(t, itemDDL)
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s SELECT 'r'||i, 1, 'seed' FROM generate_series(1, 2500) i`, f.table))
	s := f.source(t)
	ctx := t.Context()
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	snap := readN(t, s, 2500)
	for i, r := range snap {
		if r.Op != connectors.OpRead || r.Dataset != "test.item" || r.After["note"] != "seed" {
			t.Fatalf("snapshot record %d: %+v", i, r)
		}
	}
	last, _ := decodePosition(snap[len(snap)-1].Position)
	if !last.snapshot || !last.done {
		t.Fatalf("last snapshot record's position %v: want done", last)
	}
	if st := s.SnapshotStatus(); !st.Done || st.Rows != 2500 {
		t.Errorf("SnapshotStatus = %+v", st)
	}
	// Stream: insert, update, delete, with the default replica identity
	// (the key only before a delete) and FULL (the whole old row).
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s VALUES ('n1', 1, 'new')`, f.table))
	pgtest.Exec(t, f.conn, fmt.Sprintf(`UPDATE %s SET version = 2, note = 'changed' WHERE id = 'n1'`, f.table))
	pgtest.Exec(t, f.conn, fmt.Sprintf(`DELETE FROM %s WHERE id = 'r1'`, f.table))
	pgtest.Exec(t, f.conn, fmt.Sprintf(`ALTER TABLE %s REPLICA IDENTITY FULL`, f.table))
	pgtest.Exec(t, f.conn, fmt.Sprintf(`UPDATE %s SET version = 3 WHERE id = 'n1'`, f.table))
	pgtest.Exec(t, f.conn, fmt.Sprintf(`DELETE FROM %s WHERE id = 'r2'`, f.table))
	// A changed primary key is a delete and a create (FULL, then default).
	pgtest.Exec(t, f.conn, fmt.Sprintf(`UPDATE %s SET id = 'n2' WHERE id = 'n1'`, f.table))
	pgtest.Exec(t, f.conn, fmt.Sprintf(`ALTER TABLE %s REPLICA IDENTITY DEFAULT`, f.table))
	pgtest.Exec(t, f.conn, fmt.Sprintf(`UPDATE %s SET id = 'n3' WHERE id = 'n2'`, f.table))
	got := readN(t, s, 9)
	want := []struct {
		op     connectors.Op
		before map[string]any
		after  map[string]any
	}{
		{connectors.OpCreate, nil, map[string]any{"key": "n1", "version": int64(1), "note": "new"}},
		{connectors.OpUpdate, nil, map[string]any{"key": "n1", "version": int64(2), "note": "changed"}},
		{connectors.OpDelete, map[string]any{"key": "r1"}, nil},
		{connectors.OpUpdate, map[string]any{"key": "n1", "version": int64(2), "note": "changed"}, map[string]any{"key": "n1", "version": int64(3), "note": "changed"}},
		{connectors.OpDelete, map[string]any{"key": "r2", "version": int64(1), "note": "seed"}, nil},
		{connectors.OpDelete, map[string]any{"key": "n1", "version": int64(3), "note": "changed"}, nil},
		{connectors.OpCreate, nil, map[string]any{"key": "n2", "version": int64(3), "note": "changed"}},
		{connectors.OpDelete, map[string]any{"key": "n2"}, nil},
		{connectors.OpCreate, nil, map[string]any{"key": "n3", "version": int64(3), "note": "changed"}},
	}
	for i, w := range want {
		g := got[i]
		if g.Op != w.op || fmt.Sprint(g.Before) != fmt.Sprint(w.before) || fmt.Sprint(g.After) != fmt.Sprint(w.after) {
			t.Errorf("change %d: got %s before=%v after=%v; want %s before=%v after=%v", i, g.Op, g.Before, g.After, w.op, w.before, w.after)
		}
		if g.Time.IsZero() {
			t.Errorf("change %d: no commit time", i)
		}
	}
}

// TestFlushOnlyAcked: the slot's confirmed position moves only to what was
// acknowledged, and restarting from an acknowledged position that the
// server never heard of (the bus crashed between the Kafka ack and the
// source ack) loses nothing and re-reads nothing before it.
func TestFlushOnlyAcked(t *testing.T) {
	f := newFixture(t, itemDDL)
	c := f.config()
	c.Snapshot = "never"
	src := func() *Source {
		s, err := New(connectors.Env{Name: "test"}, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := src().OnCreate(t.Context()); err != nil {
		t.Fatal(err)
	}
	start := f.slotFlushed(t)
	s := src()
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s VALUES ('k%d', 1)`, f.table, i))
	}
	recs := readN(t, s, 6)
	// Heartbeats flow, but nothing is acknowledged: the slot must not move.
	time.Sleep(time.Second)
	if got := f.slotFlushed(t); got != start {
		t.Fatalf("slot confirmed %s before any ack, want it to stay at %s (flush must never default to the write position)", got, start)
	}
	if err := s.Ack(t.Context(), recs[1].Position); err != nil {
		t.Fatal(err)
	}
	p2, _ := decodePosition(recs[1].Position)
	waitFor(t, "slot confirms the acked position", func() bool { return f.slotFlushed(t) == p2.flushLSN() })
	time.Sleep(500 * time.Millisecond)
	if got := f.slotFlushed(t); got != p2.flushLSN() {
		t.Fatalf("slot confirmed %s, want exactly the acked %s", got, p2.flushLSN())
	}
	s.Close(context.Background())

	// The runtime saved recs[3] but crashed before acking it to the source.
	s2 := src()
	if err := s2.Open(t.Context(), recs[3].Position); err != nil {
		t.Fatal(err)
	}
	defer s2.Close(context.Background())
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s VALUES ('k7', 1)`, f.table))
	again := readN(t, s2, 3)
	var keys []string
	for _, r := range again {
		keys = append(keys, r.After["key"].(string))
	}
	if strings.Join(keys, ",") != "k5,k6,k7" {
		t.Fatalf("after restart at k4 read %v, want k5,k6,k7", keys)
	}
}

// TestIdleSlotAdvances: WAL written to tables the connector does not
// capture moves the slot on through heartbeats once all is acknowledged.
func TestIdleSlotAdvances(t *testing.T) {
	f := newFixture(t, itemDDL)
	other := pgtest.Name("cdc_other")
	pgtest.Exec(t, f.conn, fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY)`, other))
	t.Cleanup(func() { f.conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+other) })
	c := f.config()
	c.Snapshot = "never"
	s, err := New(connectors.Env{Name: "test"}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	start := f.slotFlushed(t)
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s SELECT generate_series(1, 1000)`, other))
	var walNow string
	if err := f.conn.QueryRow(t.Context(), `SELECT pg_current_wal_lsn()::text`).Scan(&walNow); err != nil {
		t.Fatal(err)
	}
	target, _ := pglogrepl.ParseLSN(walNow)
	waitFor(t, "idle slot advances past unrelated WAL", func() bool { return f.slotFlushed(t) >= target })
	if f.slotFlushed(t) <= start {
		t.Fatal("slot did not move")
	}
}

func TestSlotDroppedOnDelete(t *testing.T) {
	f := newFixture(t, itemDDL)
	s := f.source(t)
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
	var n int
	f.conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name=$1", f.slot).Scan(&n)
	if n != 1 {
		t.Fatalf("slot count after Open = %d, want 1", n)
	}
	waitFor(t, "OnDelete", func() bool { return f.source(t).OnDelete(t.Context()) == nil })
	f.conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_replication_slots WHERE slot_name=$1", f.slot).Scan(&n)
	if n != 0 {
		t.Fatalf("slot still there after OnDelete")
	}
	f.conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_publication WHERE pubname=$1", f.slot).Scan(&n)
	if n != 0 {
		t.Fatalf("publication still there after OnDelete")
	}
}

func TestTablesWithoutUsableKey(t *testing.T) {
	url := pgtest.URL(t)
	conn := pgtest.Conn(t)
	nopk, nothing := pgtest.Name("cdc_nopk"), pgtest.Name("cdc_nothing")
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (a int)`, nopk))
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (a int PRIMARY KEY); ALTER TABLE %s REPLICA IDENTITY NOTHING`, nothing, nothing))
	t.Cleanup(func() { conn.Exec(context.Background(), fmt.Sprintf("DROP TABLE IF EXISTS %s, %s", nopk, nothing)) })
	c := DefaultConfig()
	c.URL, c.Slot = url, pgtest.Name("cdc_slot")
	c.Tables = []Table{
		{Table: nopk, ColumnMapping: connectors.ColumnMapping{Dataset: "t.a"}},
		{Table: nothing, ColumnMapping: connectors.ColumnMapping{Dataset: "t.b"}},
		{Table: "public.does_not_exist_xyz", ColumnMapping: connectors.ColumnMapping{Dataset: "t.c"}},
	}
	s, err := New(connectors.Env{Name: "test"}, c)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(t.Context(), nil)
	s.Close(context.Background())
	if err == nil || !errors.Is(err, connectors.ErrConfig) {
		t.Fatalf("Open = %v, want a config error", err)
	}
	for _, want := range []string{"has no primary key", "REPLICA IDENTITY NOTHING", "does not exist"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := s.TestConnection(t.Context()); err == nil {
		t.Error("TestConnection passed for unusable tables")
	}
}

func TestConfigValidation(t *testing.T) {
	spec, ok := connectors.Lookup(AdapterName)
	if !ok {
		t.Fatal("not registered")
	}
	_, err := spec.DecodeConfig(map[string]any{"url": "postgres://x@h/db", "snapshot": "sometimes", "batch_size": 0,
		"tables": []any{map[string]any{"table": "a"}, map[string]any{"table": "a", "dataset": "x.y", "colums": map[string]any{}}}})
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"tables[1].colums: unknown field", "tables[0].dataset: required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = spec.DecodeConfig(map[string]any{"url": "postgres://x@h/db", "snapshot": "sometimes", "batch_size": 0,
		"tables": []any{map[string]any{"table": "a", "dataset": "x.y"}, map[string]any{"table": "a", "dataset": "x.y"}}})
	for _, want := range []string{"snapshot \"sometimes\"", "batch_size 0", "public.a listed twice"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	cfg, err := spec.DecodeConfig(map[string]any{"url": "postgres://x@h/db", "heartbeat_interval": "2s",
		"tables": []any{map[string]any{"table": "giay_chung_nhan", "dataset": "land.land_use_right", "columns": map[string]any{"so_giay_chung_nhan": "certificate_no"}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.(*Config)
	if c.HeartbeatInterval != 2*time.Second || c.BatchSize != 1000 || c.Tables[0].Columns["so_giay_chung_nhan"] != "certificate_no" {
		t.Errorf("decoded %+v", c)
	}
	doc := spec.FormatConfigDoc()
	for _, want := range []string{"tables[].dataset", "heartbeat_interval (duration, default 10s, 100ms to 10m)", `snapshot (string, default "initial", initial or never)`, "slot (string, lower-case letters, digits and _ (at most 63))", "tables[].columns"} {
		if !strings.Contains(doc, want) {
			t.Errorf("spec doc lacks %q:\n%s", want, doc)
		}
	}
}

func TestPosition(t *testing.T) {
	for _, p := range []position{
		{snapshot: true, consistent: 42, done: true, row: 7},
		{snapshot: true, consistent: 42, row: 1},
		{snapshot: true, keyed: true, consistent: 42, table: 2, xmin: 991, key: []string{"079090000001", "a|b"}},
		{snapshot: true, keyed: true, consistent: 42, done: true, key: []string{""}},
		{commit: 100, end: 120, index: 3, last: true},
		{commit: 100, end: 120, index: 0},
	} {
		got, err := decodePosition(p.encode())
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("round trip %v = %v, %v", p, got, err)
		}
	}
	if _, err := decodePosition([]byte("junk")); err == nil {
		t.Error("junk position accepted")
	}
	for _, c := range []struct {
		p    position
		want pglogrepl.LSN
	}{
		{position{snapshot: true, consistent: 42}, 0},
		{position{snapshot: true, consistent: 42, done: true}, 42},
		{position{commit: 100, end: 120, last: true}, 120},
		{position{commit: 100, end: 120}, 100},
	} {
		if got := c.p.flushLSN(); got != c.want {
			t.Errorf("%v.flushLSN() = %s, want %s", c.p, got, c.want)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServerDropsConnection: when the server ends the replication
// connection (a restart, an operator), Read fails with an error that is not
// a back-off, so the runtime reopens the source at the acknowledged
// position, and the reopened source loses nothing.
func TestServerDropsConnection(t *testing.T) {
	f := newFixture(t, itemDDL)
	s := f.source(t)
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s VALUES ('a', 1)`, f.table))
	first := readN(t, s, 1)
	if err := s.Ack(t.Context(), first[0].Position); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, f.conn, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1`, f.slot)
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s VALUES ('b', 1)`, f.table))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var err error
	for err == nil {
		_, err = s.Read(ctx)
	}
	s.Close(context.Background())
	if errors.Is(err, connectors.ErrBackoff) || ctx.Err() != nil {
		t.Fatalf("Read after the server dropped the stream = %v; want a non-back-off error", err)
	}
	var s2 *Source
	waitFor(t, "reopen", func() bool {
		s2 = f.source(t)
		if err := s2.Open(t.Context(), first[0].Position); err != nil {
			s2.Close(context.Background())
			return false
		}
		return true
	})
	defer s2.Close(context.Background())
	if got := readN(t, s2, 1); got[0].After["key"] != "b" {
		t.Fatalf("after reopen read %v, want b", got[0].After)
	}
}

// TestSnapshotResumesAfterTakeover: a snapshot interrupted after some rows
// were acknowledged continues after the last acknowledged key instead of
// starting over. Rows read again keep their position (so their ce_id) when
// they did not change and get a new one when they did; changes that the
// resumed read already shows are not streamed again, the others are.
func TestSnapshotResumesAfterTakeover(t *testing.T) {
	f := newFixture(t, itemDDL)
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s SELECT 'r'||lpad(i::text, 3, '0'), 1, 'seed' FROM generate_series(1, 100) i`, f.table))
	cfg := f.config()
	cfg.BatchSize = 10
	open := func(pos connectors.Position) *Source {
		s, err := New(connectors.Env{Name: "test"}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(t.Context(), pos); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := open(nil)
	var read []connectors.Record
	for len(read) < 30 {
		recs, err := first.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, recs...)
	}
	first.Close(context.Background()) // the owner goes away mid-snapshot
	acked := read[19]                 // r020: what the bus had acknowledged
	inFlight := map[string]connectors.Position{}
	for _, r := range read[20:] {
		k, _, _ := identify(r)
		inFlight[k] = r.Position
	}
	if k, _, _ := identify(acked); k != "r020" {
		t.Fatalf("snapshot not in key order: 20th record is %s", k)
	}
	for _, q := range []string{
		`UPDATE %s SET version = 2 WHERE id = 'r005'`,  // acknowledged region: streamed
		`UPDATE %s SET version = 2 WHERE id = 'r025'`,  // re-read region: shown by the resumed read
		`DELETE FROM %s WHERE id = 'r026'`,             // deletes always stream
		`INSERT INTO %s VALUES ('r0255', 1, 'late')`,   // shown by the resumed read
		`INSERT INTO %s VALUES ('r0055', 1, 'before')`, // acknowledged region: streamed
	} {
		pgtest.Exec(t, f.conn, fmt.Sprintf(q, f.table))
	}
	second := open(acked.Position)
	defer second.Close(context.Background())
	rest := readN(t, second, 80)
	var keys []string
	for _, r := range rest {
		k, v, _ := identify(r)
		keys = append(keys, k)
		if r.Op != connectors.OpRead {
			t.Fatalf("record %s: op %s, want the snapshot first", k, r.Op)
		}
		if want := map[string]int{"r025": 2}[k]; want != 0 && v != want {
			t.Errorf("%s version %d, want %d", k, v, want)
		}
		if old, ok := inFlight[k]; ok && k != "r025" && k != "r030" && string(old) != string(r.Position) {
			t.Errorf("%s read again unchanged but its position changed (consumers could not drop the repeat)", k)
		}
	}
	if string(inFlight["r025"]) == string(rest[4].Position) {
		t.Errorf("r025 changed between the reads but kept its position: consumers would drop the new version")
	}
	if strings.Join(keys[:7], ",") != "r021,r022,r023,r024,r025,r0255,r027" {
		t.Errorf("resumed at %v, want after r020 in key order", keys[:7])
	}
	if p, _ := decodePosition(rest[len(rest)-1].Position); !p.done {
		t.Errorf("last snapshot record not marked done: %v", p)
	}
	pgtest.Exec(t, f.conn, fmt.Sprintf(`UPDATE %s SET version = 3 WHERE id = 'r025'`, f.table))
	var got []string
	for _, r := range readN(t, second, 4) {
		k, v, _ := identify(r)
		if r.Op == connectors.OpDelete {
			k, _ = r.Before["key"].(string)
		}
		got = append(got, fmt.Sprintf("%s %s v%d", r.Op, k, v))
	}
	want := "u r005 v2,d r026 v0,c r0055 v1,u r025 v3"
	if strings.Join(got, ",") != want {
		t.Errorf("stream after the resumed snapshot: %v, want %s", got, want)
	}
}

func TestSnapshotVisibility(t *testing.T) {
	for _, c := range []struct {
		snap string
		xid  uint32
		sees bool
	}{
		{"100:105:101,103", 99, true},   // committed before the oldest running
		{"100:105:101,103", 101, false}, // running when the snapshot was taken
		{"100:105:101,103", 102, true},
		{"100:105:101,103", 105, false}, // began after
		{"100:100:", 200, false},
		// 64-bit ids past the first wraparound compare by their low 32 bits.
		{"4294967390:4294967400:", 4294967390 - 4294967296 - 1, true},
		{"4294967390:4294967400:", 4294967400 - 4294967296, false},
		{"4294967290:4294967300:", 4294967295, true}, // wraps inside the window
		{"4294967290:4294967300:", 3, true},          // 2^32+3: committed before xmax
		{"4294967290:4294967300:", 4, false},         // 2^32+4 is xmax
	} {
		snap, err := parseSnapshot(c.snap)
		if err != nil {
			t.Fatal(err)
		}
		if got := snap.sees(c.xid); got != c.sees {
			t.Errorf("%s sees %d = %v, want %v", c.snap, c.xid, got, c.sees)
		}
	}
	for _, bad := range []string{"", "1:2", "a:2:", "1:2:x"} {
		if _, err := parseSnapshot(bad); err == nil {
			t.Errorf("parseSnapshot(%q) accepted", bad)
		}
	}
}

func FuzzDecodePosition(f *testing.F) {
	for _, p := range []position{
		{snapshot: true, keyed: true, consistent: 42, table: 1, xmin: 7, key: []string{"079090000001"}},
		{snapshot: true, consistent: 42, row: 1},
		{commit: 100, end: 120, index: 3, last: true},
	} {
		f.Add([]byte(p.encode()))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePosition(b)
		if err != nil {
			return
		}
		if again, err := decodePosition(p.encode()); err != nil || !reflect.DeepEqual(again, p) {
			t.Fatalf("%x decodes to %v, which does not round-trip: %v %v", b, p, again, err)
		}
	})
}

// The snapshot orders by the primary key whatever its type: a varchar key
// once made ORDER BY ambiguous beside its ::text copy (regression), and a
// key of several columns compares as a row.
func TestSnapshotKeyOfAnyType(t *testing.T) {
	for _, ddl := range []string{
		`CREATE TABLE %s (id varchar(12) PRIMARY KEY, version int NOT NULL, note text)`,
		`CREATE TABLE %s (id varchar(12), version int NOT NULL, note text, PRIMARY KEY (version, id))`,
	} {
		f := newFixture(t, ddl)
		pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s SELECT 'k'||i, i %% 7, 'seed' FROM generate_series(1, 120) i`, f.table))
		cfg := f.config()
		cfg.BatchSize = 25
		s, err := New(connectors.Env{Name: "test"}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(t.Context(), nil); err != nil {
			t.Fatal(err)
		}
		recs := readN(t, s, 120)
		s.Close(context.Background())
		// Resume after the 50th from a new source: the other 70 follow.
		again, err := New(connectors.Env{Name: "test"}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Open(t.Context(), recs[49].Position); err != nil {
			t.Fatal(err)
		}
		rest := readN(t, again, 70)
		again.Close(context.Background())
		for i, r := range rest {
			if string(r.Position) != string(recs[50+i].Position) {
				t.Fatalf("%s: resumed record %d differs from the first read", ddl, i)
			}
		}
	}
}

// TestTypesSnapshotAndStream pins the values a row of every common type
// becomes, read by the snapshot and by the stream (insert and update): the
// two paths must give the same record. A second mapping with a value table
// and a set field takes the general mapping path.
func TestTypesSnapshotAndStream(t *testing.T) {
	const ddl = `CREATE TABLE %s (id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, n numeric(14,2), nn numeric, f8 float8,
		d date, ts timestamp, tz timestamptz, j json, jb jsonb, s text, v varchar(12), c char(3), u uuid, empty text)`
	const values = `(%d, true, -2, 40000, 120.50, 'NaN', 1e-300, '2024-02-10', '2024-02-10 03:04:05', '2024-02-10 10:04:05.123+07',
		'{"a":[1,"x"]}', '{"b":null}', 'Nguyễn Thị Hoà	tab\n"quoted"\\', '001234567890', 'HN', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', NULL)`
	want := func(id int64) map[string]any {
		return map[string]any{"id": id, "b": true, "i2": int64(-2), "i4": int64(40000), "n": 120.5, "nn": "NaN", "f8": 1e-300,
			"d": "2024-02-10", "ts": "2024-02-10T03:04:05", "tz": "2024-02-10T03:04:05.123Z", "j": map[string]any{"a": []any{1.0, "x"}},
			"jb": map[string]any{"b": nil}, "s": "Nguyễn Thị Hoà\ttab\\n\"quoted\"\\\\", "v": "001234567890", "c": "HN ",
			"u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "empty": nil}
	}
	for _, mapping := range []struct {
		name string
		m    connectors.ColumnMapping
		want func(map[string]any) map[string]any
	}{
		{"all columns", connectors.ColumnMapping{Dataset: "test.item"}, func(r map[string]any) map[string]any { return r }},
		{"renamed, value table, set", connectors.ColumnMapping{Dataset: "test.item",
			Columns: map[string]string{"id": "key", "c": "province", "s": "name", "n": "area", "empty": "none"},
			Values:  map[string]map[string]any{"province": {"HN ": "01"}}, Set: map[string]any{"source": "pg"}},
			func(r map[string]any) map[string]any {
				return map[string]any{"key": r["id"], "province": "01", "name": r["s"], "area": r["n"], "none": nil, "source": "pg"}
			}},
	} {
		t.Run(mapping.name, func(t *testing.T) {
			f := newFixture(t, ddl)
			pgtest.Exec(t, f.conn, fmt.Sprintf("INSERT INTO %s VALUES "+values, f.table, 1))
			cfg := f.config()
			cfg.Tables[0].ColumnMapping = mapping.m
			s, err := New(connectors.Env{Name: "test"}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Open(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			snap := readN(t, s, 1)
			pgtest.Exec(t, f.conn, fmt.Sprintf("INSERT INTO %s VALUES "+values, f.table, 2))
			pgtest.Exec(t, f.conn, fmt.Sprintf("UPDATE %s SET i2 = 7 WHERE id = 2", f.table))
			stream := readN(t, s, 2)
			updated := want(2)
			updated["i2"] = int64(7)
			for i, c := range []struct {
				rec  connectors.Record
				op   connectors.Op
				want map[string]any
			}{{snap[0], connectors.OpRead, want(1)}, {stream[0], connectors.OpCreate, want(2)}, {stream[1], connectors.OpUpdate, updated}} {
				w := mapping.want(c.want)
				if c.rec.Op != c.op || !reflect.DeepEqual(c.rec.After, w) {
					t.Errorf("record %d: %s %#v\nwant %s %#v", i, c.rec.Op, c.rec.After, c.op, w)
				}
				if c.rec.Metadata[connectors.MetaTable] != "public."+f.table || c.rec.Metadata[connectors.MetaLSN] == "" {
					t.Errorf("record %d: metadata %v", i, c.rec.Metadata)
				}
			}
		})
	}
}

// TestLargeTransactionInParts: a transaction larger than batch_size is
// handed out in parts of at most batch_size; only its last record carries
// the transaction's end, and a restart at a record inside the transaction
// (acknowledged, so the slot confirmed the transaction's commit LSN)
// re-reads exactly the records after it, with the same positions.
func TestLargeTransactionInParts(t *testing.T) {
	f := newFixture(t, itemDDL)
	c := f.config()
	c.Snapshot, c.BatchSize = "never", 10
	src := func() *Source {
		s, err := New(connectors.Env{Name: "test"}, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if err := src().OnCreate(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := src()
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s SELECT 'k'||lpad(i::text, 2, '0'), i FROM generate_series(0, 24) i`, f.table))
	var recs []connectors.Record
	for len(recs) < 25 {
		got, err := s.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > c.BatchSize {
			t.Fatalf("a read returned %d records, more than batch_size %d", len(got), c.BatchSize)
		}
		recs = append(recs, got...)
	}
	first, _ := decodePosition(recs[0].Position)
	for i, r := range recs {
		p, err := decodePosition(r.Position)
		if err != nil || p.commit != first.commit || p.index != uint32(i) || p.last != (i == 24) || (p.end != 0) != (i == 24) {
			t.Fatalf("record %d: position %v (%v), want index %d of commit %s, last and end only on the 25th", i, p, err, i, first.commit)
		}
		if r.After["key"] != fmt.Sprintf("k%02d", i) {
			t.Fatalf("record %d is %v", i, r.After)
		}
	}
	if err := s.Ack(t.Context(), recs[14].Position); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "slot confirms the transaction's commit", func() bool { return f.slotFlushed(t) == first.commit })
	s.Close(context.Background())

	s2 := src()
	if err := s2.Open(t.Context(), recs[14].Position); err != nil {
		t.Fatal(err)
	}
	defer s2.Close(context.Background())
	pgtest.Exec(t, f.conn, fmt.Sprintf(`INSERT INTO %s VALUES ('z', 1)`, f.table))
	again := readN(t, s2, 11)
	for i, r := range again[:10] {
		if string(r.Position) != string(recs[15+i].Position) {
			t.Fatalf("re-read record %d: position %v, want %v", i, r.Position, recs[15+i].Position)
		}
	}
	if again[10].After["key"] != "z" {
		t.Fatalf("after the transaction read %v, want z", again[10].After)
	}
}
