package cccd

import (
	"errors"
	"fmt"
	"testing"
)

// FuzzParse checks that Parse never panics, that an accepted number
// round-trips through Make and is consistent with its own year and sex, and
// that a rejected one says which part is wrong.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"001085012345", "079190000001", "003085012345", "001485012345", "00108501234x", "", "012345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error is not *Error: %v", s, err)
			}
			if !errors.Is(err, ErrLength) && !errors.Is(err, ErrNotDigit) && !errors.Is(err, ErrProvince) && !errors.Is(err, ErrCentury) {
				t.Fatalf("Parse(%q) error matches no sentinel: %v", s, err)
			}
			return
		}
		if n.String() != s {
			t.Fatalf("String() = %q, want %q", n.String(), s)
		}
		if got := Make(n.Province, n.Year, n.Sex, n.Serial); got != s {
			t.Fatalf("Make round trip %q != %q", got, s)
		}
		if d := n.Consistent(fmt.Sprintf("%04d-01-01", n.Year), n.Sex); d != nil {
			t.Fatalf("number inconsistent with itself: %v", d)
		}
		if n.Uint64() >= 1<<40 {
			t.Fatalf("Uint64 does not fit 40 bits")
		}
	})
}
