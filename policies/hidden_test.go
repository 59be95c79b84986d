package policies

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

const hiddenLookup = `id: thads-lookup
dataset: tax.taxpayer
consumer: thads-hcm
title: test
legal_basis: Law on Enforcement of Civil Judgments, Article 44
purposes: [judgment_enforcement]
mode: lookup
fields: [tax_code, full_name]
valid_from: 2025-01-01
valid_until: 2027-12-31
`

func TestDaysDuration(t *testing.T) {
	for _, tc := range []struct {
		in   Days
		want time.Duration
		ok   bool
	}{
		{"", 0, true},
		{"1d", 24 * time.Hour, true},
		{"180d", 180 * 24 * time.Hour, true},
		{"9999d", 9999 * 24 * time.Hour, true},
		{"0d", 0, false},
		{"10000d", 0, false},
		{"180", 0, false},
		{"6mo", 0, false},
		{"-3d", 0, false},
	} {
		got, err := tc.in.Duration()
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("Days(%q).Duration() = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// The schema accepts a number of days and rejects anything else with a
// message that says how to write it.
func TestHiddenFromCitizenForIsValidated(t *testing.T) {
	s := loadYAML(t, map[string]string{"a.yaml": hiddenLookup + "hidden_from_citizen_for: 180d\n"})
	if a, ok := s.Agreement("thads-lookup"); !ok || a.HiddenFromCitizenFor != "180d" {
		t.Fatalf("loaded %+v", a)
	}
	for _, bad := range []string{"6 months", "0d", "180", "10000d", "true"} {
		_, err := Load(fstest.MapFS{"a.yaml": {Data: []byte(hiddenLookup + "hidden_from_citizen_for: " + bad + "\n")}})
		if err == nil || !strings.Contains(err.Error(), "a.yaml:11: hidden_from_citizen_for:") {
			t.Errorf("%q: %v", bad, err)
			continue
		}
		// 180 and true are YAML numbers and booleans: a type error.
		if bad != "true" && bad != "180" && !strings.Contains(err.Error(), "from 1d to 9999d, e.g. 180d") {
			t.Errorf("%q: no hint in %v", bad, err)
		}
	}
}

// Every decision and grant under a hidden agreement carries its duration,
// a denial that names the agreement included; others carry none.
func TestDecisionsCarryTheSecrecy(t *testing.T) {
	stream := strings.NewReplacer("id: thads-lookup", "id: thads-stream", "mode: lookup", "mode: stream").Replace(hiddenLookup)
	e := NewEngine(loadYAML(t, map[string]string{
		"a.yaml": hiddenLookup + "hidden_from_citizen_for: 180d\n",
		"b.yaml": stream + "hidden_from_citizen_for: 30d\n",
		"c.yaml": strings.NewReplacer("id: thads-lookup", "id: gdt-lookup", "consumer: thads-hcm", "consumer: gdt").Replace(hiddenLookup),
	}))
	req := Request{Consumer: "thads-hcm", Dataset: "tax.taxpayer", Mode: ModeLookup, Purpose: "judgment_enforcement", Now: day("2026-01-01")}
	if d := e.Decide(req); !d.Allow || d.HiddenFromCitizen != 180*24*time.Hour {
		t.Fatalf("allow: %+v", d)
	}
	req.Fields = []string{"address"}
	if d := e.Decide(req); d.Allow || d.AgreementID != "thads-lookup" || d.HiddenFromCitizen != 180*24*time.Hour {
		t.Fatalf("denial naming the agreement: %+v", d)
	}
	req.Consumer, req.Fields = "gdt", nil
	if d := e.Decide(req); !d.Allow || d.HiddenFromCitizen != 0 {
		t.Fatalf("an agreement without secrecy: %+v", d)
	}
	gs := e.StreamTargets("tax.taxpayer", day("2026-01-01"))
	if len(gs) != 1 || gs[0].HiddenFromCitizen != 30*24*time.Hour {
		t.Fatalf("grants: %+v", gs)
	}
}

// A change of secrecy is a change a reviewer must see.
func TestDiffShowsSecrecyChanges(t *testing.T) {
	old := loadYAML(t, map[string]string{"a.yaml": hiddenLookup})
	hidden := loadYAML(t, map[string]string{"a.yaml": hiddenLookup + "hidden_from_citizen_for: 180d\n"})
	shorter := loadYAML(t, map[string]string{"a.yaml": hiddenLookup + "hidden_from_citizen_for: 30d\n"})
	var got []string
	for _, pair := range [][2]*Set{{old, hidden}, {hidden, shorter}, {shorter, old}, {nil, hidden}} {
		for _, c := range Diff(pair[0], pair[1]) {
			got = append(got, c.String())
		}
	}
	want := `thads-hcm on tax.taxpayer (lookup):
  ? hidden (citizen) thads-lookup: none -> 180d
thads-hcm on tax.taxpayer (lookup):
  ? hidden (citizen) thads-lookup: 180d -> 30d
thads-hcm on tax.taxpayer (lookup):
  ? hidden (citizen) thads-lookup: 30d -> none
thads-hcm on tax.taxpayer (lookup):
  + gains fields     full_name, tax_code
  + agreements       thads-lookup
  ? hidden (citizen) thads-lookup: none -> 180d`
	if g := strings.Join(got, "\n"); g != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", g, want)
	}
}

// The shipped example hides the enforcement office's lookups for 180 days.
func TestShippedAgreementWithSecrecy(t *testing.T) {
	s, err := LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := s.Agreement("thads-hcm-insurance-participant-lookup")
	if !ok || a.HiddenFromCitizenFor != "180d" {
		t.Fatalf("%+v %v", a, ok)
	}
}
