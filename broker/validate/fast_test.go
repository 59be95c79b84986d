package validate

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/xeipuuv/gojsonschema"
)

// baseRows are a valid row of every JSON Schema dataset of the catalog:
// the first valid fixture of schemas/testdata/rows when there is one.
func baseRows(t testing.TB) map[string]map[string]any {
	t.Helper()
	rows := map[string]map[string]any{
		"land.land_use_right": {"certificate_no": "CS012345", "parcel_id": "12/34", "province_code": "001", "area_m2": 120.5,
			"land_use_purpose": "ODT", "holder_cccd": "001090012345", "holder_name": "Nguyễn Văn An", "holder_dob": "1990-01-02",
			"issued_on": "2020-05-06", "address": "Số 3 phố Huế, Hà Nội"},
		"civil_status.birth_registration": {"registration_no": "001/2024/123", "child_cccd": "001224000123", "child_name": "Lê Minh Khang",
			"child_dob": "2024-03-01", "child_sex": "M", "birth_province": "001", "mother_cccd": nil, "mother_name": "Phạm Thị Hoa",
			"father_name": "Lê Văn Nam", "registered_on": "2024-03-10"},
		"civil_servant.employee": {"employee_id": "CB00000001", "cccd": "001090012345", "full_name": "Trần Thị Bình", "dob": "1990-01-02",
			"sex": "F", "agency_code": "BNV", "position": "Chuyên viên", "salary_coefficient": 2.34, "start_date": "2015-09-01"},
	}
	files, err := filepath.Glob("../../schemas/testdata/rows/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var fx struct {
			Valid []map[string]any `json:"valid"`
		}
		if err := json.Unmarshal(b, &fx); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(fx.Valid) > 0 {
			rows[strings.TrimSuffix(filepath.Base(f), ".json")] = fx.Valid[0]
		}
	}
	return rows
}

// jsonDatasets are the catalog's JSON Schema datasets, sorted by name.
func jsonDatasets(t testing.TB) []schemas.Dataset {
	var out []schemas.Dataset
	for _, d := range schemas.MustLoad().Datasets() {
		if d.Format == schemas.FormatJSON {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		t.Fatal("no JSON Schema dataset in the catalog")
	}
	return out
}

// reference is gojsonschema's verdict, as ValidateValue reaches it.
func reference(t testing.TB, j *JSON, row map[string]any) bool {
	t.Helper()
	res, err := j.schema.Validate(gojsonschema.NewRawLoader(toJSONValue(row)))
	if err != nil {
		t.Fatal(err)
	}
	return res.Valid()
}

// Every JSON Schema of the catalog has a fast form, and it finds the
// catalog's sample rows valid (so the pipeline skips gojsonschema on them).
func TestFastFormCoversCatalog(t *testing.T) {
	rows := baseRows(t)
	for _, d := range jsonDatasets(t) {
		j, err := NewJSON(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		if !j.HasFastForm() {
			t.Errorf("%s: no fast form", d.Name)
			continue
		}
		row, ok := rows[d.Name]
		if !ok {
			t.Errorf("%s: no sample row in baseRows", d.Name)
			continue
		}
		if got := j.fast.check(row); got != valid || !reference(t, j, row) {
			t.Errorf("%s: sample row: fast %v, gojsonschema valid %v", d.Name, got, reference(t, j, row))
		}
	}
}

// A schema with a keyword the fast form does not cover gets none, and
// Check is then ValidateValue.
func TestFastFormOnlyForKnownKeywords(t *testing.T) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"type":"string","const":"x"}}}`,
		`{"type":"object","anyOf":[{"required":["a"]}]}`,
		`{"type":"object","additionalProperties":{"type":"string"}}`,
		`{"type":"object","properties":{"a":{"type":"array","items":{"type":"string"}}}}`,
		`{"type":"object","properties":{"a":{"enum":[1,2]}}}`,
		`{"type":"object","properties":{"a":{"$ref":"#/definitions/x"}},"definitions":{"x":{"type":"string"}}}`,
		`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","properties":{"a":{"type":"number","minimum":0,"exclusiveMinimum":true}}}`,
		`{"type":"object","properties":{"a":true}}`,
	} {
		j, err := NewJSON(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if j.HasFastForm() {
			t.Errorf("%s: has a fast form", s)
		}
		if got, want := Summary(j.Check(map[string]any{"a": 7})), Summary(j.ValidateValue(map[string]any{"a": 7})); got != want {
			t.Errorf("%s: Check %q, ValidateValue %q", s, got, want)
		}
	}
	j, err := NewJSON(`{"type":"object","properties":{"a":{"type":"string","x-lgsp-allow-control-chars":true,"description":"d"}}}`)
	if err != nil || !j.HasFastForm() {
		t.Fatalf("annotations must not prevent the fast form: %v", err)
	}
}

