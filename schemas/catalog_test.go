package schemas

import (
	"encoding/json"
	"testing"

	"github.com/hamba/avro/v2"
)

func TestCatalogLoadsAndSchemasParse(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ds := c.Datasets()
	if len(ds) != 6 {
		t.Fatalf("want the five ministries' datasets and the population, got %d", len(ds))
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
		}
		if d.Topic() != d.Name+".v1" || d.Subject() != d.Name+".v1-value" {
			t.Errorf("%s: topic %q subject %q", d.Name, d.Topic(), d.Subject())
		}
		if d.Identity.ID == "" {
			t.Errorf("%s: no identity id field", d.Name)
		}
	}
}
