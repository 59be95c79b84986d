package policies

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/xeipuuv/gojsonschema"
	"go.yaml.in/yaml/v3"
)

//go:embed agreements/*.yaml
var embedded embed.FS

//go:embed agreement.schema.json
var agreementSchemaJSON []byte

// maxFileSize bounds one agreement file. Real ones are a few kilobytes; the
// bound keeps a stray data file dropped in the folder from being parsed.
const maxFileSize = 1 << 20

// LoadError is one problem in one agreement file. Load returns all of them
// joined, so an operator can fix a folder in one pass.
type LoadError struct {
	File  string // file path as the operator knows it
	Line  int    // 1-based line of the problem; 0 for the file as a whole
	Field string // path of the offending key, e.g. "mask.holder_cccd"; "" for the whole agreement
	Msg   string // what is wrong and what to do about it
	Err   error  // underlying error, if any
}

func (e *LoadError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *LoadError) Unwrap() error { return e.Err }

// LoadEmbedded loads the agreements shipped in the binary (policies/agreements).
func LoadEmbedded() (*Set, error) {
	sub, err := fs.Sub(embedded, "agreements")
	if err != nil {
		return nil, fmt.Errorf("policies: embedded agreements: %w", err)
	}
	return load(sub, "policies/agreements", catalogFields())
}

// LoadDir loads an operator's own folder of agreement files (*.yaml, *.yml;
// sub-folders are not read). Errors name files as dir/name.
func LoadDir(dir string) (*Set, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("policies: agreements folder: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("policies: agreements folder %s is a file; point to the folder that holds the *.yaml agreements", dir)
	}
	return load(os.DirFS(dir), dir, catalogFields())
}

// Load reads every *.yaml and *.yml file at the root of fsys, one agreement per
// file, and returns them as a Set. If any file has a problem, it returns no Set
// and an error listing every problem of every file.
func Load(fsys fs.FS) (*Set, error) {
	if fsys == nil {
		return nil, errors.New("policies: no file system to load agreements from")
	}
	return load(fsys, "", catalogFields())
}

// datasetFields maps each catalog dataset to its row fields.
type datasetFields map[string]map[string]bool

// catalogFields reads the row fields of every dataset once: the catalog is
// embedded and immutable, and the fuzz test loads thousands of files.
var catalogFields = sync.OnceValue(func() datasetFields {
	out := datasetFields{}
	for _, d := range schemas.MustLoad().Datasets() {
		out[d.Name] = rowFields(d)
	}
	return out
})

// rowFields lists the top-level fields of a row schema: the properties of a
// JSON Schema object, or the fields of an Avro record.
func rowFields(d schemas.Dataset) map[string]bool {
	fields := map[string]bool{}
	switch d.Format {
	case schemas.FormatJSON:
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if json.Unmarshal([]byte(d.Schema), &s) == nil {
			for name := range s.Properties {
				fields[name] = true
			}
		}
	case schemas.FormatAvro:
		var s struct {
			Fields []struct {
				Name string `json:"name"`
			} `json:"fields"`
		}
		if json.Unmarshal([]byte(d.Schema), &s) == nil {
			for _, f := range s.Fields {
				fields[f.Name] = true
			}
		}
	}
	return fields
}

var agreementSchema = sync.OnceValues(func() (*gojsonschema.Schema, error) {
	return gojsonschema.NewSchema(gojsonschema.NewBytesLoader(agreementSchemaJSON))
})

// fileResult is what parsing one file produced.
type fileResult struct {
	file   string
	raw    []byte
	a      *Agreement // nil when the file could not be read into an agreement
	idLine int
	// consumerLine is the line of the consumer key (0: none).
	consumerLine int
	errs         []*LoadError
}

