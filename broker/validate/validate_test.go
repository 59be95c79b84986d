package validate

import (
	"encoding/json"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/schemas"
)

func dataset(t *testing.T, name string) schemas.Dataset {
	t.Helper()
	d, ok := schemas.MustLoad().Dataset(name)
	if !ok {
		t.Fatalf("no dataset %s", name)
	}
	return d
}

func TestJSONViolationsNameThePath(t *testing.T) {
	v, err := NewJSON(dataset(t, "land.land_use_right").Schema)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"certificate_no": "CS012345", "parcel_id": "12/34", "province_code": "001", "area_m2": 120.5,
		"land_use_purpose": "ODT", "holder_cccd": "001090012345", "holder_name": "Nguyễn Văn An", "holder_dob": "1990-01-02", "issued_on": "2020-05-06"}
	tests := []struct {
		name     string
		mutate   func(m map[string]any)
		wantPath string
	}{
		{"valid", func(map[string]any) {}, ""},
		{"missing required", func(m map[string]any) { delete(m, "holder_name") }, "$.holder_name"},
		{"pattern", func(m map[string]any) { m["holder_cccd"] = "12AB" }, "$.holder_cccd"},
		{"enum", func(m map[string]any) { m["land_use_purpose"] = "XYZ" }, "$.land_use_purpose"},
		{"type", func(m map[string]any) { m["area_m2"] = "big" }, "$.area_m2"},
		{"date format", func(m map[string]any) { m["issued_on"] = "06/05/2020" }, "$.issued_on"},
		{"extra field", func(m map[string]any) { m["secret"] = 1 }, "$.secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]any{}
			for k, x := range good {
				m[k] = x
			}
			tt.mutate(m)
			doc, _ := json.Marshal(m)
			vs := v.Validate(doc)
			if tt.wantPath == "" {
				if vs != nil {
					t.Fatalf("want valid, got %s", Summary(vs))
				}
				return
			}
			if len(vs) == 0 || vs[0].Path != tt.wantPath || vs[0].Message == "" {
				t.Fatalf("want a violation at %s, got %v", tt.wantPath, vs)
			}
		})
	}
	if vs := v.Validate([]byte("{not json")); len(vs) != 1 || vs[0].Path != "$" {
		t.Fatalf("malformed JSON: %v", vs)
	}
}

func TestAvroConvertAndEncode(t *testing.T) {
	a, err := NewAvro(dataset(t, "tax.taxpayer").Schema)
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]any{"tax_code": "8012345678", "cccd": "001090012345", "full_name": "Trần Thị Bình", "dob": "1990-01-02",
		"sex": "F", "address": "Hà Nội", "tax_office": "10100", "status": "ACTIVE", "registered_on": "2015-03-04"}
	out, vs := a.Convert(good)
	if vs != nil {
		t.Fatal(Summary(vs))
	}
	b, err := avro.Marshal(a.Schema(), out)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := avro.Unmarshal(a.Schema(), b, &back); err != nil || back["full_name"] != "Trần Thị Bình" {
		t.Fatal(back, err)
	}
	// Optional field omitted takes its default.
	delete(good, "address")
	if _, vs := a.Convert(good); vs != nil {
		t.Fatal(Summary(vs))
	}
	tests := []struct {
		name     string
		field    string
		value    any
		wantPath string
	}{
		{"enum", "sex", "X", "$.sex"},
		{"type", "full_name", 12.0, "$.full_name"},
		{"union type", "address", 5.0, "$.address"},
		{"unknown field", "nickname", "Bé", "$.nickname"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]any{}
			for k, x := range good {
				m[k] = x
			}
			m[tt.field] = tt.value
			if _, vs := a.Convert(m); len(vs) != 1 || vs[0].Path != tt.wantPath {
				t.Fatalf("want one violation at %s, got %v", tt.wantPath, vs)
			}
		})
	}
	m := map[string]any{"tax_code": "1"}
	if _, vs := a.Convert(m); len(vs) < 5 {
		t.Fatalf("every missing field should be reported, got %v", vs)
	}
}

func FuzzJSONValidate(f *testing.F) {
	v, err := NewJSON(schemas.MustLoad().Datasets()[0].Schema)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"tax_code":"1"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"area_m2":1e999}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, vi := range v.Validate(doc) {
			if vi.Path == "" || vi.Path[0] != '$' {
				t.Fatalf("violation without a path: %v", vi)
			}
		}
	})
}
