package policies

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const newAgreement = `# The tax authority reads civil servants' employment for tax administration.
id: gdt-civil-servant
dataset: civil_servant.employee
consumer: gdt
title: Civil servants for tax administration
legal_basis: Law on Tax Administration No. 38/2019/QH14, Article 99
purposes: [tax_administration]
mode: stream
fields: [employee_id, cccd, full_name]
mask: {cccd: last4}
valid_from: 2025-01-01
valid_until: 2027-12-31
`

// shippedFolder copies the shipped agreements into a temp folder.
func shippedFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, _ := filepath.Glob("agreements/*.yaml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A change is validated with the whole folder before anything is written;
// written, the folder loads to exactly the set the change promised; undone,
// the folder is as before.
func TestFolderPutWriteUndo(t *testing.T) {
	dir := shippedFolder(t)
	f := NewFolder(dir)
	before, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	set, ch, err := f.Put("gdt-civil-servant", "request body", []byte(newAgreement))
	if err != nil {
		t.Fatal(err)
	}
	if !ch.Created || ch.Name != "gdt-civil-servant.yaml" || set.Len() != before.Len()+1 {
		t.Fatalf("change %+v, %d agreements", ch, set.Len())
	}
	if _, err := os.Stat(filepath.Join(dir, ch.Name)); !os.IsNotExist(err) {
		t.Fatal("Put wrote to the folder before Write")
	}
	undo, err := f.Write(ch)
	if err != nil {
		t.Fatal(err)
	}
	after, err := f.Load()
	if err != nil {
		t.Fatal(err)
	}
	if after.Digest() != set.Digest() {
		t.Fatalf("the written folder loads to %s, the change promised %s", after.Digest(), set.Digest())
	}
	if raw, _ := after.File("gdt-civil-servant"); string(raw) != newAgreement {
		t.Fatalf("file as written:\n%s", raw)
	}
	// Replacing keeps the file name; deleting removes it.
	replaced := strings.Replace(newAgreement, "title: Civil servants", "title: Employed civil servants", 1)
	_, ch2, err := f.Put("gdt-civil-servant", "request body", []byte(replaced))
	if err != nil || ch2.Created || ch2.Name != ch.Name {
		t.Fatalf("replace: %+v %v", ch2, err)
	}
	del, ch3, err := f.Delete("gdt-civil-servant")
	if err != nil || ch3.Raw != nil || del.Digest() != before.Digest() {
		t.Fatalf("delete: %+v %v (digest %s, before %s)", ch3, err, del.Digest(), before.Digest())
	}
	if err := undo(); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.Load(); again.Digest() != before.Digest() {
		t.Fatal("undo did not restore the folder")
	}
	if _, _, err := f.Delete("gdt-civil-servant"); !errors.Is(err, ErrNoSuchAgreement) {
		t.Fatalf("delete of an unknown agreement: %v", err)
	}
}

// A bad change names the problem with the line of the body; a change that
// clashes with another file names that file; nothing is ever written.
func TestFolderPutRefusals(t *testing.T) {
	dir := shippedFolder(t)
	f := NewFolder(dir)
	tests := []struct {
		name, id, body string
		want           string
		syntax         bool
	}{
		{"schema", "gdt-civil-servant", strings.Replace(newAgreement, "mode: stream", "mode: sideways", 1), "request body:8: mode:", false},
		{"unknown field", "gdt-civil-servant", strings.Replace(newAgreement, "full_name]", "salary]", 1), "request body:9: fields.2:", false},
		{"YAML syntax", "gdt-civil-servant", "id: [unclosed\n", "YAML syntax", true},
		{"id differs from the URL", "other-id", newAgreement, `change is for "other-id"`, false},
		{"an existing id replaces its own file", "vss-birth-registration-under6", strings.Replace(newAgreement, "id: gdt-civil-servant", "id: vss-birth-registration-under6", 1), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.Put(tt.id, "request body", []byte(tt.body))
			if tt.want == "" {
				// Replacing the file of an existing id is allowed.
				if err != nil {
					t.Fatalf("replace by id: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %q, got %v", tt.want, err)
			}
			var le *LoadError
			if !errors.As(err, &le) || IsSyntax(err) != tt.syntax {
				t.Fatalf("not a LoadError (syntax %v): %v", tt.syntax, err)
			}
		})
	}
	// A file named for the id that holds another agreement is not dropped.
	if err := os.WriteFile(filepath.Join(dir, "gdt-civil-servant.yaml"), []byte(strings.Replace(newAgreement, "id: gdt-civil-servant", "id: gdt-civil-servant-old", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Put("gdt-civil-servant", "request body", []byte(newAgreement)); err == nil || !strings.Contains(err.Error(), "does not hold agreement") {
		t.Fatalf("clash with another file: %v", err)
	}
	if _, err := f.Write(FileChange{Name: "../escape.yaml", Raw: []byte("x")}); err == nil {
		t.Fatal("a change outside the folder was written")
	}
}

// JSON sent through the API becomes a block-style YAML file that loads to
// the same agreement, keys in the order they were sent.
func TestJSONToYAML(t *testing.T) {
	want, err := ParseFile("a.yaml", []byte(newAgreement))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(map[string]any{
		"id": want.ID, "dataset": want.Dataset, "consumer": want.Consumer, "title": want.Title, "legal_basis": want.LegalBasis,
		"purposes": want.Purposes, "mode": want.Mode, "fields": want.Fields, "mask": want.Mask,
		"filter":     []map[string]any{{"field": "agency_code", "in": []any{"079", "001"}}},
		"valid_from": "2025-01-01", "valid_until": "2027-12-31",
	}, "", "\t")
	y, err := JSONToYAML(js)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(y), "{") || !strings.Contains(string(y), "- \"079\"") {
		t.Fatalf("not block YAML with quoted codes:\n%s", y)
	}
	got, err := ParseFile("a.yaml", y)
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	want.Filter = []Condition{{Field: "agency_code", In: []any{"079", "001"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
	}
	if _, err := JSONToYAML([]byte("{not json")); err == nil {
		t.Fatal("accepted malformed JSON")
	}
}

// The registry says who owns each source and who audits; every catalog
// source must have exactly one owner.
func TestAgencySourcesAndRoles(t *testing.T) {
	ags, err := LoadEmbeddedAgencies()
	if err != nil {
		t.Fatal(err)
	}
	if err := ags.CheckSources([]string{"land", "tax", "insurance", "civil_status", "civil_servant", "population"}); err != nil {
		t.Fatalf("shipped registry: %v", err)
	}
	for src, owner := range map[string]string{"land": "mae", "tax": "gdt", "insurance": "vss", "civil_status": "moj", "civil_servant": "moha", "population": "mps-c06"} {
		if a, ok := ags.SourceOwner(src); !ok || a.ID != owner {
			t.Errorf("owner of %s: %v %v, want %s", src, a.ID, ok, owner)
		}
	}
	if a, _ := ags.Get("gov-inspectorate"); !a.HasRole(RoleAuditor) {
		t.Error("the inspectorate is not an auditor")
	}
	if a, _ := ags.Get("vss"); a.HasRole(RoleAuditor) {
		t.Error("vss is an auditor")
	}
	if err := ags.CheckSources([]string{"land", "fisheries"}); err == nil || !strings.Contains(err.Error(), `"fisheries" has no owning agency`) || !strings.Contains(err.Error(), `"tax" owns no dataset`) {
		t.Errorf("missing and unknown sources: %v", err)
	}
	_, err = ParseAgencies("a.yaml", []byte(`agencies:
  - {id: one, name: n, state: active, contact: {email: a@b}, sources: [land, Land], roles: [king]}
  - {id: two, name: n, state: active, contact: {email: a@b}, sources: [land]}
`))
	for _, want := range []string{`source "Land" must be`, `unknown role "king"`, `"land" is already owned by one`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

// An agreement naming an unregistered consumer is reported at its file and
// the line of its consumer key.
func TestCheckConsumersNamesFileAndLine(t *testing.T) {
	set := loadYAML(t, map[string]string{"x.yaml": strings.Replace(newAgreement, "consumer: gdt", "consumer: nobody", 1)})
	ags, _ := LoadEmbeddedAgencies()
	err := ags.CheckConsumers(set)
	var le *LoadError
	if !errors.As(err, &le) || le.Error() != `x.yaml:4: consumer: "nobody" is not a registered agency; register it in the agencies file first` {
		t.Fatalf("%v", err)
	}
}
