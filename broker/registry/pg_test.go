package registry

import (
	"context"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

// pgSchemaURL returns the URL of a fresh PostgreSQL schema (dropped at
// cleanup) for one test, so parallel runs never meet. It skips without
// LGSP_TEST_POSTGRES_URL on a developer's machine and fails in CI.
func pgSchemaURL(tb testing.TB) string {
	tb.Helper()
	return pgtest.SchemaURL(tb, "lgsp_registry_test")
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
