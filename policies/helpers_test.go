package policies

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./policies -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; if the change is intended, run go test ./policies -update and review the diff\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// loadYAML loads agreements given as file name → YAML text.
func loadYAML(t *testing.T, files map[string]string) *Set {
	t.Helper()
	fsys := fstest.MapFS{}
	for name, text := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	s, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// day is noon of a calendar day in Vietnam.
func day(s string) time.Time {
	t, err := time.ParseInLocation(time.DateOnly, s, vietnam)
	if err != nil {
		panic(err)
	}
	return t.Add(12 * time.Hour)
}