// The edges of each keyword: the fast verdict (when it gives one) is
// gojsonschema's, and Check's violations are ValidateValue's.
func TestFastVerdicts(t *testing.T) {
	rows := baseRows(t)
	tests := []struct {
		dataset string
		set     map[string]any
		unset   string
		want    bool
	}{
		{"land.land_use_right", nil, "", true},
		{"land.land_use_right", map[string]any{"area_m2": 100000000.0}, "", true},
		{"land.land_use_right", map[string]any{"area_m2": json.Number("100000000.0000000000000001")}, "", false},
		{"land.land_use_right", map[string]any{"area_m2": 100000000.000000001}, "", true}, // the same float as 1e8
		{"land.land_use_right", map[string]any{"area_m2": 100000000.00000001}, "", false}, // the next float up
		{"land.land_use_right", map[string]any{"area_m2": 100000000.0000001}, "", false},
		{"land.land_use_right", map[string]any{"area_m2": 0.0}, "", false},
		{"land.land_use_right", map[string]any{"area_m2": 5e-324}, "", true},
		{"land.land_use_right", map[string]any{"area_m2": json.Number("1e-400")}, "", true},
		{"land.land_use_right", map[string]any{"area_m2": -1}, "", false},
		{"land.land_use_right", map[string]any{"area_m2": int64(100000000)}, "", true},
		{"land.land_use_right", map[string]any{"area_m2": "12"}, "", false},
		{"land.land_use_right", map[string]any{"area_m2": nil}, "", false},
		{"land.land_use_right", map[string]any{"address": strings.Repeat("ệ", 200)}, "", true},
		{"land.land_use_right", map[string]any{"address": strings.Repeat("ệ", 201)}, "", false},
		{"land.land_use_right", map[string]any{"holder_name": ""}, "", false},
		{"land.land_use_right", map[string]any{"holder_cccd": "001090012345\n"}, "", false},
		{"land.land_use_right", map[string]any{"holder_cccd": "001090012"}, "", true},
		{"land.land_use_right", map[string]any{"holder_dob": "1990-02-30"}, "", false},
		{"land.land_use_right", map[string]any{"land_use_purpose": "odt"}, "", false},
		{"land.land_use_right", map[string]any{"land_use_purpose": true}, "", false},
		{"land.land_use_right", map[string]any{"extra": "x"}, "", false},
		{"land.land_use_right", nil, "holder_dob", false},
		{"land.land_use_right", nil, "address", true},
		{"land.land_parcel", map[string]any{"map_sheet_no": 12.0}, "", true},
		{"land.land_parcel", map[string]any{"map_sheet_no": json.Number("12.0")}, "", true},
		{"land.land_parcel", map[string]any{"map_sheet_no": json.Number("1.2e1")}, "", true},
		{"land.land_parcel", map[string]any{"map_sheet_no": 12.5}, "", false},
		{"land.land_parcel", map[string]any{"map_sheet_no": 9999}, "", true},
		{"land.land_parcel", map[string]any{"map_sheet_no": 10000}, "", false},
		{"land.land_parcel", map[string]any{"address": nil}, "", true},
		{"land.land_transfer", map[string]any{"price_vnd": 1e15}, "", true},
		{"land.land_transfer", map[string]any{"price_vnd": 1.0000000000000002e15}, "", false},
		{"land.land_transfer", map[string]any{"price_vnd": json.Number("1000000000000000")}, "", true},
		{"land.land_transfer", map[string]any{"price_vnd": json.Number("1000000000000001")}, "", false},
		{"land.land_transfer", map[string]any{"registered_at": "2024-01-02"}, "", false},
		{"civil_status.death_registration", map[string]any{"cause_category": nil}, "", true},
		{"civil_status.death_registration", map[string]any{"cause_category": "natural"}, "", true},
		{"civil_status.death_registration", map[string]any{"cause_category": "Natural"}, "", false},
		{"civil_status.death_registration", map[string]any{"deceased_name": "Nguye\u0302\u0303n"}, "", false},
		{"civil_servant.employee", map[string]any{"salary_coefficient": 1}, "", true},
		{"civil_servant.employee", map[string]any{"salary_coefficient": 0.9999999999999999}, "", false},
		{"population.citizen", map[string]any{"deceased": "false"}, "", false},
	}
	for _, tt := range tests {
		d, ok := schemas.MustLoad().Dataset(tt.dataset)
		if !ok {
			t.Fatalf("no dataset %s", tt.dataset)
		}
		j, err := NewJSON(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		row := maps.Clone(rows[tt.dataset])
		maps.Copy(row, tt.set)
		delete(row, tt.unset)
		ref := reference(t, j, row)
		if ref != tt.want {
			t.Fatalf("%s %v -%s: gojsonschema says valid=%v, the test expects %v", tt.dataset, tt.set, tt.unset, ref, tt.want)
		}
		if got := j.fast.check(row); got != unsure && (got == valid) != ref {
			t.Errorf("%s %v -%s: fast %v, gojsonschema valid=%v", tt.dataset, tt.set, tt.unset, got, ref)
		}
		if got, want := Summary(j.Check(row)), Summary(j.ValidateValue(row)); got != want {
			t.Errorf("%s %v -%s: Check %q, ValidateValue %q", tt.dataset, tt.set, tt.unset, got, want)
		}
	}
}

// FuzzFastValidatorAgrees: for every JSON Schema of the catalog, a valid
// row patched by the fuzzer (a key "-name" removes the field) gets the
// same verdict from the fast form (when it gives one) as from
// gojsonschema, and Check reports what ValidateValue reports. Numbers are
// decoded as float64 or as json.Number, as adapters hand them over.
func FuzzFastValidatorAgrees(f *testing.F) {
	datasets := jsonDatasets(f)
	rows := baseRows(f)
	validators := make([]*JSON, len(datasets))
	for i, d := range datasets {
		j, err := NewJSON(d.Schema)
		if err != nil {
			f.Fatal(err)
		}
		validators[i] = j
	}
	for i := range datasets {
		f.Add(uint8(i), []byte(`{}`), false)
		f.Add(uint8(i), []byte(`{"-province_code":0,"area_m2":1e8}`), true)
	}
	f.Add(uint8(0), []byte(`{"price_vnd":1000000000000000.5,"map_sheet_no":"7"}`), true)
	f.Fuzz(func(t *testing.T, which uint8, patch []byte, useNumber bool) {
		i := int(which) % len(datasets)
		j := validators[i]
		dec := json.NewDecoder(bytes.NewReader(patch))
		if useNumber {
			dec.UseNumber()
		}
		var p map[string]any
		if err := dec.Decode(&p); err != nil {
			return
		}
		row := maps.Clone(rows[datasets[i].Name])
		for k, v := range p {
			if name, ok := strings.CutPrefix(k, "-"); ok {
				delete(row, name)
			} else {
				row[k] = v
			}
		}
		got, want := j.Check(row), j.ValidateValue(row)
		if Summary(got) != Summary(want) {
			t.Fatalf("%s %s: Check %q, ValidateValue %q", datasets[i].Name, patch, Summary(got), Summary(want))
		}
		if checkValues(row, j.allow, "$", nil) != nil {
			return // gojsonschema is never asked about such a row
		}
		if v := j.fast.check(row); v != unsure && (v == valid) != reference(t, j, row) {
			t.Fatalf("%s %s: fast %v, gojsonschema disagrees", datasets[i].Name, patch, v)
		}
	})
}
