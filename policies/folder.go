package policies

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing/fstest"

	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
	"go.yaml.in/yaml/v3"
)

// ErrNoSuchAgreement is a change of an agreement the folder does not hold.
var ErrNoSuchAgreement = errors.New("policies: no such agreement")

// Folder is an operator's folder of agreement files (policies.dir) changed
// one agreement at a time, as the API does: a change is validated together
// with every other file of the folder, exactly as a reload would load them,
// before anything is written, and then written atomically.
type Folder struct{ dir string }

// NewFolder returns the folder at dir.
func NewFolder(dir string) Folder { return Folder{dir: dir} }

// Dir is the folder's path.
func (f Folder) Dir() string { return f.dir }

// FileChange is one file to write (Raw set) or remove (Raw nil) in a folder.
type FileChange struct {
	// Name is the file name inside the folder, e.g. "vss-deaths.yaml".
	Name string
	// Raw is the new content; nil removes the file.
	Raw []byte
	// Created is true when no file of that agreement existed before.
	Created bool
}

// Put returns the set the folder would hold if the agreement id were
// written with the YAML text raw (replacing the file that holds id, or as
// <id>.yaml), and the change that makes it so. Nothing is written. raw is
// first checked on its own, so its problems carry the lines of raw itself
// under the name label (e.g. "request body"); then the folder is loaded
// with the change. Problems are [LoadError]s.
func (f Folder) Put(id, label string, raw []byte) (*Set, FileChange, error) {
	a, err := ParseFile(label, raw)
	if err != nil {
		return nil, FileChange{}, err
	}
	if a.ID != id {
		return nil, FileChange{}, &LoadError{File: label, Field: "id", Msg: fmt.Sprintf("the agreement's id is %q but the change is for %q; they must be the same", a.ID, id)}
	}
	files, cur, _, err := f.read()
	if err != nil {
		return nil, FileChange{}, err
	}
	ch := FileChange{Name: id + ".yaml", Raw: raw, Created: true}
	if old, ok := cur.Agreement(id); ok {
		ch.Name, ch.Created = path.Base(filepath.ToSlash(old.Source)), false
	}
	if _, exists := files[ch.Name]; exists && ch.Created {
		// A file of that name holds another agreement (or a broken one):
		// replacing it would drop that one without anyone asking.
		return nil, FileChange{}, &LoadError{File: path.Join(f.dir, ch.Name), Msg: fmt.Sprintf("the file exists but does not hold agreement %s; rename or remove it first", id)}
	}
	set, err := f.with(files, ch)
	return set, ch, err
}

// Delete returns the set the folder would hold without the agreement id,
// and the change that removes its file. Nothing is written.
func (f Folder) Delete(id string) (*Set, FileChange, error) {
	files, cur, loadErr, err := f.read()
	if err != nil {
		return nil, FileChange{}, err
	}
	if loadErr != nil {
		return nil, FileChange{}, loadErr // the folder must be fixed first
	}
	old, ok := cur.Agreement(id)
	if !ok {
		return nil, FileChange{}, fmt.Errorf("%w %q in %s", ErrNoSuchAgreement, id, f.dir)
	}
	ch := FileChange{Name: path.Base(filepath.ToSlash(old.Source))}
	set, err := f.with(files, ch)
	return set, ch, err
}

// Load loads the folder as it is on disk (LoadDir).
func (f Folder) Load() (*Set, error) { return LoadDir(f.dir) }

// read returns the folder's agreement files and their set, or why they do
// not load (loadErr); err is a folder that cannot be read at all.
func (f Folder) read() (files fstest.MapFS, cur *Set, loadErr, err error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("policies: agreements folder: %w", err)
	}
	files = fstest.MapFS{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		// Up to one byte over the limit, so that loading reports an
		// oversized file as such.
		raw, err := readCapped(filepath.Join(f.dir, name), maxFileSize+1)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("policies: read %s: %w", filepath.Join(f.dir, name), err)
		}
		files[name] = &fstest.MapFile{Data: raw}
	}
	cur, loadErr = load(files, f.dir, catalogFields())
	return files, cur, loadErr, nil
}

