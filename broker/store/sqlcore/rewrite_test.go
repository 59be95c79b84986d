package sqlcore

import (
	"strings"
	"testing"
)

func TestRewrite(t *testing.T) {
	pg := &Rewriter{Dollar: true, Names: map[string]string{"created": "created", "not_revoked": "revoked IS NULL"}}
	lite := &Rewriter{Names: map[string]string{"created": "created_us", "not_revoked": "revoked_us = 0"}}
	tests := []struct{ in, pg, lite string }{
		{`SELECT 1`, `SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`, `SELECT a FROM t WHERE b = ? AND c = ?`},
		{`SELECT {created} FROM t WHERE {not_revoked} AND id = ?`, `SELECT created FROM t WHERE revoked IS NULL AND id = $1`, `SELECT created_us FROM t WHERE revoked_us = 0 AND id = ?`},
		// quoted text keeps its ? and braces
		{`SELECT '?{created}' || x FROM t WHERE y = ?`, `SELECT '?{created}' || x FROM t WHERE y = $1`, `SELECT '?{created}' || x FROM t WHERE y = ?`},
		{`x LIKE ? ESCAPE '\'`, `x LIKE $1 ESCAPE '\'`, `x LIKE ? ESCAPE '\'`},
		// an unknown name is left for the database to report
		{`SELECT {nope} FROM t`, `SELECT {nope} FROM t`, `SELECT {nope} FROM t`},
		{`SELECT {unclosed`, `SELECT {unclosed`, `SELECT {unclosed`},
	}
	for _, tc := range tests {
		if got := pg.SQL(tc.in); got != tc.pg {
			t.Errorf("pg %q: got %q, want %q", tc.in, got, tc.pg)
		}
		if got := lite.SQL(tc.in); got != tc.lite {
			t.Errorf("sqlite %q: got %q, want %q", tc.in, got, tc.lite)
		}
		if got := pg.SQL(tc.in); got != tc.pg { // from the cache
			t.Errorf("pg cached %q: got %q, want %q", tc.in, got, tc.pg)
		}
	}
}

// FuzzRewrite: without names a rewrite only numbers the unquoted ?, in
// order, and changes nothing else.
func FuzzRewrite(f *testing.F) {
	f.Add(`SELECT a FROM t WHERE b = ? AND c = '?'`)
	f.Add(`{created} '{' ? '`)
	r := &Rewriter{Dollar: true}
	f.Fuzz(func(t *testing.T, q string) {
		out := r.rewrite(q)
		n := strings.Count(out, "$") - strings.Count(q, "$")
		if n < 0 || strings.Count(out, "?")+n != strings.Count(q, "?") {
			t.Fatalf("%q became %q", q, out)
		}
		if n == 0 && out != q {
			t.Fatalf("%q changed to %q with nothing to number", q, out)
		}
	})
}
