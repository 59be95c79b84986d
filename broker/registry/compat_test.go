package registry

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
)

func mustAvro(t *testing.T, text string) avro.Schema {
	t.Helper()
	s, err := parseAvro(text)
	if err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	return s
}

const (
	avroV1         = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"}]}`
	avroNewDefault = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"},{"name":"sex","type":"string","default":"M"}]}`
	avroNewNoDef   = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"},{"name":"sex","type":"string"}]}`
)

// TestAvroCompatRules: reader/writer resolution, one rule per row, in both
// directions.
func TestAvroCompatRules(t *testing.T) {
	cases := []struct {
		name              string
		old, new          string
		backward, forward bool
	}{
		{"identical", avroV1, avroV1, true, true},
		{"field added with default", avroV1, avroNewDefault, true, true},
		{"field added without default", avroV1, avroNewNoDef, false, true},
		{"field removed without default", avroNewNoDef, avroV1, true, false},
		{"int widened to long", `"int"`, `"long"`, true, false},
		{"string to bytes", `"string"`, `"bytes"`, true, true},
		{"enum symbol added", `{"type":"enum","name":"E","symbols":["A"]}`, `{"type":"enum","name":"E","symbols":["A","B"]}`, true, false},
		{"enum symbol removed, reader default", `{"type":"enum","name":"E","symbols":["A","B"]}`, `{"type":"enum","name":"E","symbols":["A"],"default":"A"}`, true, true},
		{"union branch added", `["null","string"]`, `["null","string","int"]`, true, false},
		{"record renamed with alias", `{"type":"record","name":"A","fields":[]}`, `{"type":"record","name":"B","aliases":["A"],"fields":[]}`, true, false},
		{"fixed size changed", `{"type":"fixed","name":"F","size":2}`, `{"type":"fixed","name":"F","size":3}`, false, false},
		{"decimal scale changed", `{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`, `{"type":"bytes","logicalType":"decimal","precision":10,"scale":3}`, false, false},
		{"decimal precision widened", `{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}`, `{"type":"bytes","logicalType":"decimal","precision":12,"scale":2}`, true, false},
		{"nested decimal scale", `{"type":"record","name":"R","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}]}`,
			`{"type":"record","name":"R","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":4}}]}`, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, n := mustAvro(t, tc.old), mustAvro(t, tc.new)
			if got := avroIncompatibilities(n, o); (len(got) == 0) != tc.backward {
				t.Errorf("backward (new reads old) = %v, want compatible %v", got, tc.backward)
			}
			if got := avroIncompatibilities(o, n); (len(got) == 0) != tc.forward {
				t.Errorf("forward (old reads new) = %v, want compatible %v", got, tc.forward)
			}
		})
	}
}

// TestAvroFreshChecker: hamba's checker caches by canonical fingerprint,
// which drops defaults. A compatible check of the schema WITH a default
// must not make the one WITHOUT it compatible afterwards, in this process.
func TestAvroFreshChecker(t *testing.T) {
	old := mustAvro(t, avroV1)
	if got := avroIncompatibilities(mustAvro(t, avroNewDefault), old); len(got) != 0 {
		t.Fatalf("new field with default: %v, want compatible", got)
	}
	for range 3 {
		got := avroIncompatibilities(mustAvro(t, avroNewNoDef), old)
		if len(got) == 0 || !strings.Contains(got[0], "sex") {
			t.Fatalf("new field without default after a compatible check = %v, want incompatible naming the field", got)
		}
	}
	// And the shared checker really does get this wrong, which is why
	// avroIncompatibilities never shares one.
	shared := avro.NewSchemaCompatibility()
	_ = shared.Compatible(mustAvro(t, avroNewDefault), old)
	if err := shared.Compatible(mustAvro(t, avroNewNoDef), old); err != nil {
		t.Logf("hamba's shared checker no longer confuses the two (%v); the fresh checker stays anyway", err)
	}
}