func load(fsys fs.FS, where string, catalog datasetFields) (*Set, error) {
	display := func(name string) string {
		if where == "" {
			return name
		}
		return path.Join(where, name)
	}
	label := where
	if label == "" {
		label = "the given folder"
	}
	var names []string
	for _, pattern := range []string{"*.yaml", "*.yml"} {
		m, err := fs.Glob(fsys, pattern)
		if err != nil {
			return nil, fmt.Errorf("policies: list agreement files in %s: %w", label, err)
		}
		names = append(names, m...)
	}
	sort.Strings(names)
	if len(names) == 0 {
		// An empty set would silently stop every delivery; a wrong path is the
		// likely cause.
		return nil, fmt.Errorf("policies: no agreement files (*.yaml) in %s; check the path", label)
	}

	results := make([]*fileResult, 0, len(names))
	for _, name := range names {
		r := &fileResult{file: display(name)}
		raw, err := readLimited(fsys, name)
		if err != nil {
			r.errs = append(r.errs, &LoadError{File: r.file, Msg: err.Error(), Err: err})
		} else {
			r.raw = raw
			parseFile(r, catalog)
		}
		results = append(results, r)
	}

	// Ids must be unique across files: decisions and audit records name an
	// agreement by id alone.
	seen := map[string]*fileResult{}
	for _, r := range results {
		if r.a == nil || r.a.ID == "" {
			continue
		}
		if first, dup := seen[r.a.ID]; dup {
			r.errs = append(r.errs, &LoadError{File: r.file, Line: r.idLine, Field: "id",
				Msg: fmt.Sprintf("duplicate agreement id %q, also defined at %s:%d; give each agreement its own id", r.a.ID, first.file, first.idLine)})
			continue
		}
		seen[r.a.ID] = r
	}

	var all []error
	for _, r := range results {
		sort.SliceStable(r.errs, func(i, j int) bool {
			if r.errs[i].Line != r.errs[j].Line {
				return r.errs[i].Line < r.errs[j].Line
			}
			return r.errs[i].Error() < r.errs[j].Error()
		})
		for _, e := range r.errs {
			all = append(all, e)
		}
	}
	if len(all) > 0 {
		return nil, fmt.Errorf("policies: %d problem(s) in the agreements in %s, nothing loaded:\n%w", len(all), label, errors.Join(all...))
	}

	agreements := make([]Agreement, 0, len(results))
	files := make(map[string][]byte, len(results))
	for _, r := range results {
		agreements = append(agreements, *r.a)
		files[r.file] = r.raw
	}
	s, err := newSet(agreements, files)
	if err != nil {
		return nil, fmt.Errorf("policies: agreements in %s: %w", label, err)
	}
	for _, r := range results {
		s.consumerLine[r.a.ID] = r.consumerLine
	}
	return s, nil
}

func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("cannot open: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	if len(raw) > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d bytes; an agreement file holds one agreement", maxFileSize)
	}
	return raw, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems are the problems yaml.v3's parser (not its scanner)
// reports. For these it prints the 0-based line of the construct it was
// parsing (an unclosed [ list, a misindented mapping), so one is added to
// point the operator at the right line.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlError turns a yaml.v3 syntax error into a LoadError with its line.
func yamlError(file string, err error) *LoadError {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if yamlParserProblems[msg] {
			line++
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &LoadError{File: file, Line: line, Msg: "YAML syntax: " + msg, Err: err}
}

// parseFile fills r from r.raw: YAML, then the JSON Schema, then the checks
// against the catalog.
func parseFile(r *fileResult, catalog datasetFields) {
	fail := func(line int, field, msg string) {
		r.errs = append(r.errs, &LoadError{File: r.file, Line: line, Field: field, Msg: msg})
	}

	dec := yaml.NewDecoder(bytes.NewReader(r.raw))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			fail(0, "", "file is empty; write one agreement (see policies/agreement.schema.json)")
			return
		}
		r.errs = append(r.errs, yamlError(r.file, err))
		return
	}
	// One agreement per file: a second document would otherwise be ignored
	// silently, which is the last thing an operator expects.
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		fail(extra.Line, "", "a second YAML document (---); keep one agreement per file")
		return
	case !errors.Is(err, io.EOF):
		r.errs = append(r.errs, yamlError(r.file, err))
		return
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		fail(doc.Line, "", "file holds no agreement; write one agreement as a YAML mapping")
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		fail(root.Line, "", fmt.Sprintf("an agreement is a YAML mapping (key: value), found %s; keep one agreement per file", kindName(root)))
		return
	}
	r.idLine = root.Line
	if n := lookup(root, "id"); n != nil {
		r.idLine = n.Line
	}
	if n := lookup(root, "consumer"); n != nil {
		r.consumerLine = n.Line
	}

	conv := &converter{file: r.file}
	value := conv.value(root)
	if len(conv.errs) > 0 {
		r.errs = append(r.errs, conv.errs...)
		return
	}

	schemaOK := true
	schema, err := agreementSchema()
	if err != nil {
		// The embedded schema is covered by tests; reaching this is a build
		// defect, not an operator's.
		fail(0, "", fmt.Sprintf("internal: agreement.schema.json does not compile: %v", err))
		return
	}
	res, err := schema.Validate(gojsonschema.NewGoLoader(value))
	if err != nil {
		fail(0, "", fmt.Sprintf("cannot validate: %v", err))
		return
	}
	// A failed oneOf also reports why each branch failed ("equals is
	// required"); the oneOf message alone says what to do.
	oneOfAt := map[string]bool{}
	for _, e := range res.Errors() {
		if e.Type() == "number_one_of" {
			oneOfAt[strings.Join(contextPath(e.Context()), ".")] = true
		}
	}
	for _, e := range res.Errors() {
		schemaOK = false
		if e.Type() == "required" && oneOfAt[strings.Join(contextPath(e.Context()), ".")] {
			continue
		}
		segs := contextPath(e.Context())
		field := strings.Join(segs, ".")
		var node *yaml.Node
		if prop, ok := e.Details()["property"].(string); ok && e.Type() == "additional_property_not_allowed" {
			// Point at the unknown key itself, not at its parent.
			node = locateKey(root, segs, prop)
			field = strings.TrimPrefix(field+"."+prop, ".")
		} else {
			node = locate(root, segs)
		}
		fail(node.Line, field, schemaMessage(e))
	}

	// The schema guarantees the shape; the typed agreement comes through JSON
	// so that it sees exactly what the schema checked.
	js, err := json.Marshal(value)
	if err != nil {
		fail(0, "", fmt.Sprintf("cannot convert to JSON: %v", err))
		return
	}
	var a Agreement
	if err := json.Unmarshal(js, &a); err != nil {
		if schemaOK {
			fail(0, "", fmt.Sprintf("cannot read the agreement: %v", err))
		}
		// Otherwise the schema errors above already say what is wrong.
		return
	}
	a.Source = r.file
	semanticChecks(r, root, &a, catalog)
	if schemaOK && len(r.errs) == 0 {
		r.a = &a
	} else if a.ID != "" {
		// Keep the id for the duplicate check, so that a second file with the
		// same id is reported in the same pass.
		r.a = &Agreement{ID: a.ID}
	}
}

