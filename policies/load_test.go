package policies

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestLoadErrorsGolden loads testdata/bad, a folder of broken agreement
// files, and checks that one pass reports every problem with file and line.
func TestLoadErrorsGolden(t *testing.T) {
	s, err := LoadDir(filepath.Join("testdata", "bad"))
	if err == nil || s != nil {
		t.Fatalf("LoadDir(testdata/bad) = %v, %v; want an error and no set", s, err)
	}
	golden(t, "load_errors.golden", []byte(err.Error()+"\n"))

	// Every broken file is named, and every problem carries a line unless it
	// is about the file as a whole.
	names, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	for _, name := range names {
		if filepath.Base(name) == "dup_a.yaml" {
			continue // valid on its own; dup_b.yaml is the one reported
		}
		if !strings.Contains(err.Error(), filepath.ToSlash(name)+":") {
			t.Errorf("%s is not reported", name)
		}
	}
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatal("the error does not unwrap to *LoadError")
	}
	for _, line := range strings.Split(err.Error(), "\n")[1:] {
		if !strings.Contains(line, "empty.yaml") && !lineRef.MatchString(line) {
			t.Errorf("no file:line in %q", line)
		}
	}
}

// TestLoadOneBadFileAmongGood checks that one bad file stops the whole load:
// a partial set would silently drop an agreement in force.
func TestLoadOneBadFileAmongGood(t *testing.T) {
	fsys := fstest.MapFS{
		"good.yaml": {Data: []byte(fixture["tax-lookup.yaml"])},
		"bad.yaml":  {Data: []byte(strings.Replace(fixture["ins-verify.yaml"], "legal_basis:", "legal_basis_note:", 1))},
	}
	s, err := Load(fsys)
	if err == nil || s != nil {
		t.Fatalf("Load = %v, %v", s, err)
	}
	want := "bad.yaml:2: legal_basis is required" // the fixture starts with a newline
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml:6: legal_basis_note: unknown key") {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestLoadFolders(t *testing.T) {
	if _, err := LoadDir(filepath.Join("testdata", "missing")); err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadDir(missing) = %v, want a not-exist error", err)
	}
	if _, err := LoadDir(filepath.Join("testdata", "bad", "empty.yaml")); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("LoadDir(file) = %v", err)
	}
	if _, err := Load(fstest.MapFS{"README.md": {Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), "no agreement files") {
		t.Errorf("Load(no yaml) = %v", err)
	}

	// An operator's folder: .yml is read too, sub-folders are not.
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("tax-lookup.yml", fixture["tax-lookup.yaml"])
	write("old/ins-verify.yaml", "not: an agreement")
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := s.Agreement("tax-lookup")
	if s.Len() != 1 || !ok || a.Source != filepath.ToSlash(filepath.Join(dir, "tax-lookup.yml")) {
		t.Fatalf("LoadDir = %d agreements, %+v", s.Len(), a)
	}
	if !strings.HasPrefix(s.Digest(), "sha256:") {
		t.Errorf("Digest = %q", s.Digest())
	}
	write("tax-lookup.yml", fixture["tax-lookup.yaml"]+"\n# reviewed 2025-06-01\n")
	s2, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Digest() == s.Digest() {
		t.Error("the digest does not change when a file changes")
	}

	write("big.yaml", strings.Repeat("#", maxFileSize+1))
	if _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "big.yaml: file is larger") {
		t.Errorf("LoadDir(big file) = %v", err)
	}
}

func TestYAMLErrorLines(t *testing.T) {
	tests := []struct{ text, want string }{
		{"id: a\npurposes: [x\nmode: lookup\n", "a.yaml:2: YAML syntax: did not find expected ',' or ']'"},
		{"id: a\n  title: b\n", "a.yaml:2: YAML syntax: mapping values are not allowed in this context"},
		{"id: a\nfields:\n  - x\n y: 2\n", "a.yaml:4: YAML syntax: did not find expected key"},
		{"id: a\ntitle: \"open\n", "a.yaml:2: YAML syntax: found unexpected end of stream"},
		{"id: a\nmode: @x\n", "a.yaml:2: YAML syntax: found character that cannot start any token"},
	}
	for _, tt := range tests {
		_, err := Load(fstest.MapFS{"a.yaml": {Data: []byte(tt.text)}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q) = %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestSchemaAndCatalog(t *testing.T) {
	if _, err := agreementSchema(); err != nil {
		t.Fatalf("agreement.schema.json: %v", err)
	}
	// Both kinds of row schema give their fields; an empty list would make
	// every agreement on that dataset fail to load.
	fields := catalogFields()
	for ds, want := range map[string]string{
		"land.land_use_right":             "holder_cccd", // JSON Schema
		"tax.taxpayer":                    "tax_code",    // Avro
		"insurance.health_insurance_card": "card_no",     // Avro
		"civil_status.birth_registration": "mother_cccd", // JSON Schema
		"civil_servant.employee":          "salary_coefficient",
	} {
		if !fields[ds][want] {
			t.Errorf("%s: fields %v lack %s", ds, sortedKeys(fields[ds]), want)
		}
	}
}

var lineRef = regexp.MustCompile(`^testdata/bad/[a-z_]+\.yaml:[0-9]+: `)