func mustJSONDoc(t *testing.T, text string) *jsonDoc {
	t.Helper()
	if _, err := parseJSONSchema(text); err != nil {
		t.Fatalf("parse %s: %v", text, err)
	}
	d, err := decodeJSONDoc(text, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestJSONCompatRules: one row per rule; backward = the new schema accepts
// everything the old one did; forward = the other way round. want* is a
// substring the first message must contain ("" = compatible).
func TestJSONCompatRules(t *testing.T) {
	cases := []struct {
		name     string
		old, new string
		backward string
		forward  string
	}{
		{"identical", `{"type":"string"}`, `{"type":"string"}`, "", ""},
		{"type widened", `{"type":"integer"}`, `{"type":"number"}`, "", "#: TYPE_NARROWED"},
		{"type union widened", `{"type":"string"}`, `{"type":["string","null"]}`, "", "#: TYPE_NARROWED"},
		{"type removed", `{"type":"string"}`, `{}`, "", "#: TYPE_NARROWED"},
		{"required added", `{"type":"object","properties":{"a":{"type":"string"}}}`, `{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}`, "#: REQUIRED_PROPERTY_ADDED", ""},
		{"closed model, property added", `{"type":"object","properties":{"a":{}},"additionalProperties":false}`, `{"type":"object","properties":{"a":{},"b":{"type":"string"}},"additionalProperties":false}`, "", "#/properties/b: PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"},
		{"open model, property added", `{"type":"object","properties":{"a":{}}}`, `{"type":"object","properties":{"a":{},"b":{"type":"string"}}}`, "#/properties/b: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", ""},
		{"content model closed", `{"type":"object"}`, `{"type":"object","additionalProperties":false}`, "#/additionalProperties: ADDITIONAL_PROPERTIES_NARROWED", ""},
		{"enum value added", `{"enum":["A","B"]}`, `{"enum":["A","B","C"]}`, "", "#: ENUM_NARROWED"},
		{"enum added", `{"type":"string"}`, `{"type":"string","enum":["A"]}`, "#: ENUM_ADDED", ""},
		{"maximum decreased", `{"type":"integer","maximum":100}`, `{"type":"integer","maximum":10}`, "#: MAXIMUM_DECREASED", ""},
		{"minimum added", `{"type":"integer"}`, `{"type":"integer","minimum":0}`, "#: MINIMUM_ADDED", ""},
		{"maxLength increased", `{"type":"string","maxLength":10}`, `{"type":"string","maxLength":20}`, "", "#: MAXLENGTH_DECREASED"},
		{"minLength on a number is moot", `{"type":"integer"}`, `{"type":"integer","minLength":3}`, "", ""},
		{"pattern changed", `{"type":"string","pattern":"^[0-9]{12}$"}`, `{"type":"string","pattern":"^[0-9]{9}$"}`, "#: PATTERN_CHANGED", "#: PATTERN_CHANGED"},
		{"items narrowed", `{"type":"array","items":{"type":"number"}}`, `{"type":"array","items":{"type":"integer"}}`, "#/items: TYPE_NARROWED", ""},
		{"nested property type", `{"type":"object","properties":{"addr":{"type":"object","properties":{"zip":{"type":"string"}}}}}`,
			`{"type":"object","properties":{"addr":{"type":"object","properties":{"zip":{"type":"integer"}}}}}`, "#/properties/addr/properties/zip: TYPE_NARROWED", "#/properties/addr/properties/zip: TYPE_NARROWED"},
		{"$ref resolved", `{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s"}}}`,
			`{"definitions":{"s":{"type":["string","null"]}},"properties":{"a":{"$ref":"#/definitions/s"}}}`, "", "#/properties/a: TYPE_NARROWED"},
		{"oneOf branch added", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]}`, "", "#/oneOf: COMBINED_TYPE_SUBSCHEMAS_CHANGED"},
		{"anyOf branch removed", `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, `{"anyOf":[{"type":"string"}]}`, "#/anyOf: COMBINED_TYPE_SUBSCHEMAS_CHANGED", ""},
		{"recursive tree unchanged", `{"definitions":{"n":{"type":"object","properties":{"c":{"type":"array","items":{"$ref":"#/definitions/n"}}}}},"$ref":"#/definitions/n"}`,
			`{"definitions":{"n":{"type":"object","properties":{"c":{"type":"array","items":{"$ref":"#/definitions/n"}}}}},"$ref":"#/definitions/n"}`, "", ""},
		{"$ref by the root's $id", `{"$id":"http://example.com/s.json","definitions":{"a":{"type":"string"}},"properties":{"x":{"$ref":"http://example.com/s.json#/definitions/a"}}}`,
			`{"$id":"http://example.com/s.json","definitions":{"a":{"type":"integer"}},"properties":{"x":{"$ref":"http://example.com/s.json#/definitions/a"}}}`, "#/properties/x: TYPE_NARROWED", "#/properties/x: TYPE_NARROWED"},
		{"not added", `{"type":"string"}`, `{"type":"string","not":{"enum":["x"]}}`, "#/not: NOT_NARROWED", ""},
		{"false schema", `true`, `false`, "#: SCHEMA_NARROWED", ""},
	}
	var all strings.Builder
	defer func() { compareGolden(t, "testdata/jsoncompat.golden", all.String()) }()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, n := mustJSONDoc(t, tc.old), mustJSONDoc(t, tc.new)
			fmt.Fprintf(&all, "### %s\nold: %s\nnew: %s\n", tc.name, tc.old, tc.new)
			for _, m := range jsonIncompatibilities(n, o) {
				fmt.Fprintf(&all, "backward: %s\n", m)
			}
			for _, m := range jsonIncompatibilities(o, n) {
				fmt.Fprintf(&all, "forward: %s\n", m)
			}
			all.WriteString("\n")
			check := func(dir string, got []string, want string) {
				t.Helper()
				switch {
				case want == "" && len(got) > 0:
					t.Errorf("%s: %v, want compatible", dir, got)
				case want != "" && len(got) == 0:
					t.Errorf("%s: compatible, want %q", dir, want)
				case want != "" && !strings.HasPrefix(got[0], want):
					t.Errorf("%s: %v, want first message starting %q", dir, got, want)
				}
			}
			check("backward", jsonIncompatibilities(n, o), tc.backward)
			check("forward", jsonIncompatibilities(o, n), tc.forward)
		})
	}
}

