// Package pgtest gives tests that need PostgreSQL (adapters, stores, registry, audit, runtime) their server: the URL
// in LGSP_TEST_POSTGRES_URL, unique object names, a connection and a fresh schema per test.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the test server's URL.
const EnvURL = "LGSP_TEST_POSTGRES_URL"

// URL returns the test server's URL. Without one the test is skipped, or
// fails when CI is set (CI must not silently skip the real-server tests).
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		msg := "no PostgreSQL: run with `export " + EnvURL + "=$(bash .ci/start-postgres.sh)` (PostgreSQL 15 with wal_level=logical)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return u
}

// Name returns prefix_<random>, a unique lower-case SQL identifier.
func Name(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return strings.ToLower(prefix) + "_" + hex.EncodeToString(b)
}

// Conn connects to the test server; the connection closes with the test.
func Conn(t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs SQL statements, failing the test on error.
func Exec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// SchemaURL creates an empty schema named prefix_<random> for one test and
// drops it, with all it holds, when the test ends; it returns the server
// URL with search_path set to that schema, so parallel tests and packages
// sharing one server never see each other's tables.
func SchemaURL(t testing.TB, prefix string) string {
	t.Helper()
	base := URL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	schema := Name(prefix)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		_ = admin.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close(ctx)
	})
	return WithSearchPath(t, base, schema)
}

// WithSearchPath returns base (a URL or key=value connection string) with
// search_path set to schema.
func WithSearchPath(t testing.TB, base, schema string) string {
	t.Helper()
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema // key=value form
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
