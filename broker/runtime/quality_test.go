package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// The data-quality loop through a dev bus with the synthetic streams
// (about 4 % bad records): the scorecard counts equal the records the
// connectors sent, a corrected resubmission of a rejected record closes
// its item and is published on the canonical topic, and a death in the
// population stream turns up as an alive finding for the health
// insurance card of that citizen.
func TestQualityThroughDevBus(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	c := devConfig(t, t.TempDir())
	const limit = 400
	c.Synthetic.Enabled, c.Synthetic.Limit, c.Synthetic.RatePerSecond = true, limit, 0
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	op := operatorToken(t, bus)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// 1. Counts: every record the connectors sent, once.
	conns := len(runtime.Sources(bus.Catalog)) // the five ministries and the population database
	sent := uint64(0)
	for sent < limit*uint64(conns) {
		if ctx.Err() != nil {
			t.Fatalf("connectors acknowledged %d records, want %d", sent, limit*conns)
		}
		time.Sleep(100 * time.Millisecond)
		sent = 0
		for _, s := range bus.Connectors() {
			sent += s.Acked
		}
	}
	var sc quality.Scorecard
	for sc.Total.Received < int64(sent) {
		if ctx.Err() != nil {
			t.Fatalf("scorecard counts %d records, the connectors sent %d", sc.Total.Received, sent)
		}
		time.Sleep(200 * time.Millisecond)
		if code := operatorGet(t, api+"/v1/quality", op, &sc); code != 200 {
			t.Fatalf("GET /v1/quality: %d", code)
		}
	}
	snap := bus.Metrics.Snapshot()
	if sc.Total.Received != int64(sent) || sc.Total.Received != int64(snap.In) {
		t.Fatalf("received %d, connectors sent %d, the pipeline took in %d", sc.Total.Received, sent, snap.In)
	}
	if sc.Total.Valid != int64(snap.Published) || sc.Total.Received-sc.Total.Valid != int64(snap.DeadLettered) || snap.DeadLettered == 0 {
		t.Fatalf("valid %d / rejected %d, the pipeline published %d and dead-lettered %d", sc.Total.Valid, sc.Total.Received-sc.Total.Valid, snap.Published, snap.DeadLettered)
	}
	for outcome, n := range map[string]int64{"verified": sc.Total.Verified, "mismatch": sc.Total.Mismatch, "not_found": sc.Total.NotFound, "invalid_id": sc.Total.InvalidID} {
		if uint64(n) != snap.Outcomes[outcome] {
			t.Errorf("%s: scorecard %d, pipeline %d", outcome, n, snap.Outcomes[outcome])
		}
	}
	// The synthetic connectors stream every dataset of the catalog, several
	// per ministry: a card each.
	if want := len(bus.Catalog.Datasets()); len(sc.Datasets) != want || len(sc.Reasons) == 0 || sc.Total.Indicators.Correct == nil || *sc.Total.Indicators.Correct >= 1 {
		t.Fatalf("scorecard: %d datasets, want %d (%+v), %d reasons, correct %v", len(sc.Datasets), want, sc.Datasets, len(sc.Reasons), *sc.Total.Indicators.Correct)
	}
	// The same figures as Prometheus metrics.
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf(`lgsp_quality_records_total{class="received",dataset="tax.taxpayer",source="tax"} %d`, limit); !strings.Contains(string(metricsText), want) {
		t.Errorf("metrics lack %s", want)
	}
	// The items follow the counters in the same flush.
	for rejected := -1; rejected != int(snap.DeadLettered); {
		var items struct{ Items []quality.Item }
		if code := operatorGet(t, api+"/v1/quality/items?limit=1000", op, &items); code != 200 {
			t.Fatalf("items: %d", code)
		}
		rejected = 0
		for _, it := range items.Items {
			if !map[string]bool{"mismatch": true, "not_found": true, "invalid_id": true, "deceased": true, quality.KindDeceasedActive: true}[it.Kind] {
				rejected++
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("%d dead-letter items, %d dead letters", rejected, snap.DeadLettered)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// 2. The land registry corrects a rejected record and resubmits it.
	land := sourceToken(t, bus, "land")
	register := registerByID(t, bus)
	var target quality.Item
	var fixed map[string]any
	var mine struct{ Items []quality.Item }
	if code := operatorGet(t, api+"/v1/quality/items?status=open&dataset=land.land_use_right", land, &mine); code != 200 {
		t.Fatalf("land's items: %d", code)
	}
	for _, it := range mine.Items {
		if f := fixLandRow(it, register); f != nil {
			target, fixed = it, f
			break
		}
	}
	if fixed == nil {
		t.Fatalf("no rejected land record to correct among %d items", len(mine.Items))
	}
	body, _ := json.Marshal(map[string]any{"dataset": "land.land_use_right", "op": "c", "after": fixed})
	code, raw := postAs(t, fmt.Sprintf("%s/v1/quality/items/%d/resubmit", api, target.ID), land, "application/json", body)
	var out quality.Outcome
	if code != 200 || json.Unmarshal(raw, &out) != nil || out.Item.Status != store.ItemAccepted {
		t.Fatalf("resubmit item %d (%s at %s): %d %s", target.ID, target.Kind, target.Path, code, raw)
	}
	found := false
	for _, m := range readAll(t, bus.Addrs().Kafka, "land.land_use_right.v1", int(snapTopic(sc, "land.land_use_right"))+1) {
		if envelope.HeaderValue(m.Headers, contract.HeaderID) == out.Result.EventID {
			found = true
		}
	}
	if !found {
		t.Fatalf("the corrected record %s is not on the canonical topic", out.Result.EventID)
	}
	// The insurance agency may not touch the land registry's item.
	if code, raw := postAs(t, fmt.Sprintf("%s/v1/quality/items/%d/discard", api, target.ID), sourceToken(t, bus, "insurance"), "application/json", []byte(`{"reason":"x"}`)); code != 403 {
		t.Fatalf("another ministry discards: %d %s", code, raw)
	}

	// 3. A citizen with an active health insurance card dies.
	var card store.StateRow
	errFound := errors.New("found")
	if err := bus.Store.ScanState(ctx, "insurance.health_insurance_card", func(r store.StateRow) error {
		var row map[string]any
		_ = json.Unmarshal(r.Row, &row)
		if id, _ := row["cccd"].(string); id != "" && !register[id].Deceased && register[id].ID != "" {
			card = r
			return errFound
		}
		return nil
	}); !errors.Is(err, errFound) {
		t.Fatalf("no health insurance card in the state: %v", err)
	}
	var cardRow map[string]any
	_ = json.Unmarshal(card.Row, &cardRow)
	holder := register[cardRow["cccd"].(string)]
	death := map[string]any{"personal_id": holder.ID, "full_name": holder.FullName, "dob": holder.DOB, "sex": holder.Sex,
		"birth_province": holder.BirthProvince, "deceased": true, "old_cmnd": nil, "residence": nil}
	body, _ = json.Marshal(map[string]any{"dataset": synthetic.PopulationDataset, "op": "u", "after": death})
	if code, raw := postAs(t, api+"/v1/sources/population/records", sourceToken(t, bus, synthetic.PopulationSource), "application/json", body); code != 200 {
		t.Fatalf("death: %d %s", code, raw)
	}
	vss := sourceToken(t, bus, "insurance")
	for found := false; !found; {
		var alive struct{ Items []quality.Item }
		operatorGet(t, api+"/v1/quality/items?limit=1000&kind="+quality.KindDeceasedActive+"&dataset=insurance.health_insurance_card", vss, &alive)
		for _, it := range alive.Items {
			found = found || it.EntityKey == card.Key
		}
		if found {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no alive finding for card %s: %+v", card.Key, alive.Items)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Every finding is counted once in the scorecard.
	for {
		var now quality.Scorecard
		var alive struct{ Items []quality.Item }
		operatorGet(t, api+"/v1/quality?dataset=insurance.health_insurance_card", vss, &now)
		operatorGet(t, api+"/v1/quality/items?limit=1000&kind="+quality.KindDeceasedActive+"&dataset=insurance.health_insurance_card", vss, &alive)
		if now.Total.DeceasedActive == int64(len(alive.Items)) && now.Total.Indicators.Alive != nil && *now.Total.Indicators.Alive < 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d findings counted, %d items", now.Total.DeceasedActive, len(alive.Items))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// snapTopic is how many records of a dataset were published.
func snapTopic(sc quality.Scorecard, dataset string) int64 {
	for _, d := range sc.Datasets {
		if d.Dataset == dataset {
			return d.Valid
		}
	}
	return 0
}

// fixLandRow corrects a rejected land-use-right row at the item's path,
// taking the holder from the register; nil when it cannot.
func fixLandRow(it quality.Item, register map[string]store.Citizen) map[string]any {
	var rec struct {
		After map[string]any `json:"after"`
	}
	if json.Unmarshal(it.Record, &rec) != nil || rec.After == nil {
		return nil
	}
	row := rec.After
	field := strings.TrimPrefix(it.Path, "$.")
	id, _ := row["holder_cccd"].(string)
	holder, ok := register[id]
	if !ok {
		return nil
	}
	valid := map[string]any{"certificate_no": "CZ999999", "parcel_id": "12/34", "province_code": "079", "address": "Số 1 Lê Lợi",
		"area_m2": 120.0, "land_use_purpose": "ODT", "issued_on": "2020-05-06", "holder_name": holder.FullName, "holder_dob": holder.DOB}
	v, ok := valid[field]
	if !ok {
		return nil
	}
	row[field] = v
	row["holder_name"], row["holder_dob"] = holder.FullName, holder.DOB
	return row
}
