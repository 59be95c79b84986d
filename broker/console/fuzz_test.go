package console

import "testing"

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
