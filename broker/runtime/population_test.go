package runtime_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/examples/synthetic"
)

// The population database's change stream keeps the register and the
// reconciliation index current: new citizens become known, deaths are
// reconciled as deceased from then on.
func TestPopulationStreamKeepsIndexCurrent(t *testing.T) {
	c := devConfig(t, t.TempDir())
	c.Connectors = []config.Connector{{Name: "population", Adapter: "synthetic", Config: map[string]any{
		"source": "population", "seed": c.Synthetic.Seed, "population": c.Synthetic.Population, "limit": 30, "rate_per_second": 0}}}
	bus := start(t, c)
	defer bus.Close(context.Background())
	want := c.Synthetic.Population + 27 // 30 changes: 27 registrations, 3 deaths
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for bus.Index.Len() < want {
		if ctx.Err() != nil {
			t.Fatalf("index has %d citizens, want %d", bus.Index.Len(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n, _ := bus.Store.CountCitizens(ctx); n != int64(want) {
		t.Fatalf("register has %d citizens, want %d", n, want)
	}
	_, dead := synthetic.PopulationChange(c.Synthetic.Seed, c.Synthetic.Population, 9)
	row := map[string]any{"tax_code": "8099999999", "cccd": dead["personal_id"], "full_name": dead["full_name"], "dob": dead["dob"], "sex": dead["sex"],
		"tax_office": "10100", "status": "ACTIVE", "registered_on": "2020-01-01"}
	body, _ := json.Marshal(map[string]any{"dataset": "tax.taxpayer", "after": row})
	var res pushResult
	token := sourceToken(t, bus, "tax")
	for ctx.Err() == nil {
		code, raw := postAs(t, "http://"+bus.Addrs().API+"/v1/sources/tax/records", token, "application/json", body)
		if code != 200 || json.Unmarshal(raw, &res) != nil {
			t.Fatalf("push: %d %s", code, raw)
		}
		if res.Results[0].Identity == "deceased" {
			return
		}
		time.Sleep(100 * time.Millisecond) // the death may still be on its way to the index
	}
	t.Fatalf("a record about a dead citizen reconciles as %q", res.Results[0].Identity)
}
