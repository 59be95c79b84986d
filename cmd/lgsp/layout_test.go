package main

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// No production package under broker/ imports examples/: the synthetic
// world is plugged in by the command (issue 18). examples/synthetic
// imports nothing of the bus.
func TestLayoutImports(t *testing.T) {
	tests := []struct {
		dir       string
		forbidden string
	}{
		{"../../broker", "github.com/lgsp-bus/lgsp/examples"},
		{"../../examples/synthetic", "github.com/lgsp-bus/lgsp/broker"},
	}
	for _, tt := range tests {
		n := 0
		err := filepath.WalkDir(tt.dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			if tt.forbidden == "github.com/lgsp-bus/lgsp/broker" && filepath.Dir(path) != filepath.Clean(tt.dir) {
				return nil // subpackages (gen, plug) are wiring beside the bus
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			n++
			for _, imp := range f.Imports {
				if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, tt.forbidden) {
					t.Errorf("%s imports %s", path, p)
				}
			}
			return nil
		})
		if err != nil || n == 0 {
			t.Fatalf("%s: %d files, %v", tt.dir, n, err)
		}
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