func readCapped(file string, limit int64) ([]byte, error) {
	fh, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return io.ReadAll(io.LimitReader(fh, limit))
}

// with loads files with ch applied, named as LoadDir names them, so the set
// (and its digest) is the one a reload of the written folder gives.
func (f Folder) with(files fstest.MapFS, ch FileChange) (*Set, error) {
	next := fstest.MapFS{}
	for name, file := range files {
		next[name] = file
	}
	if ch.Raw == nil {
		delete(next, ch.Name)
	} else {
		next[ch.Name] = &fstest.MapFile{Data: ch.Raw}
	}
	return load(next, f.dir, catalogFields())
}

// Write applies ch to the folder atomically (a temporary file renamed over
// the old one, then the folder synced) and returns a function that puts
// the previous content back, for a change that cannot be put in force.
func (f Folder) Write(ch FileChange) (undo func() error, err error) {
	if ch.Name == "" || ch.Name != filepath.Base(ch.Name) || strings.HasPrefix(ch.Name, ".") {
		return nil, fmt.Errorf("policies: %q is not a file name inside the agreements folder", ch.Name)
	}
	target := filepath.Join(f.dir, ch.Name)
	prev, err := os.ReadFile(target)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("policies: read %s: %w", target, err)
	}
	if ch.Raw == nil {
		if err := os.Remove(target); err != nil {
			return nil, fmt.Errorf("policies: remove %s (is the agreements folder writable?): %w", target, err)
		}
	} else if err := writeAtomic(target, ch.Raw); err != nil {
		return nil, err
	}
	if err := syncDir(f.dir); err != nil {
		return nil, err
	}
	return func() error {
		if existed {
			return writeAtomic(target, prev)
		}
		if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("policies: undo %s: %w", target, err)
		}
		return syncDir(f.dir)
	}, nil
}

func writeAtomic(target string, raw []byte) error {
	if err := atomicfile.WriteFile(target, raw, 0o644); err != nil {
		return fmt.Errorf("policies: %w (is the agreements folder writable?)", err)
	}
	return nil
}

func syncDir(dir string) error {
	if err := atomicfile.SyncDir(dir); err != nil {
		return fmt.Errorf("policies: %w", err)
	}
	return nil
}

// ParseFile checks one agreement file on its own (YAML, the JSON Schema,
// the catalog) and returns its agreement; problems are [LoadError]s naming
// name and the lines of raw, joined.
func ParseFile(name string, raw []byte) (Agreement, error) {
	if len(raw) > maxFileSize {
		return Agreement{}, &LoadError{File: name, Msg: fmt.Sprintf("larger than %d bytes; an agreement file holds one agreement", maxFileSize)}
	}
	r := &fileResult{file: name, raw: raw}
	parseFile(r, catalogFields())
	if len(r.errs) > 0 {
		sort.SliceStable(r.errs, func(i, j int) bool { return r.errs[i].Line < r.errs[j].Line })
		errs := make([]error, len(r.errs))
		for i, e := range r.errs {
			errs[i] = e
		}
		return Agreement{}, errors.Join(errs...)
	}
	a := *r.a
	a.Source = name
	return a, nil
}

// IsSyntax reports whether err holds a YAML syntax problem (the text is
// not YAML at all) rather than an agreement that breaks the rules.
func IsSyntax(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case *LoadError:
		return strings.HasPrefix(e.Msg, "YAML syntax: ")
	case interface{ Unwrap() []error }:
		for _, w := range e.Unwrap() {
			if IsSyntax(w) {
				return true
			}
		}
		return false
	}
	return IsSyntax(errors.Unwrap(err))
}

// JSONToYAML turns an agreement sent as JSON into the block-style YAML of
// an agreement file, keeping the order of its keys, so the files in the
// folder stay readable whichever way a change came in.
func JSONToYAML(raw []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("policies: not JSON: %w", err)
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle | yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("policies: write YAML: %w", err)
	}
	return out, nil
}
