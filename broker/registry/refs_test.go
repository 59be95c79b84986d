package registry

import (
	"context"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/xeipuuv/gojsonschema"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// TestReferencesValidation: a schema registered with references is parsed
// with them, and a registry started later over the same store (cold
// caches) resolves them again for validation and encoding.
func TestReferencesValidation(t *testing.T) {
	ctx := context.Background()
	ms := newMemStore()
	r := New(ms)
	mustRegister(t, r, "cccd-value", "JSON", `{"type":"string","pattern":"^[0-9]{12}$"}`)
	pid, _, err := r.RegisterSchema(ctx, "person-value", RegisterRequest{SchemaType: "JSON",
		Schema:     `{"type":"object","properties":{"id":{"$ref":"cccd.json"}},"required":["id"]}`,
		References: []store.Reference{{Name: "cccd.json", Subject: "cccd-value", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, "addr-value", "AVRO", `{"type":"record","name":"Address","namespace":"vn.gov","fields":[{"name":"province","type":"string"}]}`)
	aid, _, err := r.RegisterSchema(ctx, "pavro-value", RegisterRequest{
		Schema:     `{"type":"record","name":"Person","namespace":"vn.gov","fields":[{"name":"home","type":"vn.gov.Address"}]}`,
		References: []store.Reference{{Name: "vn.gov.Address", Subject: "addr-value", Version: -1}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, reg := range []*Registry{r, New(ms)} {
		js, err := reg.LookupJSON(ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		for doc, want := range map[string]bool{`{"id":"012345678901"}`: true, `{"id":"12"}`: false} {
			res, err := js.Validate(gojsonschema.NewStringLoader(doc))
			if err != nil || res.Valid() != want {
				t.Errorf("validate %s = %v, %v; want valid %v", doc, res.Valid(), err, want)
			}
		}
		as, err := reg.LookupAvro(ctx, aid)
		if err != nil {
			t.Fatal(err)
		}
		b, err := avro.Marshal(as, map[string]any{"home": map[string]any{"province": "001"}})
		if err != nil || len(b) == 0 {
			t.Fatalf("encode with the referenced type: %v", err)
		}
		// A compatible evolution of the referring schema is checked with
		// its references resolved.
		ok, msgs, err := reg.CheckCompatibility(ctx, "person-value", -1, RegisterRequest{SchemaType: "JSON",
			Schema:     `{"type":"object","properties":{"id":{"$ref":"cccd.json"},"name":{}},"required":["id"]}`,
			References: []store.Reference{{Name: "cccd.json", Subject: "cccd-value", Version: 1}}})
		if err != nil || !ok {
			t.Fatalf("CheckCompatibility = %v, %v, %v", ok, msgs, err)
		}
	}
}
