package deliver

import (
	"encoding/json"
	"maps"
	"reflect"
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

// What an agency receives is byte for byte what json.Marshal of the
// decoded change gave before the source block was passed through as the
// pipeline wrote it (regression guard for consumers comparing values).
func TestAppendDeliveredSameAsMarshal(t *testing.T) {
	cat := schemas.MustLoad()
	ds, _ := cat.Dataset("land.land_use_right")
	tests := []struct{ op, before, after, agreement string }{
		{"c", `null`, `{"holder_name":"Nguyễn Văn <A> & B","area_m2":120.5,"address":null}`, "agr-1"},
		{"u", `{"holder_name":"X","area_m2":1e21}`, `{"holder_name":"Y","area_m2":3}`, "agr \"2\" <x>"},
		{"d", `{"holder_name":"X"}`, `null`, "a"},
	}
	for _, tt := range tests {
		// as the pipeline writes it: json.Marshal of its source block
		srcb, _ := json.Marshal(struct {
			Connector string `json:"connector"`
			Dataset   string `json:"dataset"`
			Position  string `json:"position"`
			TsMs      int64  `json:"ts_ms"`
		}{"land-files", "land.land_use_right", "1:2<3>", 1700000000000})
		src := string(srcb)
		payload := `{"op":"` + tt.op + `","before":` + tt.before + `,"after":` + tt.after + `,"source":` + src + `,"ts_ms":1700000000123}`
		d := &Deliverer{}
		ch, err := d.decode(t.Context(), ds, append(contract.AppendWire(nil, 7), payload...))
		if err != nil {
			t.Fatal(err)
		}
		var source map[string]any
		if err := json.Unmarshal([]byte(src), &source); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]any{"op": ch.op, "before": ch.before, "after": ch.after, "source": source, "ts_ms": ch.tsMs, "agreement": tt.agreement})
		got, err := appendDelivered(nil, ch, ch.before, ch.after, tt.agreement)
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: got\n%s (%v)\nwant\n%s", tt.op, got, err, want)
		}
	}
}

// FuzzAppendDelivered: for any canonical JSON value the deliverer can
// decode, the value it delivers is valid JSON and the same JSON value as
// json.Marshal of the decoded change (the source block passed through
// may differ only in spelling: spacing, escapes, key order).
func FuzzAppendDelivered(f *testing.F) {
	f.Add([]byte(`{"op":"c","before":null,"after":{"holder_name":"Nguyễn Văn A","area_m2":120.5},"source":{"connector":"c","dataset":"d","position":"1","ts_ms":1},"ts_ms":2}`), "agr-1")
	f.Add([]byte(`{"op":"u","before":{"a":1e21},"after":{"a":"<&>"},"source":{ "z" : [1, 2], "a":"\u003c"},"ts_ms":-5}`), `a"b<`)
	f.Add([]byte(`{"op":"d","before":{"a":null},"after":null,"ts_ms":0}`), "")
	ds, _ := schemas.MustLoad().Dataset("land.land_use_right")
	d := &Deliverer{}
	f.Fuzz(func(t *testing.T, payload []byte, agreement string) {
		ch, err := d.decode(t.Context(), ds, append(contract.AppendWire(nil, 7), payload...))
		if err != nil {
			return // dead-lettered upstream; the deliverer skips it loudly
		}
		var source any
		if err := json.Unmarshal(ch.source, &source); err != nil {
			t.Fatalf("source block %q kept is not JSON: %v", ch.source, err)
		}
		got, err := appendDelivered(nil, ch, ch.before, ch.after, agreement)
		if err != nil {
			return // a row json.Marshal refuses too (none from decoded JSON)
		}
		want, err := json.Marshal(map[string]any{"op": ch.op, "before": ch.before, "after": ch.after, "source": source, "ts_ms": ch.tsMs, "agreement": agreement})
		if err != nil {
			t.Fatalf("Marshal refused what appendDelivered encoded: %v", err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("delivered value is not JSON: %v\n%s", err, got)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("delivered\n%s\nwant the same value as\n%s", got, want)
		}
	})
}
