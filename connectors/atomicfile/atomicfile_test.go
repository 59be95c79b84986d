package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		existing string // "" = no file before
		data     string
		perm     os.FileMode
	}{
		{"new secret", "", "s3cret\n", 0o600},
		{"replaces", "old content that is longer", "new", 0o644},
		{"empty", "x", "", 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if tt.existing != "" {
				if err := os.WriteFile(p, []byte(tt.existing), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(p, []byte(tt.data), tt.perm); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != tt.data {
				t.Fatalf("read %q, %v; want %q", got, err, tt.data)
			}
			fi, err := os.Stat(p)
			if err != nil || fi.Mode().Perm() != tt.perm {
				t.Fatalf("mode %v, %v; want %v", fi.Mode().Perm(), err, tt.perm)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(tests) {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// A failing writer leaves the old file whole and no temporary file.
func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cursor")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o600, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "old" {
		t.Fatalf("file is %q after a failed write, want the old content", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
}

func TestWriteNoDir(t *testing.T) {
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "f"), nil, 0o600); err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
}
