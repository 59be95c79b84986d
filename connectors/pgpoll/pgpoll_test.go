package pgpoll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/connectors/sdktest"
)

func TestAcceptance(t *testing.T) {
	url := pgtest.URL(t)
	conn := pgtest.Conn(t)
	table := pgtest.Name("poll_t")
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (ma text PRIMARY KEY, phien_ban int NOT NULL, cap_nhat_luc timestamptz NOT NULL DEFAULT clock_timestamp())`, table))
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	cfg := DefaultConfig()
	cfg.URL, cfg.PollInterval = url, 50*time.Millisecond
	cfg.BatchSize = 3 // several polls per session
	cfg.Tables = []Table{{Table: table, CursorColumn: "cap_nhat_luc", ColumnMapping: connectors.ColumnMapping{Dataset: "test.item", Columns: map[string]string{"ma": "key", "phien_ban": "version"}}}}
	sdktest.Run(t, sdktest.Harness{
		NewSource: func(t testing.TB) connectors.Source {
			s, err := New(connectors.Env{Name: "test"}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Write: func(t testing.TB, cs []sdktest.Change) {
			for _, c := range cs {
				pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO %s (ma, phien_ban) VALUES ($1, $2) ON CONFLICT (ma) DO UPDATE SET phien_ban = excluded.phien_ban, cap_nhat_luc = clock_timestamp()`, table), c.Key, c.Version)
			}
		},
		Identify: func(r connectors.Record) (string, int, bool) {
			k, ok1 := r.After["key"].(string)
			v, ok2 := r.After["version"].(int64)
			return k, int(v), ok1 && ok2
		},
		Coalesces:  true,
		NoBadInput: true, // PostgreSQL types every value
	})
}

// TestTiesOnCursor: rows sharing a cursor value are all read, across
// batch boundaries, exactly once.
func TestTiesOnCursor(t *testing.T) {
	url := pgtest.URL(t)
	conn := pgtest.Conn(t)
	table := pgtest.Name("poll_ties")
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, v date NOT NULL)`, table))
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO %s SELECT i, DATE '2024-01-01' + (i / 4) FROM generate_series(1, 10) i`, table))
	cfg := DefaultConfig()
	cfg.URL, cfg.BatchSize, cfg.PollInterval = url, 3, 20*time.Millisecond
	cfg.Tables = []Table{{Table: table, CursorColumn: "v", ColumnMapping: connectors.ColumnMapping{Dataset: "t.x"}}}
	s, err := New(connectors.Env{Name: "test"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var ids []string
	for len(ids) < 10 {
		recs, err := s.Read(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			ids = append(ids, fmt.Sprint(r.After["id"]))
			if _, ok := r.After["v"].(string); !ok {
				t.Fatalf("date decoded as %T", r.After["v"])
			}
		}
	}
	if got := strings.Join(ids, ","); got != "1,2,3,4,5,6,7,8,9,10" {
		t.Fatalf("read %s", got)
	}
}

func TestBadTables(t *testing.T) {
	url := pgtest.URL(t)
	conn := pgtest.Conn(t)
	nopk := pgtest.Name("poll_nopk")
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (a int, b timestamptz)`, nopk))
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+nopk) })
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.Tables = []Table{
		{Table: nopk, CursorColumn: "b", ColumnMapping: connectors.ColumnMapping{Dataset: "t.a"}},
		{Table: nopk + "_missing", CursorColumn: "b", ColumnMapping: connectors.ColumnMapping{Dataset: "t.b"}},
	}
	s, err := New(connectors.Env{Name: "test"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(t.Context(), nil)
	s.Close(context.Background())
	if !errors.Is(err, connectors.ErrConfig) || !strings.Contains(err.Error(), "no primary key") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Open = %v", err)
	}
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	c.BatchSize = 0
	c.Tables = []Table{{Table: "a"}, {Table: "public.a", CursorColumn: "x", ColumnMapping: connectors.ColumnMapping{Dataset: "x.y"}}}
	err := connectors.CheckConfig(&c)
	for _, want := range []string{"url: required", "tables[0].cursor_column: required", "tables[0].dataset: required", "tables[1].table: public.a listed twice", "batch_size 0: want 1 to 100000"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckConfig() = %v; want it to mention %q", err, want)
		}
	}
	if d := DefaultConfig(); d.PollInterval != 2*time.Second || d.BatchSize != 1000 {
		t.Errorf("defaults from the tags: %+v", d)
	}
}

// TestReconnects: a dropped connection is re-made by the next Read, which
// goes on after the last row read.
func TestReconnects(t *testing.T) {
	url := pgtest.URL(t)
	conn := pgtest.Conn(t)
	table := pgtest.Name("poll_rc")
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY)`, table))
	t.Cleanup(func() { conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO %s VALUES (1)`, table))
	cfg := DefaultConfig()
	cfg.URL, cfg.PollInterval = url, 20*time.Millisecond
	cfg.Tables = []Table{{Table: table, CursorColumn: "id", ColumnMapping: connectors.ColumnMapping{Dataset: "t.x"}}}
	s, err := New(connectors.Env{Name: "rc"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if recs, err := s.Read(t.Context()); err != nil || len(recs) != 1 {
		t.Fatalf("Read = %v, %v", recs, err)
	}
	pgtest.Exec(t, conn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lgsp-rc'`)
	pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO %s VALUES (2)`, table))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		recs, err := s.Read(ctx)
		if errors.Is(err, connectors.ErrBackoff) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].After["id"] != int64(2) {
			t.Fatalf("after reconnect read %v", recs)
		}
		return
	}
}
