package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
)

const pgURLEnv = "LGSP_TEST_POSTGRES_URL"

// pgSchemaURL returns the URL of a fresh PostgreSQL schema (dropped at
// cleanup) for one test, so parallel runs never meet. It skips without
// LGSP_TEST_POSTGRES_URL on a developer's machine and fails in CI.
func pgSchemaURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(pgURLEnv)
	if base == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set; CI must run the PostgreSQL registry tests", pgURLEnv)
		}
		tb.Skipf("%s is not set; to run against PostgreSQL: %s=$(bash .ci/start-postgres.sh) go test ./broker/registry/...", pgURLEnv, pgURLEnv)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", pgURLEnv, err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "lgsp_registry_test_" + hex.EncodeToString(b)
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		_ = admin.Close(ctx)
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		_ = admin.Close(ctx)
	})
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", pgURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// openPG opens a store on u, closed at cleanup (before the schema drop).
func openPG(tb testing.TB, u string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), u)
	if err != nil {
		tb.Fatalf("pgstore.Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
