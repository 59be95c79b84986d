package policies

import (
	"strings"
	"testing"
	"testing/fstest"
)

func agreementFile(id, consumer, fields, mask string) *fstest.MapFile {
	text := `id: ` + id + `
dataset: civil_status.birth_registration
consumer: ` + consumer + `
title: test
legal_basis: Decree 63/2024/ND-CP
purposes: [health_insurance_issuance]
mode: stream
fields: [` + fields + `]
valid_from: 2024-01-01
valid_until: 2030-12-31
`
	if mask != "" {
		text += "mask:\n  " + mask + "\n"
	}
	return &fstest.MapFile{Data: []byte(text)}
}

func TestDiffShowsWhoGainsAndLosesWhat(t *testing.T) {
	old, err := Load(fstest.MapFS{
		"a.yaml": agreementFile("vss-a", "vss", "child_name, mother_name", "mother_name: initials"),
		"b.yaml": agreementFile("gdt-b", "gdt", "registration_no", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	newSet, err := Load(fstest.MapFS{
		"a.yaml": agreementFile("vss-a", "vss", "child_name, mother_name, child_cccd", ""),
		"c.yaml": agreementFile("moj-c", "moj", "registration_no", ""),
	})
	if err != nil {
		t.Fatal(err)
	}
	changes := Diff(old, newSet)
	var lines []string
	for _, c := range changes {
		lines = append(lines, c.String())
	}
	got := strings.Join(lines, "\n")
	want := `gdt on civil_status.birth_registration (stream):
  - loses fields     registration_no
  - agreements       gdt-b
moj on civil_status.birth_registration (stream):
  + gains fields     registration_no
  + agreements       moj-c
vss on civil_status.birth_registration (stream):
  + gains fields     child_cccd
  ! now in clear     mother_name`
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := Diff(newSet, newSet); len(d) != 0 {
		t.Fatalf("a set against itself: %v", d)
	}
}

// WriteDiff: one block per change, a sentence when nothing changes, and
// JSON with [] rather than null.
func TestWriteDiff(t *testing.T) {
	one := []Change{{Consumer: "gdt", Dataset: "tax.taxpayer", Mode: ModeStream, Gained: []string{"dob"}}}
	tests := []struct {
		name    string
		changes []Change
		asJSON  bool
		want    string
	}{
		{"nothing", nil, false, "no agency gains or loses access\n"},
		{"nothing as JSON", nil, true, "[]\n"},
		{"a change", one, false, "gdt on tax.taxpayer (stream):\n  + gains fields     dob\n"},
		{"a change as JSON", one, true, "[\n  {\n    \"consumer\": \"gdt\",\n    \"dataset\": \"tax.taxpayer\",\n    \"mode\": \"stream\",\n    \"gained\": [\n      \"dob\"\n    ]\n  }\n]\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := WriteDiff(&b, tt.changes, tt.asJSON); err != nil || b.String() != tt.want {
			t.Errorf("%s: %v\n%q\nwant\n%q", tt.name, err, b.String(), tt.want)
		}
	}
}