// TestJSONCompatReferences: a $ref to another registered schema, by its
// reference name, is resolved for the comparison.
func TestJSONCompatReferences(t *testing.T) {
	main := `{"type":"object","properties":{"id":{"$ref":"cccd.json"}}}`
	oldDep := []dep{{name: "cccd.json", text: `{"type":"string","pattern":"^[0-9]{12}$"}`}}
	newDep := []dep{{name: "cccd.json", text: `{"type":"string"}`}}
	o, err := decodeJSONDoc(main, oldDep)
	if err != nil {
		t.Fatal(err)
	}
	n, err := decodeJSONDoc(main, newDep)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonIncompatibilities(n, o); len(got) != 0 {
		t.Errorf("backward = %v, want compatible", got)
	}
	if got := jsonIncompatibilities(o, n); len(got) == 0 || !strings.HasPrefix(got[0], "#/properties/id: PATTERN_CHANGED") {
		t.Errorf("forward = %v, want PATTERN_CHANGED at #/properties/id", got)
	}
}

// compareGolden compares got with the golden file (rewritten with -update).
func compareGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("messages differ from %s (run with -update if intended):\n%s", golden, got)
	}
}

// TestAvroCompatPaths: every Avro incompatibility names the field path,
// as Confluent's verbose messages do.
func TestAvroCompatPaths(t *testing.T) {
	holder := func(idType string) string {
		return `{"type":"record","name":"Land","fields":[{"name":"parcel","type":"string"},` +
			`{"name":"holder","type":{"type":"record","name":"Holder","fields":[{"name":"id","type":` + idType + `}]}},` +
			`{"name":"owners","type":{"type":"array","items":"Holder"}}]}`
	}
	cases := []struct {
		name           string
		reader, writer string
		want           string
	}{
		{"field type narrowed, nested", holder(`"int"`), holder(`"long"`), "READER_WRITER_MISMATCH: at /fields/holder/type/fields/id/type "},
		{"new field without default", avroNewNoDef, avroV1, "READER_FIELD_MISSING_DEFAULT_VALUE: at /fields/sex "},
		{"record field type changed", `{"type":"record","name":"R","fields":[{"name":"holder","type":"string"}]}`,
			`{"type":"record","name":"R","fields":[{"name":"holder","type":"int"}]}`, "READER_WRITER_MISMATCH: at /fields/holder/type "},
		{"array items", `{"type":"array","items":"int"}`, `{"type":"array","items":"string"}`, "READER_WRITER_MISMATCH: at /items "},
		{"top level", `"int"`, `"string"`, "READER_WRITER_MISMATCH: at / "},
		{"decimal inside a record", `{"type":"record","name":"R","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}}]}`,
			`{"type":"record","name":"R","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":4}}]}`,
			"DECIMAL_SCALE_MISMATCH: at /fields/amount/type "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := avroIncompatibilities(mustAvro(t, tc.reader), mustAvro(t, tc.writer))
			if len(got) == 0 || !strings.HasPrefix(got[0], tc.want) {
				t.Errorf("got %q, want a first message starting %q", got, tc.want)
			}
		})
	}
}
