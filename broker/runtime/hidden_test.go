package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// An agreement's hidden_from_citizen_for keeps its lookups and deliveries
// out of the citizen's own view until the date it sets, while auditors see
// them from the start: thads-hcm-insurance-participant-lookup (180d, as
// shipped) for a lookup, and the birth registration stream to vss, given
// 30d here, for a delivery.
func TestAgreementHidesAccessesFromTheCitizen(t *testing.T) {
	dir := t.TempDir()
	agreements := filepath.Join(dir, "agreements")
	if err := os.MkdirAll(agreements, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../policies/agreements/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("shipped agreements: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "vss-birth-registration-under6.yaml" {
			raw = append(raw, "hidden_from_citizen_for: 30d\n"...)
		}
		if err := os.WriteFile(filepath.Join(agreements, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := devConfig(t, dir)
	c.Policies.Dir = agreements
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	p := citizens(t, bus.Store, 1)[0]
	key := bus.Audit.CitizenKey(p.ID)

	taxRow := map[string]any{"tax_code": "8012345678", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
		"address": "12 Lê Lợi, Quận 1", "tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04"}
	siRow := map[string]any{"social_insurance_no": "7912345678", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
		"employer_tax_code": "0301234567", "contribution_salary": 12500000, "participation_type": "COMPULSORY", "start_date": "2019-07-01", "status": "ACTIVE"}
	for src, rec := range map[string]map[string]any{
		"tax":          {"dataset": "tax.taxpayer", "after": taxRow},
		"insurance":    {"dataset": "insurance.social_insurance_participant", "after": siRow},
		"civil_status": {"dataset": "civil_status.birth_registration", "after": birthRow(0, p)},
	} {
		if code, out := call(t, "POST", api+"/v1/sources/"+src+"/records", sourceToken(t, bus, src), rec); code != 200 {
			t.Fatalf("push %s: %d %v", src, code, out)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ss := bus.Store.(store.StateStore)
	for ctx.Err() == nil {
		a, _ := ss.StateByCitizen(ctx, "tax.taxpayer", key, 10)
		b, _ := ss.StateByCitizen(ctx, "insurance.social_insurance_participant", key, 10)
		d, _ := bus.Store.ListAudit(ctx, store.AuditQuery{CitizenKey: key, Actor: "vss"})
		if len(a) == 1 && len(b) == 1 && len(d) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	thads := agencyToken(t, bus, "thads-hcm")
	for _, ds := range []string{"tax.taxpayer", "insurance.social_insurance_participant"} {
		body := map[string]any{"dataset": ds, "citizen": p.ID, "purpose": "judgment_enforcement", "case_reference": "THA-2026/77"}
		code, out := call(t, "POST", api+"/v1/lookup", thads, body)
		if recs, _ := out["records"].([]any); code != 200 || len(recs) != 1 {
			t.Fatalf("lookup %s: %d %v", ds, code, out)
		}
		// The pushed record reached the state through Kafka, and comes
		// back projected (cccd absent, dob year only).
		if got := out["records"].([]any)[0].(map[string]any); ds == "tax.taxpayer" {
			if _, leaked := got["cccd"]; leaked || got["dob"] != p.DOB[:4] || got["tax_code"] != "8012345678" {
				t.Fatalf("lookup released %v (cccd must be absent, dob year only)", got)
			}
		}
	}

	// The auditor sees all three, with the hidden-until dates the
	// agreements set.
	all, err := bus.Store.ListAudit(ctx, store.AuditQuery{CitizenKey: key})
	if err != nil {
		t.Fatal(err)
	}
	hidden := map[string]time.Duration{}
	var latest time.Time
	for _, e := range all {
		if e.HiddenUntil.IsZero() {
			hidden[e.AgreementID] = 0
			continue
		}
		hidden[e.AgreementID] = e.HiddenUntil.Sub(e.Time)
		if e.HiddenUntil.After(latest) {
			latest = e.HiddenUntil
		}
	}
	want := map[string]time.Duration{"thads-hcm-taxpayer-lookup": 0,
		"thads-hcm-insurance-participant-lookup": 180 * 24 * time.Hour, "vss-birth-registration-under6": 30 * 24 * time.Hour}
	for id, d := range want {
		if got, ok := hidden[id]; !ok || got != d {
			t.Errorf("%s: hidden for %v (found %v), want %v", id, got, ok, d)
		}
	}
	code, out := call(t, "GET", api+"/v1/audit?citizen="+p.ID, operatorToken(t, bus), nil) // auditors: the operator or an auditor agency
	// the search finds the entries and itself: it is recorded before it runs
	if es, _ := out["entries"].([]any); code != 200 || len(es) != len(all)+1 || es[len(es)-1].(map[string]any)["action"] != "audit.search" {
		t.Fatalf("auditor search: %d, %d entries, want %d and the search itself: %v", code, len(es), len(all)+1, out)
	}

	// The citizen sees only the access no agreement hides.
	verifier, err := runtime.CitizenVerifier(c)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := verifier.Mint(p.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	code, out = call(t, "GET", api+"/v1/citizen/accesses", tok, nil)
	accesses, _ := out["accesses"].([]any)
	seen := map[string]bool{}
	for _, a := range accesses {
		seen[a.(map[string]any)["agreement"].(string)] = true
	}
	visible := 0
	for _, e := range all {
		if e.HiddenUntil.IsZero() && e.Decision == "allow" {
			visible++
		}
	}
	if code != 200 || len(accesses) != visible || !seen["thads-hcm-taxpayer-lookup"] ||
		seen["thads-hcm-insurance-participant-lookup"] || seen["vss-birth-registration-under6"] {
		t.Fatalf("citizen view before the dates: %d, %d accesses (want %d without the hidden ones): %v", code, len(accesses), visible, out)
	}

	// After the last date, the citizen's view holds everything, the
	// operator's search above included (hidden for 180 days from its own
	// time, which on a loaded machine is later than the lookup's date).
	now, err := bus.Store.ListAudit(ctx, store.AuditQuery{CitizenKey: key})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range now {
		if e.HiddenUntil.After(latest) {
			latest = e.HiddenUntil
		}
	}
	after, err := bus.Store.(store.AuditSearcher).SearchAudit(ctx, store.AuditSearch{CitizenKey: key, Newest: true, VisibleAt: latest.Add(time.Second)})
	if err != nil || len(after) != len(all)+1 {
		t.Fatalf("citizen view after %s: %d entries, want %d (%v)", latest, len(after), len(all)+1, err)
	}
}
