package validate

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func landRow() map[string]any {
	return map[string]any{"certificate_no": "CS012345", "parcel_id": "12/34", "province_code": "001", "area_m2": json.Number("120.5"),
		"land_use_purpose": "ODT", "holder_cccd": "001090012345", "holder_name": "Nguyễn Văn An", "holder_dob": "1990-01-02", "issued_on": "2020-05-06"}
}

// Numbers that cannot be represented and strings that are not clean text
// are refused with their path, as malformed, before gojsonschema sees them
// (1e5000000 made it panic).
func TestJSONRefusesUnrepresentableValues(t *testing.T) {
	v, err := NewJSON(dataset(t, "land.land_use_right").Schema)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		field string
		value any
		want  string // in the message; "" for valid
	}{
		{"plain number", "area_m2", json.Number("120.5"), ""},
		{"exact long text", "area_m2", json.Number("120.50000000000000000000001"), ""},
		{"huge exponent", "area_m2", json.Number("1e5000000"), "out of range"},
		{"overflow", "area_m2", json.Number("-1e400"), "out of range"},
		{"underflow", "area_m2", json.Number("1e-400"), "too small"},
		{"float64 infinity", "area_m2", math.Inf(1), "not finite"},
		{"float64 NaN", "area_m2", math.NaN(), "not finite"},
		{"not a JSON number", "area_m2", json.Number("0x10"), "not a JSON number"},
		{"NUL", "holder_name", "An\x00", "U+0000"},
		{"ESC", "holder_name", "\x1b[31mAn", "U+001B"},
		{"DEL", "holder_name", "An\x7f", "U+007F"},
		{"C1", "holder_name", "An\u0085", "U+0085"},
		{"line feed", "address", "line 1\nline 2", "U+000A"},
		{"invalid UTF-8", "holder_name", "Nguy\xe1n", "not valid UTF-8"},
		{"non-ASCII letters are fine", "holder_name", "Đặng Thị Ánh ¡ü", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			row := landRow()
			row[tt.field] = tt.value
			vs := v.ValidateValue(row)
			if tt.want == "" {
				if vs != nil {
					t.Fatalf("want valid, got %s", Summary(vs))
				}
				return
			}
			if len(vs) != 1 || vs[0].Path != "$."+tt.field || vs[0].Kind != KindMalformed || !strings.Contains(vs[0].Message, tt.want) {
				t.Fatalf("want one malformed violation at $.%s containing %q, got %#v", tt.field, tt.want, vs)
			}
			// The same number as JSON text, through Validate.
			if n, ok := tt.value.(json.Number); ok && validNumber(string(n)) {
				doc := []byte(`{"area_m2":` + string(n) + `}`)
				if vs := v.Validate(doc); len(vs) != 1 || vs[0].Path != "$.area_m2" || vs[0].Kind != KindMalformed {
					t.Fatalf("Validate(%s): %v", doc, vs)
				}
			}
		})
	}
}

const annotatedJSON = `{"type":"object","properties":{
	"note": {"type":"string", "x-lgsp-allow-control-chars": true},
	"lines": {"type":"array", "items": {"type":"string"}, "x-lgsp-allow-control-chars": true},
	"nested": {"type":"object", "properties": {"free": {"type":"string", "x-lgsp-allow-control-chars": true}, "strict": {"type":"string"}}},
	"plain": {"type":"string"}}}`

// x-lgsp-allow-control-chars lets a field hold tab, CR and LF, and nothing
// more; fields without it hold none.
func TestJSONAllowControlChars(t *testing.T) {
	v, err := NewJSON(annotatedJSON)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		row      map[string]any
		wantPath string
	}{
		{map[string]any{"note": "a\tb\r\nc", "lines": []any{"x\ny"}, "nested": map[string]any{"free": "p\tq"}}, ""},
		{map[string]any{"note": "a\x00b"}, "$.note"},
		{map[string]any{"note": "a\x1bb"}, "$.note"},
		{map[string]any{"plain": "a\tb"}, "$.plain"},
		{map[string]any{"lines": []any{"ok", "bad\u009b"}}, "$.lines[1]"},
		{map[string]any{"nested": map[string]any{"free": "ok\n", "strict": "no\n"}}, "$.nested.strict"},
	}
	for _, tt := range tests {
		vs := v.ValidateValue(tt.row)
		if tt.wantPath == "" && vs != nil || tt.wantPath != "" && (len(vs) != 1 || vs[0].Path != tt.wantPath) {
			t.Errorf("%v: want a violation at %q, got %v", tt.row, tt.wantPath, vs)
		}
	}
	if _, err := NewJSON(`{"properties":{"a":{"x-lgsp-allow-control-chars":"yes"}}}`); err == nil || !strings.Contains(err.Error(), "$.a") {
		t.Fatalf("non-boolean annotation accepted: %v", err)
	}
}

