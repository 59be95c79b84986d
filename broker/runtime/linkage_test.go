package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// taxpayer is a tax.taxpayer row naming a person, with cccd as given.
func taxpayer(i int, cccd string, c store.Citizen) map[string]any {
	return map[string]any{"tax_code": fmt.Sprintf("80%08d", i), "cccd": cccd, "full_name": c.FullName, "dob": c.DOB, "sex": c.Sex,
		"address": nil, "tax_office": "00101", "status": "ACTIVE", "registered_on": "2015-03-04"}
}

// reviewPage is GET /v1/operator/review.
type reviewPage struct {
	Items     []linkage.ReviewItem `json:"items"`
	NextAfter string               `json:"next_after"`
}

func operatorGet(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("GET %s: %d %s: %v", url, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// Streamed records without a usable personal number are linked inside the
// pipeline: a record that fits one citizen is linked, one that fits two
// namesakes equally goes to the review queue, which a clerk works through
// over REST; the outcome travels in ce_identity.
func TestStreamedRecordsWithoutNumber(t *testing.T) {
	dir := t.TempDir()
	c := devConfig(t, dir)
	// The register: the synthetic population the dev bus would seed, plus
	// a namesake of citizen 5 (same name, date of birth, sex, province;
	// another number), so that a record naming that person without a
	// number cannot be decided by the fields alone.
	pop := synthetic.Population(c.Synthetic.Seed, c.Synthetic.Population)
	twin := pop[5]
	namesake := twin
	for k := 999_999; ; k-- {
		namesake.ID = fmt.Sprintf("%s%06d", twin.ID[:6], k)
		taken := false
		for _, p := range pop {
			taken = taken || p.ID == namesake.ID
		}
		if !taken {
			break
		}
	}
	namesake.OldID = ""
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutCitizens(context.Background(), append(pop, namesake)); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	bus := start(t, c)
	defer bus.Close(context.Background())
	ctx := context.Background()
	stranger := store.Citizen{FullName: "Zyx Qwv Kjh", DOB: "1977-07-07", Sex: "F"}
	noName := pop[8]
	noName.FullName = ""
	recs := []struct {
		row     map[string]any
		outcome string
		fields  string
	}{
		{taxpayer(0, "", pop[0]), "linked", ""},
		{taxpayer(1, "", pop[1]), "linked", ""},
		// an invalid number (no such birth province): linked on the rest,
		// the bad part of the number kept in the fields
		{taxpayer(2, "999"+pop[2].ID[3:], pop[2]), "linked", "id:province"},
		{taxpayer(3, "", twin), "review", ""},
		{taxpayer(4, "", stranger), "unmatched", ""},
		{taxpayer(5, "", noName), "unmatched", ""}, // nothing to link on
		{taxpayer(6, pop[9].ID, pop[9]), "verified", ""},
	}
	batch := make([]connectors.Record, len(recs))
	for i, r := range recs {
		batch[i] = connectors.Record{Dataset: "tax.taxpayer", Op: connectors.OpCreate, After: r.row, Position: connectors.Position(fmt.Sprintf("pos-%d", i))}
	}
	results, err := bus.Pipe.Ingest(ctx, "tax", batch)
	if err != nil {
		t.Fatal(err)
	}
	byEvent := map[string]int{}
	for i, r := range results {
		if r.Status != "published" || r.Identity != recs[i].outcome {
			t.Errorf("record %d: %s %s, want published %s", i, r.Status, r.Identity, recs[i].outcome)
		}
		byEvent[r.EventID] = i
	}
	// The outcome travels with the record on the canonical topic.
	for _, m := range readAll(t, bus.Addrs().Kafka, "tax.taxpayer.v1", len(recs)) {
		i, ok := byEvent[envelope.HeaderValue(m.Headers, contract.HeaderID)]
		if !ok {
			t.Fatalf("unexpected event on the canonical topic: %v", m.Headers)
		}
		if got := envelope.HeaderValue(m.Headers, contract.HeaderIdentity); got != recs[i].outcome {
			t.Errorf("record %d: ce_identity %q, want %q", i, got, recs[i].outcome)
		}
		if got := envelope.HeaderValue(m.Headers, contract.HeaderIdentityFields); got != recs[i].fields {
			t.Errorf("record %d: ce_identityfields %q, want %q", i, got, recs[i].fields)
		}
		// a linked record carries its citizen as the audit log's key, never the number
		want := ""
		if recs[i].outcome == "linked" {
			want = bus.Audit.CitizenKey(pop[i].ID)
		}
		if got := envelope.HeaderValue(m.Headers, contract.HeaderCitizen); got != want {
			t.Errorf("record %d (%s): ce_citizen %q, want %q", i, recs[i].outcome, got, want)
		}
	}
	// so the bus's copy of the dataset finds a linked record by its citizen,
	// as a lookup by personal number does
	stateOf := func(p store.Citizen) []store.StateRow {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			rows, err := bus.Store.(store.StateStore).StateByCitizen(ctx, "tax.taxpayer", bus.Audit.CitizenKey(p.ID), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) > 0 || time.Now().After(deadline) {
				return rows
			}
		}
	}
	if rows := stateOf(pop[0]); len(rows) != 1 || rows[0].Key != "8000000000" {
		t.Errorf("the record linked to citizen 0 by citizen: %+v", rows)
	}

	// The review item is in the queue, over REST, under the operator token.
	raw, err := os.ReadFile(filepath.Join(dir, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	op := strings.TrimSpace(string(raw))
	api := "http://" + bus.Addrs().API
	var pending reviewPage
	if code := operatorGet(t, api+"/v1/operator/review?status=pending", op, &pending); code != 200 || len(pending.Items) != 1 {
		t.Fatalf("pending review items: %d %+v", code, pending)
	}
	it := pending.Items[0]
	if it.Source != "tax.taxpayer" || it.RecordID != results[3].EventID || (it.PersonalID != twin.ID && it.PersonalID != namesake.ID) ||
		it.Explanation == nil || it.Probability >= 0.9 || !strings.Contains(it.Reason, "record 8000000003 from tax") {
		t.Errorf("review item: %+v", it)
	}
	// The batch read again (a retry after a crash) queues nothing twice.
	if _, err := bus.Pipe.Ingest(ctx, "tax", batch); err != nil {
		t.Fatal(err)
	}
	var all reviewPage
	if code := operatorGet(t, api+"/v1/operator/review", op, &all); code != 200 || len(all.Items) != 1 || all.Items[0].ID != it.ID {
		t.Errorf("after the batch was read again: %d %+v", code, all)
	}

	// A clerk accepts it; the decision is audited and taken once.
	code, out := call(t, "POST", api+"/v1/operator/review/"+it.ID+"/accept", op, map[string]string{"note": "checked the paper file", "by": "clerk 7"})
	if code != 200 || out["status"] != "accepted" || out["decided_by"] != "clerk 7" {
		t.Fatalf("accept: %d %v", code, out)
	}
	if code, out := call(t, "POST", api+"/v1/operator/review/"+it.ID+"/reject", op, map[string]string{"note": "no"}); code != 409 {
		t.Errorf("second decision: %d %v", code, out)
	}
	entries, err := bus.Store.ListAudit(ctx, store.AuditQuery{RequestID: it.ID})
	if err != nil || len(entries) != 1 || entries[0].Action != "review.accept" || entries[0].CitizenKey != bus.Audit.CitizenKey(it.PersonalID) {
		t.Errorf("decision audit: %+v %v", entries, err)
	}

	// The identity outcome counter counts linked and review.
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`lgsp_identity_outcomes_total{outcome="linked"} 6`, `lgsp_identity_outcomes_total{outcome="review"} 2`, `lgsp_identity_outcomes_total{outcome="unmatched"} 4`} {
		if !strings.Contains(string(metrics), line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	var status struct {
		Linkage struct {
			Citizens    int    `json:"citizens"`
			RecordsSeen uint64 `json:"records_seen"`
		} `json:"linkage"`
	}
	if code := operatorGet(t, api+"/v1/status", op, &status); code != 200 || status.Linkage.Citizens != len(pop)+1 || status.Linkage.RecordsSeen != 10 {
		t.Errorf("status: %d %+v", code, status)
	}
}
