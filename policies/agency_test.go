package policies

import (
	"strings"
	"testing"
	"time"
)

func TestAgenciesGateEveryAccess(t *testing.T) {
	set, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	ags, err := LoadEmbeddedAgencies()
	if err != nil {
		t.Fatal(err)
	}
	if err := ags.CheckConsumers(set); err != nil {
		t.Fatalf("shipped agreements name unregistered agencies: %v", err)
	}
	e := NewEngine(set)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if len(e.StreamTargets("civil_status.birth_registration", now)) == 0 {
		t.Fatal("no stream before agencies are set")
	}
	suspended := strings.Replace(string(mustRead(t)), "id: vss\n    name: Bảo hiểm xã hội Việt Nam (Vietnam Social Security)\n    kind: ministry-level\n    contact: {name: Trung tâm Công nghệ thông tin, email: cntt@vss.gov.vn}\n    state: active", "id: vss\n    name: Bảo hiểm xã hội Việt Nam (Vietnam Social Security)\n    kind: ministry-level\n    contact: {name: Trung tâm Công nghệ thông tin, email: cntt@vss.gov.vn}\n    state: suspended", 1)
	sus, err := ParseAgencies("test", []byte(suspended))
	if err != nil {
		t.Fatal(err)
	}
	e.SetAgencies(sus)
	for _, g := range e.StreamTargets("civil_status.birth_registration", now) {
		if g.Consumer == "vss" {
			t.Fatal("a suspended agency still receives its stream")
		}
	}
	d := e.Decide(Request{Consumer: "vss", Dataset: "insurance.health_insurance_card", Mode: ModeVerify, Purpose: "identity_verification", Now: now})
	if d.Allow || d.Reason != ReasonAgencyNotActive {
		t.Fatalf("suspended agency request: %+v", d)
	}
	e.SetAgencies(ags)
	d = e.Decide(Request{Consumer: "nobody", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "x", Now: now})
	if d.Allow || d.Reason != ReasonAgencyNotActive {
		t.Fatalf("unknown agency: %+v", d)
	}
}

func mustRead(t *testing.T) []byte {
	raw, err := agenciesFS.ReadFile("agencies/agencies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestParseAgenciesReportsEveryProblem(t *testing.T) {
	_, err := ParseAgencies("a.yaml", []byte("agencies:\n  - id: X\n    state: paused\n  - id: ok-one\n    name: n\n    state: active\n    contact: {email: a@b}\n  - id: ok-one\n    name: n\n    state: active\n    contact: {email: a@b}\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"lowercase", "name is required", "state must be", "contact.email", "listed twice"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
	if _, err := ParseAgencies("a.yaml", []byte("agencies:\n  - id: ok\n    nmae: typo\n")); err == nil || !strings.Contains(err.Error(), "nmae") {
		t.Errorf("unknown key: %v", err)
	}
}

// The bus's own actor names cannot be taken by an agency, so an audit
// entry by "operator" is always the operator.
func TestReservedAgencyIDs(t *testing.T) {
	for _, id := range []string{"operator", "lgsp", "bus", "citizen"} {
		_, err := ParseAgencies("a.yaml", []byte("agencies:\n  - id: "+id+"\n    name: n\n    state: active\n    contact: {email: a@b}\n"))
		if err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("agency id %q: %v", id, err)
		}
	}
}