// schemaMessage rewords the few schema errors whose library text does not
// tell an operator what to do.
func schemaMessage(e gojsonschema.ResultError) string {
	switch e.Type() {
	case "additional_property_not_allowed":
		return "unknown key; see policies/agreement.schema.json for the keys of an agreement"
	case "number_one_of":
		return "a filter condition needs exactly one of equals or in"
	case "pattern":
		if p, ok := e.Details()["pattern"].(fmt.Stringer); ok {
			if hint, ok := patternHints[p.String()]; ok {
				if v, ok := e.Value().(string); ok && strings.TrimSpace(v) != "" {
					return fmt.Sprintf("%q: %s", v, hint)
				}
				return hint
			}
		}
	}
	return e.Description()
}

// patternHints say in words what each pattern of agreement.schema.json wants;
// a regular expression is not an instruction.
var patternHints = map[string]string{
	`^[a-z0-9][a-z0-9-]{2,79}$`:          "an id is 3 to 80 lowercase letters, digits and '-', e.g. vss-birth-registration-under6",
	`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`: "write the dataset as <domain>.<dataset>, e.g. land.land_use_right",
	`^[a-z][a-z0-9-]{1,39}$`:             "a consumer id is 2 to 40 lowercase letters, digits and '-', starting with a letter, e.g. vss",
	`^[a-z][a-z0-9_]*$`:                  "use lowercase letters, digits and '_', starting with a letter",
	`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`:       "write the day as YYYY-MM-DD, e.g. 2026-01-31",
	`\S`:                                 "must not be blank",
	`^[1-9][0-9]{0,3}d$`:                 "write a number of days and d, from 1d to 9999d, e.g. 180d",
}

// contextPath splits a gojsonschema context like "(root).mask.holder_cccd"
// into its keys. The custom separator keeps keys containing dots intact.
func contextPath(c *gojsonschema.JsonContext) []string {
	if c == nil {
		return nil
	}
	segs := strings.Split(c.String("\x00"), "\x00")
	if len(segs) > 0 && segs[0] == "(root)" {
		segs = segs[1:]
	}
	return segs
}

// locate walks the YAML tree along a JSON path and returns the deepest node it
// reaches, so an error always has a line even when the path is partial.
func locate(n *yaml.Node, segs []string) *yaml.Node {
	for _, s := range segs {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			next = lookup(n, s)
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(s); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

// locateKey returns the key node named key in the mapping at segs.
func locateKey(root *yaml.Node, segs []string, key string) *yaml.Node {
	n := locate(root, segs)
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i]
			}
		}
	}
	return n
}

// lookup returns the value node of key in a mapping node, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// lineAt is the line of the node at the path of keys, for semantic errors.
func lineAt(root *yaml.Node, segs ...string) int { return locate(root, segs).Line }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

// converter turns a YAML tree into plain JSON values (maps, slices, strings,
// numbers, booleans, nil), collecting what cannot be expressed in JSON.
type converter struct {
	file    string
	errs    []*LoadError
	aliases int // aliases seen; only the first is reported
}

func (c *converter) fail(n *yaml.Node, msg string) {
	c.errs = append(c.errs, &LoadError{File: c.file, Line: n.Line, Msg: msg})
}

