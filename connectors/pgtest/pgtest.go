// Package pgtest gives tests that need PostgreSQL (the adapters, the examples) their server: the URL
// in LGSP_TEST_POSTGRES_URL, unique object names and a connection.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
