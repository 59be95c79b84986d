package schemas_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"golang.org/x/text/unicode/norm"

	"github.com/lgsp-bus/lgsp/broker/validate"
	"github.com/lgsp-bus/lgsp/schemas"
)

// rowFixtures are the sample rows of one dataset in testdata/rows/<name>.json.
// Every invalid case is valid[0] with fields set or removed, and names the
// one JSON path the bus's validator must report.
type rowFixtures struct {
	Valid   []map[string]any `json:"valid"`
	Invalid []struct {
		Why   string         `json:"why"`
		Set   map[string]any `json:"set"`
		Unset []string       `json:"unset"`
		Path  string         `json:"path"`
	} `json:"invalid"`
}

// mustHaveFixtures are the datasets whose rows must have fixtures.
var mustHaveFixtures = []string{
	"civil_status.death_registration",
	"civil_status.marriage_registration",
	"insurance.social_insurance_participant",
	"land.land_parcel",
	"land.land_transfer",
}

// rowValidator checks a row exactly as the pipeline does: JSON Schema rows
// with validate.JSON, Avro rows converted by validate.Avro and encoded.
func rowValidator(t *testing.T, d schemas.Dataset) func(row map[string]any) []validate.Violation {
	t.Helper()
	switch d.Format {
	case schemas.FormatJSON:
		v, err := validate.NewJSON(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return func(row map[string]any) []validate.Violation {
			fromValue := v.ValidateValue(row)
			doc, err := json.Marshal(row)
			if err != nil {
				t.Fatal(err)
			}
			// The row as Go values (what connectors hand over) and as
			// encoded JSON must be judged the same.
			if fromDoc := v.Validate(doc); validate.Summary(fromDoc) != validate.Summary(fromValue) {
				t.Errorf("document and value disagree:\n doc   %s\n value %s", validate.Summary(fromDoc), validate.Summary(fromValue))
			}
			return fromValue
		}
	case schemas.FormatAvro:
		a, err := validate.NewAvro(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return func(row map[string]any) []validate.Violation {
			out, vs := a.Convert(row)
			if vs != nil {
				return vs
			}
			b, err := avro.Marshal(a.Schema(), out)
			if err != nil {
				return []validate.Violation{{Path: "$", Message: "cannot encode: " + err.Error()}}
			}
			var back map[string]any
			if err := avro.Unmarshal(a.Schema(), b, &back); err != nil || len(back) != len(a.Schema().(*avro.RecordSchema).Fields()) {
				t.Errorf("round trip: %v %v", back, err)
			}
			return nil
		}
	}
	t.Fatalf("%s: format %q", d.Name, d.Format)
	return nil
}

func loadFixtures(t *testing.T, path string) rowFixtures {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers stay exact, as the HTTP push adapter reads them
	dec.DisallowUnknownFields()
	var f rowFixtures
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(f.Valid) == 0 || len(f.Invalid) == 0 {
		t.Fatalf("%s: needs valid and invalid rows", path)
	}
	return f
}

func TestFixtureRowsAgainstTheBusValidator(t *testing.T) {
	cat := schemas.MustLoad()
	files, err := filepath.Glob("testdata/rows/*.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			d, ok := cat.Dataset(name)
			if !ok {
				t.Fatalf("%s: no dataset %s in the catalog", file, name)
			}
			f := loadFixtures(t, file)
			check := rowValidator(t, d)
			for i, row := range f.Valid {
				if vs := check(row); vs != nil {
					t.Errorf("valid[%d]: %s", i, validate.Summary(vs))
				}
				for _, k := range d.Key {
					if s, _ := row[k].(string); s == "" {
						t.Errorf("valid[%d]: key field %s is empty", i, k)
					}
				}
				for field, v := range row {
					if s, ok := v.(string); ok && !norm.NFC.IsNormalString(s) {
						t.Errorf("valid[%d]: %s is not NFC", i, field)
					}
				}
			}
			paths := map[string]bool{}
			for _, c := range f.Invalid {
				t.Run(c.Why, func(t *testing.T) {
					row := maps.Clone(f.Valid[0])
					for k, v := range c.Set {
						row[k] = v
						// A decomposed name must be the valid name in
						// another normalisation form, nothing else.
						if s, ok := v.(string); ok && !norm.NFC.IsNormalString(s) {
							if want, _ := f.Valid[0][k].(string); norm.NFC.String(s) != want {
								t.Fatalf("%s: NFC of %q is not the valid %q", k, s, want)
							}
						}
					}
					for _, k := range c.Unset {
						if _, ok := row[k]; !ok {
							t.Fatalf("unset %s: not in valid[0]", k)
						}
						delete(row, k)
					}
					vs := check(row)
					if len(vs) == 0 {
						t.Fatalf("accepted, want a violation at %s", c.Path)
					}
					for _, v := range vs {
						if v.Path != c.Path || v.Message == "" {
							t.Errorf("violation %q, want only %s", v, c.Path)
						}
					}
				})
				paths[c.Path] = true
			}
			// Every key and identity field has an invalid case.
			for _, field := range append(slices.Clone(d.Key), d.Identity.ID, d.Identity.Name, d.Identity.DOB, d.Identity.Sex) {
				if field != "" && !paths["$."+field] && d.Format == schemas.FormatJSON {
					t.Errorf("no invalid case for %s", field)
				}
			}
		})
	}
	for _, name := range mustHaveFixtures {
		if !seen[name] {
			t.Errorf("no testdata/rows/%s.json", name)
		}
	}
}
