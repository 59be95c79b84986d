package synthetic

import (
	"encoding/json"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/xeipuuv/gojsonschema"
)

func TestPopulationChanges(t *testing.T) {
	d, ok := schemas.MustLoad().Dataset(PopulationDataset)
	if !ok {
		t.Fatal("no population dataset in the catalog")
	}
	sch, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(d.Schema))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	deaths := 0
	for i := uint64(0); i < 500; i++ {
		op, row := PopulationChange(3, 1000, i)
		op2, row2 := PopulationChange(3, 1000, i)
		b1, _ := json.Marshal(row)
		b2, _ := json.Marshal(row2)
		if op != op2 || string(b1) != string(b2) {
			t.Fatal("not deterministic")
		}
		res, err := sch.Validate(gojsonschema.NewBytesLoader(b1))
		if err != nil || !res.Valid() {
			t.Fatalf("record %d invalid: %v %v", i, res.Errors(), err)
		}
		id := row["personal_id"].(string)
		// every change carries the citizen's residence: a change is the whole row
		if res, _ := row["residence"].(string); res == "" {
			t.Fatalf("record %d (%s) carries no residence", i, op)
		}
		switch op {
		case connectors.OpCreate:
			if seen[id] || NewPop(3, 1000).Has(id) {
				t.Fatalf("registration %d reuses number of an existing citizen", i)
			}
			seen[id] = true
		case connectors.OpUpdate:
			deaths++
			if row["deceased"] != true || !NewPop(3, 1000).Has(id) {
				t.Fatalf("death %d is not of a registered citizen", i)
			}
			k := 0
			for k < 1000 && Citizen(3, k).ID != id {
				k++
			}
			if row["residence"] != Residence(3, k).Line {
				t.Fatalf("death %d changes the residence of citizen %d", i, k)
			}
		}
	}
	if deaths != 50 {
		t.Fatalf("%d deaths in 500", deaths)
	}
	cfg := DefaultConfig()
	cfg.Source = PopulationSource
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
