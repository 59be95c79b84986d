package runtime_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
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

// The dev register is seeded with the synthetic residences, and the
// residence of a population change reaches the register: a registration
// with one, a move changing it, a change without one clearing it.
func TestPopulationStreamCarriesResidence(t *testing.T) {
	c := devConfig(t, t.TempDir())
	bus := start(t, c)
	defer bus.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	seeded := map[string]string{}
	for i := 0; i < c.Synthetic.Population; i += 97 {
		seeded[synthetic.Citizen(c.Synthetic.Seed, i).ID] = synthetic.Residence(c.Synthetic.Seed, i).Line
	}
	found := 0
	for _, got := range registerByID(t, bus) {
		if want, ok := seeded[got.ID]; ok {
			found++
			if want == "" || got.Residence != want {
				t.Errorf("seeded citizen %s has residence %q, want %q", got.ID, got.Residence, want)
			}
		}
	}
	if found != len(seeded) {
		t.Fatalf("%d of %d seeded citizens in the register", found, len(seeded))
	}

	newcomer := synthetic.Citizen(c.Synthetic.Seed, c.Synthetic.Population+5)
	row := map[string]any{"personal_id": newcomer.ID, "full_name": newcomer.FullName, "dob": newcomer.DOB, "sex": newcomer.Sex,
		"birth_province": newcomer.BirthProvince, "deceased": false, "old_cmnd": nil}
	token := sourceToken(t, bus, synthetic.PopulationSource)
	for _, step := range []struct {
		name, op  string
		residence any
		want      string
	}{
		{"registration", "c", "Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh", "Số 12 Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh"},
		{"move", "u", "Thôn Đông, Xã Hòa Phú, Huyện Hòa Vang, Thành phố Đà Nẵng", "Thôn Đông, Xã Hòa Phú, Huyện Hòa Vang, Thành phố Đà Nẵng"},
		{"unknown again", "u", nil, ""},
	} {
		row["residence"] = step.residence
		body, _ := json.Marshal(map[string]any{"records": []any{map[string]any{"dataset": synthetic.PopulationDataset, "op": step.op, "after": row}}})
		if code, raw := postAs(t, "http://"+bus.Addrs().API+"/v1/sources/population/records", token, "application/json", body); code != 200 {
			t.Fatalf("%s: push: %d %s", step.name, code, raw)
		}
		for {
			got, ok := registerByID(t, bus)[newcomer.ID]
			if ok && got.Residence == step.want {
				if got.FullName != newcomer.FullName || got.DOB != newcomer.DOB {
					t.Fatalf("%s: register has %+v", step.name, got)
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: register has %+v (present %v), want residence %q", step.name, got, ok, step.want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// registerByID reads the bus's population register.
func registerByID(t *testing.T, bus *runtime.Bus) map[string]store.Citizen {
	t.Helper()
	out := map[string]store.Citizen{}
	if err := bus.Store.ScanCitizens(context.Background(), func(c store.Citizen) error {
		out[c.ID] = c
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
