package pgstore_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

const urlEnv = "LGSP_TEST_POSTGRES_URL"

// testURL returns the database URL, skipping the test when none is given on
// a developer's machine and failing it in CI, where a skipped backend would
// pass unnoticed.
func testURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(urlEnv)
	if u != "" {
		return u
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s is not set; CI must run the PostgreSQL store tests: export %s=$(bash .ci/start-postgres.sh) before go test", urlEnv, urlEnv)
	}
	tb.Skipf("%s is not set; to run the PostgreSQL store tests: %s=$(bash .ci/start-postgres.sh) go test ./broker/store/...", urlEnv, urlEnv)
	return ""
}

// freshSchema creates an empty schema for one test and drops it, with all
// it holds, at cleanup, so runs never see each other's tables. It returns
// the URL with search_path set to that schema.
func freshSchema(tb testing.TB) string {
	tb.Helper()
	testURL(tb) // this package's skip/fail message
	return pgtest.SchemaURL(tb, "lgsp_test")
}

func open(tb testing.TB, u string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), u)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() }) // registered after the drop, so it runs first
	return s
}

func TestContract(t *testing.T) {
	testURL(t) // skip or fail once, not in every subtest
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

// TestMigrateConcurrentAndReopen opens one fresh schema from several
// goroutines at once, as bus instances starting together would, then again.
func TestMigrateConcurrentAndReopen(t *testing.T) {
	u := freshSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), u)
			if err != nil {
				errs <- err
				return
			}
			errs <- s.PutPosition(t.Context(), "c", []byte("1"))
			_ = s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open: %v", err)
		}
	}
	s := open(t, u)
	got, err := s.GetPosition(t.Context(), "c")
	if err != nil || string(got) != "1" {
		t.Fatalf("after reopen GetPosition = %q, %v", got, err)
	}
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var n, maxV int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &maxV); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if n != maxV || n < 1 {
		t.Errorf("schema_migrations has %d rows up to version %d, want one row per version", n, maxV)
	}

	// A version this binary does not know means a newer release migrated.
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	if s2, err := pgstore.Open(t.Context(), u); err == nil {
		_ = s2.Close()
		t.Error("Open succeeded on a schema from a newer release, want an error")
	}
}

// TestAuditAppendOnly checks the trigger that refuses UPDATE, DELETE and
// TRUNCATE.
func TestAuditAppendOnly(t *testing.T) {
	u := freshSchema(t)
	s := open(t, u)
	if err := s.AppendAudit(t.Context(), []store.AuditEntry{{Seq: 1, Actor: "bus"}}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	for _, q := range []string{`UPDATE audit_log SET actor = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := conn.Exec(t.Context(), q); err == nil {
			t.Errorf("%s succeeded, want the append-only trigger to refuse it", q)
		}
	}
}

func TestOpenBadURL(t *testing.T) {
	testURL(t)
	if s, err := pgstore.Open(t.Context(), "postgres://nobody:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		_ = s.Close()
		t.Fatal("Open of an unreachable server succeeded")
	} else if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func BenchmarkAppendAudit(b *testing.B) {
	storetest.BenchAppendAudit(b, open(b, freshSchema(b)))
}

func BenchmarkPutCitizens(b *testing.B) {
	storetest.BenchPutCitizens(b, open(b, freshSchema(b)))
}

// The pool is DefaultMaxConns unless the URL sets pool_max_conns.
func TestPoolSize(t *testing.T) {
	u := freshSchema(t)
	if n := pgstore.PoolMaxConns(open(t, u)); n != pgstore.DefaultMaxConns() || n < 16 {
		t.Errorf("default pool: %d connections, want DefaultMaxConns %d (at least 16)", n, pgstore.DefaultMaxConns())
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	if n := pgstore.PoolMaxConns(open(t, u+sep+"pool_max_conns=3")); n != 3 {
		t.Errorf("pool_max_conns=3 in the URL: %d connections", n)
	}
}

func BenchmarkApplyState(b *testing.B) {
	storetest.BenchApplyState(b, open(b, freshSchema(b)))
}
