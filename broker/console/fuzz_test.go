package console

import (
	"strings"
	"testing"
)

// A cookie value is accepted only if the bus signed it for that purpose:
// whatever the bytes, unsign never accepts a value that sign would not
// have produced, and never accepts one purpose's value for another.
func FuzzUnsign(f *testing.F) {
	c := &Console{key: []byte("0123456789abcdef0123456789abcdef")}
	f.Add(c.sign("session", "abc"))
	f.Add("abc.")
	f.Add(".sig")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := c.unsign("session", v)
		if ok && c.sign("session", id) != v {
			t.Fatalf("accepted %q, which is not the signature of %q", v, id)
		}
		if _, other := c.unsign("pre", v); ok && other {
			t.Fatalf("%q is accepted for two purposes", v)
		}
	})
}

// The side-by-side view of two schema versions loses no line and invents
// none: its left column is the old text, its right column the new one.
func FuzzSideBySide(f *testing.F) {
	f.Add("a\nb\nc", "a\nc\nd")
	f.Add("", "x")
	f.Add("{\n  \"type\": \"string\"\n}", "{\n  \"type\": \"integer\"\n}")
	f.Fuzz(func(t *testing.T, a, b string) {
		la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
		var left, right []string
		same := 0
		for _, r := range sideBySide(la, lb) {
			if r.LeftNo > 0 {
				left = append(left, r.Left)
			}
			if r.RightNo > 0 {
				right = append(right, r.Right)
			}
			if r.Kind == "same" {
				same++
				if r.Left != r.Right {
					t.Fatalf("a same row differs: %+v", r)
				}
			}
		}
		if strings.Join(left, "\n") != a || strings.Join(right, "\n") != b {
			t.Fatalf("columns %q | %q, want %q | %q", left, right, a, b)
		}
		if a == b && same != len(la) {
			t.Fatalf("equal texts with %d of %d lines the same", same, len(la))
		}
	})
}
