package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/xeipuuv/gojsonschema"
)

// FuzzRegisterJSON feeds arbitrary text to Register, as a JSON Schema and
// as an Avro schema (both are JSON documents). Register must never panic or
// hang, must reject with ErrInvalidSchema only, and whatever it accepts must
// be stable: normalised, re-registrable under the same id (and, with
// ?normalize=true, canonical to a fixed point), parseable again
// from the store, and (for JSON Schema) usable to validate values without
// looping. The seed corpus is in testdata/fuzz/FuzzRegisterJSON.
func FuzzRegisterJSON(f *testing.F) {
	samples := []any{nil, "x", 1, true, []any{[]any{}, 2}, map[string]any{"a": map[string]any{"a": 1}, "b": []any{"c"}}}
	f.Fuzz(func(t *testing.T, text string) {
		ctx := context.Background()
		for _, typ := range []string{TypeJSON, TypeAvro} {
			ms := newMemStore()
			r := New(ms)
			id, v, err := r.Register(ctx, "fuzz-value", typ, text)
			if err != nil {
				if !errors.Is(err, ErrInvalidSchema) {
					t.Fatalf("%s: error is not ErrInvalidSchema: %v", typ, err)
				}
				continue
			}
			s, err := r.SchemaByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := normalizeJSON(s.Text); err != nil || n != s.Text {
				t.Fatalf("%s: stored text is not normalised:\n%s\n%s (%v)", typ, s.Text, n, err)
			}
			if id2, v2, err := r.Register(ctx, "fuzz-value", typ, s.Text); err != nil || id2 != id || v2 != v {
				t.Fatalf("%s: re-registering the stored text = %d %d %v, want %d %d", typ, id2, v2, err, id, v)
			}
			// ?normalize=true accepts whatever Register accepts, and its
			// canonical text is a fixed point: normalised again it is the
			// same schema, under the same id.
			nid, _, err := r.RegisterSchema(ctx, "fuzz-norm-value", RegisterRequest{SchemaType: typ, Schema: text, Normalize: true})
			if err != nil {
				t.Fatalf("%s: registering with normalize: %v", typ, err)
			}
			ns, err := r.SchemaByID(ctx, nid)
			if err != nil {
				t.Fatal(err)
			}
			if again, _, err := r.RegisterSchema(ctx, "fuzz-norm-value", RegisterRequest{SchemaType: typ, Schema: ns.Text, Normalize: true}); err != nil || again != nid {
				t.Fatalf("%s: the canonical text registered with normalize = %d, %v; want %d", typ, again, err, nid)
			}
			cold := New(ms)
			if typ == TypeAvro {
				if _, err := cold.LookupAvro(ctx, id); err != nil {
					t.Fatalf("stored Avro schema does not parse again: %v", err)
				}
				continue
			}
			js, err := cold.LookupJSON(ctx, id)
			if err != nil {
				t.Fatalf("stored JSON Schema does not compile again: %v", err)
			}
			for _, x := range samples {
				if _, err := js.Validate(gojsonschema.NewGoLoader(x)); err != nil {
					t.Fatalf("validating %v: %v", x, err)
				}
			}
		}
	})
}
