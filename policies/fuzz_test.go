package policies

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoadAgreement feeds arbitrary bytes to the loader as one agreement file.
// Operators write these files by hand, so the loader must never panic; it
// either rejects the file naming it, or returns a set whose grants still
// release only allowed fields. Seeds: testdata/fuzz/FuzzLoadAgreement/ and the
// shipped agreements.
func FuzzLoadAgreement(f *testing.F) {
	files, _ := fs.Glob(embedded, "agreements/*.yaml")
	for _, name := range files {
		raw, _ := embedded.ReadFile(name)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(fstest.MapFS{"a.yaml": {Data: data}})
		if err != nil {
			if s != nil {
				t.Fatal("a set returned with an error")
			}
			var le *LoadError
			if !errors.As(err, &le) || le.File != "a.yaml" || !strings.Contains(err.Error(), "a.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if s.Len() != 1 {
			t.Fatalf("one file gave %d agreements", s.Len())
		}
		a := s.Agreements()[0]
		allowed := map[string]bool{}
		for _, f := range a.Fields {
			allowed[f] = true
		}
		row := map[string]any{}
		for f := range catalogFields()[a.Dataset] {
			row[f] = "2019-05-17 " + f
		}
		fromFilter := map[string]bool{}
		for _, c := range a.Filter {
			fromFilter[c.Field] = true
			if c.In != nil {
				row[c.Field] = c.In[0]
			} else {
				row[c.Field] = c.Equals
			}
		}
		e := NewEngine(s)
		check := func(out map[string]any) {
			for f, v := range out {
				if !allowed[f] {
					t.Fatalf("released %s outside %v", f, a.Fields)
				}
				if _, masked := a.Mask[f]; masked && !fromFilter[f] && v == row[f] {
					t.Fatalf("masked %s released in clear", f)
				}
			}
		}
		start, _ := a.ValidFrom.Start()
		for _, g := range e.StreamTargets(a.Dataset, start) {
			out, _, _ := g.Project(row)
			check(out)
		}
		for _, p := range a.Purposes {
			d := e.Decide(Request{Consumer: a.Consumer, Dataset: a.Dataset, Mode: a.Mode, Purpose: p, CaseReference: "c", Now: start})
			if a.Mode != ModeStream && !d.Allow {
				t.Fatalf("its own request denied: %s", d.Reason)
			}
			out, _, _ := d.Project(row)
			check(out)
		}
	})
}
