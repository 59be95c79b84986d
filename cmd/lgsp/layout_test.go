package main

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The dependency rules of the layout (issue 18): nothing under broker/,
// policies/ or schemas/, test files included, imports examples/ (the
// synthetic world is plugged in by the command, and the bus's tests take
// their data from connectors/synthetic); the SDK and its adapters
// (connectors/…) import nothing of the bus or the examples, so an agency
// builds them alone. Their tests may start a bus.
func TestLayoutImports(t *testing.T) {
	const mod = "github.com/lgsp-bus/lgsp/"
	tests := []struct {
		dir       string
		forbidden []string
		tests     bool // test files too
	}{
		{"../../broker", []string{mod + "examples"}, true},
		{"../../policies", []string{mod + "examples"}, true},
		{"../../schemas", []string{mod + "examples"}, true},
		{"../../connectors", []string{mod + "broker", mod + "examples"}, false},
	}
	for _, tt := range tests {
		n, nt := 0, 0
		err := filepath.WalkDir(tt.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			if strings.HasSuffix(path, "_test.go") {
				if !tt.tests {
					return nil
				}
				nt++
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			n++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range tt.forbidden {
					if p == bad || strings.HasPrefix(p, bad+"/") {
						t.Errorf("%s imports %s", path, p)
					}
				}
			}
			return nil
		})
		if err != nil || n == 0 || tt.tests && nt == 0 {
			t.Fatalf("%s: %d files (%d tests), %v", tt.dir, n, nt, err)
		}
	}
}

// The command stays flags and wiring (issue 18): under 800 lines of
// non-test code; logic goes to the package that owns it.
func TestCommandStaysThin(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines == 0 || lines >= 800 {
		t.Errorf("cmd/lgsp has %d lines of non-test code, want fewer than 800: move logic into its package", lines)
	}
}

// Every subcommand answers -h, and lgsp help lists them all.
func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &out, &errb); code != 0 {
		t.Fatalf("lgsp help: exit %d", code)
	}
	list := out.String()
	for _, c := range commands {
		if !strings.Contains(list, "  "+c.Name+" ") {
			t.Errorf("lgsp help does not list %s:\n%s", c.Name, list)
		}
		for _, args := range [][]string{{c.Name, "-h"}, {c.Name, "--help"}, {"help", c.Name}} {
			out.Reset()
			errb.Reset()
			if code := run(context.Background(), args, &out, &errb); code != 0 || out.Len()+errb.Len() == 0 {
				t.Errorf("lgsp %s: exit %d, printed nothing or failed: %s", strings.Join(args, " "), code, errb.String())
			}
		}
	}
	if len(commands) < 12 {
		t.Errorf("%d commands registered, want every one of the 12", len(commands))
	}
}
