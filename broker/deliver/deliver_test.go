package deliver

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/xeipuuv/gojsonschema"
)

// The schema registered for a delivery topic admits exactly the released
// fields, with masked ones as strings, for JSON and Avro datasets alike.
func TestProjectedSchema(t *testing.T) {
	cat := schemas.MustLoad()
	tests := []struct {
		dataset string
		fields  []string
		masks   map[string]policies.MaskKind
		row     map[string]any
		valid   bool
	}{
		{"civil_status.birth_registration", []string{"child_name", "mother_name"}, map[string]policies.MaskKind{"mother_name": policies.MaskInitials},
			map[string]any{"child_name": "Lê Văn Bình", "mother_name": "T. T. M."}, true},
		{"civil_status.birth_registration", []string{"child_name"}, nil, map[string]any{"child_name": "x", "child_cccd": "001317367457"}, false},
		{"tax.taxpayer", []string{"tax_code", "sex", "address"}, nil, map[string]any{"tax_code": "8012345678", "sex": "F", "address": nil}, true},
		{"tax.taxpayer", []string{"tax_code", "sex"}, nil, map[string]any{"tax_code": "8012345678", "sex": "X"}, false},
		{"tax.taxpayer", []string{"dob"}, map[string]policies.MaskKind{"dob": policies.MaskYearOnly}, map[string]any{"dob": "1990"}, true},
	}
	for _, tt := range tests {
		ds, _ := cat.Dataset(tt.dataset)
		text, err := ProjectedSchema(ds, tt.fields, tt.masks)
		if err != nil {
			t.Fatal(err)
		}
		s, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(text))
		if err != nil {
			t.Fatalf("%s: %v", tt.dataset, err)
		}
		doc, _ := json.Marshal(map[string]any{"op": "c", "agreement": "a", "after": tt.row, "before": nil})
		res, err := s.Validate(gojsonschema.NewBytesLoader(doc))
		if err != nil || res.Valid() != tt.valid {
			t.Errorf("%s %v: valid=%v want %v (%v)", tt.dataset, tt.row, res.Valid(), tt.valid, res.Errors())
		}
	}
	ds, _ := cat.Dataset("tax.taxpayer")
	if _, err := ProjectedSchema(ds, []string{"no_such_field"}, nil); err == nil {
		t.Error("a field outside the dataset must be an error")
	}
}

func TestUnwrapRow(t *testing.T) {
	got := unwrapRow(map[string]any{"vn.Row": map[string]any{"a": "x", "address": map[string]any{"string": "Hà Nội"}, "n": nil}})
	if got["a"] != "x" || got["address"] != "Hà Nội" || got["n"] != nil {
		t.Fatal(got)
	}
	if unwrapRow(nil) != nil {
		t.Fatal("null row")
	}
}

// A delivery keeps the event's headers but its own schema id, content type
// and agreement, and drops the linked citizen's key, which is the bus's
// (agencies get what the agreement releases, in the value).
func TestRewriteHeaders(t *testing.T) {
	in := envelope.Event{ID: "e1", Source: "tax", Type: "t", Dataset: "tax.taxpayer", SchemaID: 7, ContentType: contract.ContentTypeConfluentAvro,
		Identity: "linked", Citizen: "hmac-of-the-number"}.Headers()
	got := map[string]string{}
	for _, h := range rewriteHeaders(in, 42, "agr-1", contract.ContentTypeJSON) {
		if _, dup := got[h.Key]; dup {
			t.Errorf("header %s twice", h.Key)
		}
		got[h.Key] = string(h.Value)
	}
	want := map[string]string{contract.HeaderSpecVersion: contract.SpecVersion, contract.HeaderID: "e1", contract.HeaderSource: "tax",
		contract.HeaderType: "t", contract.HeaderDataset: "tax.taxpayer", contract.HeaderIdentity: "linked",
		contract.HeaderSchemaID: "42", contract.HeaderContentType: "application/json", contract.HeaderAgreement: "agr-1"}
	if !maps.Equal(got, want) {
		t.Errorf("delivered headers\n got %v\nwant %v", got, want)
	}
}
