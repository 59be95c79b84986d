package identity

import (
	"testing"
	"unicode/utf8"
)

// FuzzFold checks Normalize and Fold for panics and for the properties the
// reconciler relies on: both are idempotent, folding a normalized name is
// folding the name, and names equal after Normalize are equal after Fold.
func FuzzFold(f *testing.F) {
	for _, s := range []string{"Nguyễn Văn Hòa", "NGUYỄN VĂN HOÀ", "Ðặng\u200bThuý", "khuỷu", "Nguye\u0302\u0303n", "a\u0301\u0300", "gi\u0300", "  ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, fo := Normalize(s), Fold(s)
		if utf8.ValidString(s) && (!utf8.ValidString(n) || !utf8.ValidString(fo)) {
			t.Fatalf("invalid UTF-8 out of valid input %q: %q %q", s, n, fo)
		}
		if n2 := Normalize(n); n2 != n {
			t.Fatalf("Normalize not idempotent on %q: %q then %q", s, n, n2)
		}
		if f2 := Fold(fo); f2 != fo {
			t.Fatalf("Fold not idempotent on %q: %q then %q", s, fo, f2)
		}
		if fn := Fold(n); fn != fo {
			t.Fatalf("Fold(Normalize(%q)) = %q, Fold = %q", s, fn, fo)
		}
	})
}
