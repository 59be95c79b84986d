package registry

import (
	"strings"
	"testing"
)

// FuzzJSONCompat feeds pairs of JSON Schemas to the compatibility checker,
// in both directions: it must never panic or hang, every message must name
// a JSON path ("#..."), and a schema must always be compatible with
// itself. Seed corpus: testdata/fuzz/FuzzJSONCompat.
func FuzzJSONCompat(f *testing.F) {
	f.Add(`{"type":"string"}`, `{"type":["string","null"]}`)
	f.Add(`{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`, `{"type":"object","additionalProperties":false}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		if _, err := parseJSONSchema(a); err != nil {
			return
		}
		if _, err := parseJSONSchema(b); err != nil {
			return
		}
		da, err := decodeJSONDoc(a, nil)
		if err != nil {
			t.Fatalf("parsed but does not decode: %v", err)
		}
		db, err := decodeJSONDoc(b, nil)
		if err != nil {
			t.Fatalf("parsed but does not decode: %v", err)
		}
		for _, m := range append(jsonIncompatibilities(da, db), jsonIncompatibilities(db, da)...) {
			if !strings.HasPrefix(m, "#") {
				t.Fatalf("message without a JSON path: %q", m)
			}
		}
		if got := jsonIncompatibilities(da, da); len(got) > 0 && !strings.Contains(got[0], "too complex") {
			t.Fatalf("%s is not compatible with itself: %v", a, got)
		}
	})
}