func (c *converter) value(n *yaml.Node) any {
	switch n.Kind {
	case yaml.AliasNode:
		// Anchors would let one edit change several agreements' fields at a
		// distance, and alias chains can expand without bound; agreements
		// spell every value out. One report is enough to fix them all.
		if c.aliases++; c.aliases == 1 {
			c.fail(n, "YAML aliases (*name) are not allowed in agreements; write the value out")
		}
		return nil
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				c.fail(k, "a key must be a plain name")
				continue
			}
			if k.ShortTag() == "!!merge" {
				c.fail(k, "YAML merge keys (<<) are not allowed in agreements; write the keys out")
				continue
			}
			if _, dup := m[k.Value]; dup {
				// yaml.v3 would keep the last one; for a legal instrument a
				// silently overridden list of fields is not acceptable.
				c.fail(k, fmt.Sprintf("key %q appears twice; keep one", k.Value))
				continue
			}
			m[k.Value] = c.value(v)
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			s = append(s, c.value(item))
		}
		return s
	case yaml.ScalarNode:
		return c.scalar(n)
	case yaml.DocumentNode:
		if len(n.Content) == 1 {
			return c.value(n.Content[0])
		}
	}
	return nil
}

func (c *converter) scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.fail(n, fmt.Sprintf("not a boolean: %v", err))
			return nil
		}
		return b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i
		}
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.fail(n, fmt.Sprintf("number %q is out of range", n.Value))
			return nil
		}
		return f
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			c.fail(n, fmt.Sprintf("%q is not a finite number", n.Value))
			return nil
		}
		return f
	}
	// Strings, and timestamps kept as written: a date is checked as text
	// (YYYY-MM-DD) by the schema, not reinterpreted in some time zone.
	return n.Value
}

// semanticChecks checks what the schema cannot: names against the catalog and
// the consistency of the agreement's own parts.
func semanticChecks(r *fileResult, root *yaml.Node, a *Agreement, catalog datasetFields) {
	fail := func(line int, field, msg string) {
		r.errs = append(r.errs, &LoadError{File: r.file, Line: line, Field: field, Msg: msg})
	}
	fieldsOf, known := catalog[a.Dataset]
	if a.Dataset != "" && !known {
		fail(lineAt(root, "dataset"), "dataset", fmt.Sprintf("unknown dataset %q; use one of %s (schemas/catalog.yaml)",
			a.Dataset, strings.Join(sortedKeys(catalog), ", ")))
	}
	listed := map[string]bool{}
	for i, f := range a.Fields {
		listed[f] = true
		if known && f != "" && !fieldsOf[f] {
			fail(lineAt(root, "fields", strconv.Itoa(i)), fmt.Sprintf("fields.%d", i),
				fmt.Sprintf("%q is not a field of %s; its fields are %s", f, a.Dataset, strings.Join(sortedKeys(fieldsOf), ", ")))
		}
	}
	for _, f := range sortedKeys(a.Mask) {
		if !listed[f] {
			fail(lineAt(root, "mask", f), "mask."+f,
				fmt.Sprintf("field %q is masked but not in fields; add it to fields or remove the mask", f))
		}
	}
	for i, c := range a.Filter {
		if known && c.Field != "" && !fieldsOf[c.Field] {
			fail(lineAt(root, "filter", strconv.Itoa(i), "field"), fmt.Sprintf("filter.%d.field", i),
				fmt.Sprintf("%q is not a field of %s; a filter can only test the dataset's fields", c.Field, a.Dataset))
		}
	}
	// The schema checks the YYYY-MM-DD shape; this catches days that do not
	// exist, like 2025-02-30.
	from, errFrom := a.ValidFrom.Start()
	if dateShape.MatchString(string(a.ValidFrom)) && errFrom != nil {
		fail(lineAt(root, "valid_from"), "valid_from", errFrom.Error())
	}
	until, errUntil := a.ValidUntil.Start()
	if dateShape.MatchString(string(a.ValidUntil)) && errUntil != nil {
		fail(lineAt(root, "valid_until"), "valid_until", errUntil.Error())
	}
	if errFrom == nil && errUntil == nil && until.Before(from) {
		fail(lineAt(root, "valid_until"), "valid_until",
			fmt.Sprintf("%s is before valid_from %s; the agreement would never be in force", a.ValidUntil, a.ValidFrom))
	}
	if a.Mode == ModeStream && a.CaseReferenceRequired {
		fail(lineAt(root, "case_reference_required"), "case_reference_required",
			"a stream has no request to carry a case reference; use mode lookup or verify, or remove this key")
	}
	if a.Framing != "" && a.Mode != ModeStream {
		fail(lineAt(root, "framing"), "framing", "only a stream has a delivery topic to frame; remove this key")
	}
}

var dateShape = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
