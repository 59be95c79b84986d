package schemas

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hamba/avro/v2"
)

func TestCatalogLoadsAndSchemasParse(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ds := c.Datasets()
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	want := []string{
		"civil_servant.employee",
		"civil_status.birth_registration", "civil_status.death_registration", "civil_status.marriage_registration",
		"insurance.health_insurance_card", "insurance.social_insurance_participant",
		"land.land_parcel", "land.land_transfer", "land.land_use_right",
		"population.citizen",
		"tax.taxpayer",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("datasets\n got %v\nwant %v", names, want)
	}
	for _, d := range ds {
		switch d.Format {
		case FormatAvro:
			if _, err := avro.Parse(d.Schema); err != nil {
				t.Errorf("%s: %v", d.Name, err)
			}
		case FormatJSON:
			var v map[string]any
			if err := json.Unmarshal([]byte(d.Schema), &v); err != nil {
				t.Errorf("%s: %v", d.Name, err)
			}
			if v["title"] != d.Topic() {
				t.Errorf("%s: title %q, want the topic %q", d.Name, v["title"], d.Topic())
			}
		}
		if d.Topic() != d.Name+".v1" || d.Subject() != d.Name+".v1-value" {
			t.Errorf("%s: topic %q subject %q", d.Name, d.Topic(), d.Subject())
		}
		if d.File != strings.ReplaceAll(d.Name, ".", "/")+".v1."+map[Format]string{FormatJSON: "json", FormatAvro: "avsc"}[d.Format] {
			t.Errorf("%s: file %s does not follow <domain>/<dataset>.v<N>.<ext>", d.Name, d.File)
		}
		if d.Owner != d.Domain() {
			t.Errorf("%s: owned by %s, not by its domain", d.Name, d.Owner)
		}
		// Every dataset names a person to reconcile, except the land parcel.
		if (d.Identity.ID == "") != (d.Name == "land.land_parcel") {
			t.Errorf("%s: identity %+v", d.Name, d.Identity)
		}
	}
}

// TestLoadRejectsBadCatalogs checks that a catalog naming fields its schema
// does not have stops the load with the dataset and field named.
func TestLoadRejectsBadCatalogs(t *testing.T) {
	const jsonRow = `{"type":"object","properties":{"no":{"type":"string"},"cccd":{"type":"string"},"name":{"type":"string"}}}`
	const avroRow = `{"type":"record","name":"R","fields":[{"name":"no","type":"string"},{"name":"cccd","type":"string"}]}`
	entry := func(format, file, extra string) string {
		return "datasets:\n  - name: a.b\n    version: 1\n    format: " + format + "\n    file: " + file + "\n    owner: a\n" + extra
	}
	tests := []struct {
		name    string
		catalog string
		want    string // substring of the error; "" = loads
	}{
		{"json ok", entry("json", "a/b.json", "    key: [no]\n    identity: {id: cccd, name: name}\n"), ""},
		{"avro ok", entry("avro", "a/b.avsc", "    key: [no]\n    identity: {id: cccd}\n"), ""},
		{"no identity ok", entry("json", "a/b.json", "    key: [no]\n"), ""},
		{"json key typo", entry("json", "a/b.json", "    key: [number]\n"), `key field "number" is not a field of a/b.json`},
		{"avro key typo", entry("avro", "a/b.avsc", "    key: [number]\n"), `key field "number" is not a field of a/b.avsc`},
		{"identity field typo", entry("json", "a/b.json", "    key: [no]\n    identity: {id: cccd, dob: dob}\n"), `identity dob field "dob" is not a field`},
		{"identity without id", entry("json", "a/b.json", "    key: [no]\n    identity: {name: name}\n"), "identity names no id field"},
		{"no key", entry("json", "a/b.json", ""), "key must name at least one field"},
		{"missing file", entry("json", "a/c.json", "    key: [no]\n"), "a/c.json"},
		{"schema not an object", entry("json", "a/list.json", "    key: [no]\n"), "cannot read its fields"},
		{"blocking ok", entry("json", "a/b.json", "    key: [no]\n    identity: {id: cccd, name: name}\n    linkage: {date_within_days: 30, blocking: [{name: n, keys: [\"name\", \"personal_id:6\"]}]}\n"), ""},
		{"blocking on an unknown field", entry("json", "a/b.json", "    key: [no]\n    identity: {id: cccd, name: name}\n    linkage: {blocking: [{name: n, keys: [postcode]}]}\n"), `key "postcode" is not one of`},
		{"blocking on a field the identity lacks", entry("json", "a/b.json", "    key: [no]\n    identity: {id: cccd, name: name}\n    linkage: {blocking: [{name: n, keys: [\"dob_year\"]}]}\n"), `key "dob_year" needs a field the identity does not name`},
		{"blocking rules of one name", entry("json", "a/b.json", "    key: [no]\n    identity: {id: cccd, name: name}\n    linkage: {blocking: [{name: n, keys: [name]}, {name: n, keys: [given]}]}\n"), `rule "n": give each rule its own name`},
		{"date window out of range", entry("json", "a/b.json", "    key: [no]\n    linkage: {date_within_days: 400}\n"), "date_within_days 400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"catalog.yaml": {Data: []byte(tt.catalog)},
				"a/b.json":     {Data: []byte(jsonRow)},
				"a/b.avsc":     {Data: []byte(avroRow)},
				"a/list.json":  {Data: []byte(`[1]`)},
			}
			c, err := load(fsys)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := c.Dataset("a.b"); !ok {
					t.Fatal("dataset a.b not loaded")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "datasets[0] (a.b)") {
				t.Fatalf("want an error naming a.b and %q, got %v", tt.want, err)
			}
		})
	}
}