const numbersAvro = `{"type":"record","name":"R","namespace":"t","fields":[
	{"name":"i","type":"int","default":0},
	{"name":"l","type":"long","default":0},
	{"name":"f","type":"float","default":0},
	{"name":"d","type":"double","default":0},
	{"name":"ol","type":["null","long"],"default":null},
	{"name":"note","type":["null","string"],"default":null,"x-lgsp-allow-control-chars":true},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"s","type":"string","default":""}]}`

func TestAvroRefusesUnrepresentableValues(t *testing.T) {
	a, err := NewAvro(numbersAvro)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		field string
		value any
		want  string // in the message; "" for valid
	}{
		{"l", json.Number("9223372036854775807"), ""},
		{"l", json.Number("1e3"), ""},
		{"l", 1000.0, ""},
		{"i", json.Number("2147483647"), ""},
		{"d", json.Number("1e308"), ""},
		{"f", json.Number("3.4e38"), ""},
		{"note", "line 1\r\nline 2\tend", ""},
		{"l", json.Number("9223372036854775808"), "out of range for an Avro long"},
		{"l", json.Number("1e5000000"), "out of range"},
		{"l", json.Number("1.5"), "not an integer"},
		{"l", json.Number("1e-400"), "too small"},
		{"l", 1.5, "not an integer"},
		{"l", 1e300, "beyond the integers"},
		{"i", json.Number("2147483648"), "out of range for an Avro int"},
		{"d", json.Number("1e5000000"), "out of range"},
		{"d", json.Number("-1e-400"), "too small"},
		{"d", math.Inf(-1), "not finite"},
		{"f", json.Number("1e39"), "out of range for an Avro float"},
		{"f", json.Number("1e-50"), "too small for an Avro float"},
		{"ol", json.Number("1.5"), "not an integer"},
		{"ol", json.Number("99999999999999999999"), "out of range for an Avro long"},
		{"s", "a\x00b", "U+0000"},
		{"s", "a\tb", "U+0009"},
		{"s", "\xff", "not valid UTF-8"},
		{"note", "a\x1bb", "allows only tab"},
		{"tags", []any{"ok", "b\u0080"}, "U+0080"},
	}
	for _, tt := range tests {
		_, vs := a.Convert(map[string]any{tt.field: tt.value})
		if tt.want == "" {
			if vs != nil {
				t.Errorf("%s=%v: want valid, got %s", tt.field, tt.value, Summary(vs))
			}
			continue
		}
		wantPath := "$." + tt.field
		if tt.field == "tags" {
			wantPath += "[1]"
		}
		if len(vs) != 1 || vs[0].Path != wantPath || vs[0].Kind != KindMalformed || !strings.Contains(vs[0].Message, tt.want) {
			t.Errorf("%s=%v: want one malformed violation at %s containing %q, got %#v", tt.field, tt.value, wantPath, tt.want, vs)
		}
	}
	if _, err := NewAvro(`{"type":"record","name":"R","fields":[{"name":"a","type":"string","x-lgsp-allow-control-chars":1}]}`); err == nil {
		t.Fatal("non-boolean annotation accepted")
	}
}

// The shipped Avro datasets: an int and a long of the catalog.
func TestAvroCatalogNumbers(t *testing.T) {
	a, err := NewAvro(dataset(t, "insurance.social_insurance_participant").Schema)
	if err != nil {
		t.Fatal(err)
	}
	_, vs := a.Convert(map[string]any{"contribution_salary": json.Number("1e5000000")})
	found := false
	for _, v := range vs {
		found = found || v.Path == "$.contribution_salary" && v.Kind == KindMalformed
	}
	if !found {
		t.Fatalf("1e5000000 for a long: %v", vs)
	}
}
