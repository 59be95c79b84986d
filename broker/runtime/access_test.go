package runtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// Agencies look up and verify under their agreements with their own API
// tokens; everything outside an agreement is refused with the reason, and
// every decision is in the audit log.
func TestLookupAndVerifyUnderAgreements(t *testing.T) {
	dir := t.TempDir()
	bus := start(t, devConfig(t, dir))
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	op, err := os.ReadFile(filepath.Join(dir, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	operator := strings.TrimSpace(string(op))
	p := citizens(t, bus.Store, 1)[0]

	taxRow := map[string]any{"tax_code": "8012345678", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
		"address": "12 Lê Lợi, Quận 1", "tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04"}
	cardRow := map[string]any{"card_no": "GD4797920001234", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
		"beneficiary_group": "GD", "benefit_level": 4, "hospital_code": "79-001", "valid_from": "2026-01-01", "valid_to": "2026-12-31"}
	for src, rec := range map[string]map[string]any{"tax": {"dataset": "tax.taxpayer", "after": taxRow}, "insurance": {"dataset": "insurance.health_insurance_card", "after": cardRow}} {
		if code, out := call(t, "POST", api+"/v1/sources/"+src+"/records", sourceToken(t, bus, src), rec); code != 200 {
			t.Fatalf("push %s: %d %v", src, code, out)
		}
	}
	// The state follows the canonical topics.
	ss := bus.Store.(store.StateStore)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		a, _ := ss.StateByCitizen(ctx, "tax.taxpayer", bus.Audit.CitizenKey(p.ID), 10)
		b, _ := ss.StateByCitizen(ctx, "insurance.health_insurance_card", bus.Audit.CitizenKey(p.ID), 10)
		if len(a) == 1 && len(b) == 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Tokens: only the operator issues them.
	if code, _ := call(t, "POST", api+"/v1/operator/agencies/thads-hcm/tokens", "", nil); code != 401 {
		t.Fatalf("token without operator: %d", code)
	}
	issue := func(agency string) (string, string) {
		code, out := call(t, "POST", api+"/v1/operator/agencies/"+agency+"/tokens", operator, nil)
		if code != 201 {
			t.Fatalf("issue %s: %d %v", agency, code, out)
		}
		return out["id"].(string), out["token"].(string)
	}
	_, thads := issue("thads-hcm")
	bankID, bank := issue("bank-vcb")
	_, gdt := issue("gdt")
	if code, _ := call(t, "POST", api+"/v1/operator/agencies/nobody/tokens", operator, nil); code != 404 {
		t.Fatalf("token for an unregistered agency: %d", code)
	}

	lookup := func(token string, body map[string]any) (int, map[string]any) {
		return call(t, "POST", api+"/v1/lookup", token, body)
	}
	base := map[string]any{"dataset": "tax.taxpayer", "citizen": p.ID, "purpose": "judgment_enforcement", "case_reference": "THA-2026/123"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range base {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	code, out := lookup(thads, base)
	recs, _ := out["records"].([]any)
	if code != 200 || len(recs) != 1 {
		t.Fatalf("lookup: %d %v", code, out)
	}
	got := recs[0].(map[string]any)
	if _, leaked := got["cccd"]; leaked || got["dob"] != p.DOB[:4] || got["tax_code"] != "8012345678" {
		t.Fatalf("lookup released %v (cccd must be absent, dob year only)", got)
	}
	denials := []struct {
		name   string
		token  string
		body   map[string]any
		code   int
		reason string
	}{
		{"no token", "", base, 401, ""},
		{"bad token", "lgsp_" + strings.Repeat("x", 43), base, 401, ""},
		{"no purpose", thads, with("purpose", nil), 403, "missing_purpose"},
		{"unknown purpose", thads, with("purpose", "marketing"), 403, "purpose_not_allowed"},
		{"no case reference", thads, with("case_reference", nil), 403, "case_reference_required"},
		{"field outside the agreement", thads, with("fields", []string{"tax_code", "cccd"}), 403, "field_not_allowed"},
		{"agency without a lookup agreement", gdt, with("purpose", "tax_administration"), 403, "no_agreement"},
		{"malformed citizen", thads, with("citizen", "12ab"), 400, ""},
	}
	for _, d := range denials {
		code, out := lookup(d.token, d.body)
		if code != d.code || (d.reason != "" && !strings.Contains(out["error"].(string), d.reason)) {
			t.Errorf("%s: %d %v", d.name, code, out)
		}
	}

	verify := func(claims map[string]any) (int, map[string]any) {
		return call(t, "POST", api+"/v1/verify", bank, map[string]any{"dataset": "insurance.health_insurance_card", "citizen": p.ID, "purpose": "identity_verification", "claims": claims})
	}
	if code, out := verify(map[string]any{"card_no": "GD4797920001234", "full_name": p.FullName}); code != 200 || out["match"] != true || len(out) != 2 {
		t.Fatalf("verify true: %d %v", code, out)
	}
	if code, out := verify(map[string]any{"card_no": "GD0000000000000"}); code != 200 || out["match"] != false {
		t.Fatalf("verify false: %d %v", code, out)
	}
	if code, out := verify(map[string]any{"hospital_code": "79-001"}); code != 403 {
		t.Fatalf("verify of a field outside the agreement: %d %v", code, out)
	}

	// Every decision was audited, allowed and denied, under the citizen's key.
	es, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{CitizenKey: bus.Audit.CitizenKey(p.ID), Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range es {
		counts[e.Action+"/"+e.Decision]++
	}
	if counts["lookup/allow"] != 1 || counts["lookup/deny"] != 5 || counts["verify/allow"] != 2 || counts["verify/deny"] != 1 {
		t.Fatalf("audited decisions %v", counts)
	}

	// Revocation takes effect at once.
	if code, _ := call(t, "DELETE", api+"/v1/operator/tokens/"+bankID, operator, nil); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ := verify(map[string]any{"card_no": "GD4797920001234"}); code != 401 {
		t.Fatalf("revoked token still works: %d", code)
	}
}
