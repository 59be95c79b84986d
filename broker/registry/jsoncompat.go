package registry

import (
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/xeipuuv/gojsonschema"
)

// The JSON Schema compatibility checker decides whether every value valid
// under a writer schema is valid under a reader schema (language
// inclusion). It is sound, not complete: "compatible" is only answered
// when it is proven; what it cannot prove is refused with the JSON pointer
// path (in the reader schema) of the construct it stopped at.
//
// Both schemas are seen as conjunctions: the reader's allOf and $ref
// targets are checked one by one (each must hold); the writer's are
// gathered into a list of constraints that all hold for every value it
// writes. Writer disjunctions (anyOf, oneOf, if/then/else) are split into
// cases when the undivided writer does not suffice; oneOf cases carry the
// negation of the other branches, which is what proves a reader oneOf's
// branches exclusive. Keywords are read as the draft of their document
// defines them (and as gojsonschema, the bus's validator, applies them):
// draft-04 boolean exclusiveMinimum, const/contains/propertyNames from
// draft 6, if/then/else from draft 7, dependentRequired/dependentSchemas/
// $anchor from 2019-09, prefixItems from 2020-12. Where the validator's
// behaviour is uncertain ($ref siblings before 2019-09, which gojsonschema
// applies or not depending on parse order) the reader is taken to apply
// them and the writer not to.

// jsonDoc is a decoded JSON Schema with the documents its references name
// (reference name → decoded document), for the compatibility checker.
type jsonDoc struct {
	root  any
	docs  map[string]any
	draft map[string]int   // document ("" the root) → draft, see draftOf
	ids   map[string]jnode // absolute URI ($id, id, $anchor) → schema
	text  string           // the canonical text of everything, for identity
}

func decodeJSONDoc(text string, deps []dep) (*jsonDoc, error) {
	d := &jsonDoc{docs: map[string]any{}, draft: map[string]int{}, ids: map[string]jnode{}}
	var err error
	if d.root, err = decodeNumbers(text); err != nil {
		return nil, err
	}
	var sb strings.Builder
	sb.WriteString(jsonText(d.root))
	for _, x := range deps {
		v, err := decodeNumbers(x.text)
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", x.name, err)
		}
		d.docs[x.name] = v
		sb.WriteString("\x00" + x.name + "\x00" + jsonText(v))
	}
	d.text = sb.String()
	d.draft[""] = draftOf(d.root)
	d.index(d.rootNode())
	for name, v := range d.docs {
		d.draft[name] = draftOf(v)
		d.index(d.docNode(name))
	}
	return d, nil
}

func decodeNumbers(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Drafts; 0 is a document without a known $schema, which gojsonschema
// reads in its hybrid mode (draft-07 keywords, draft-04 spellings too).
const (
	draftHybrid = 0
	draft4      = 4
	draft6      = 6
	draft7      = 7
	draft2019   = 2019
	draft2020   = 2020
)

func draftOf(root any) int {
	m, _ := root.(map[string]any)
	s, _ := m["$schema"].(string)
	switch {
	case strings.Contains(s, "draft-04"):
		return draft4
	case strings.Contains(s, "draft-06"):
		return draft6
	case strings.Contains(s, "draft-07"):
		return draft7
	case strings.Contains(s, "2019-09"):
		return draft2019
	case strings.Contains(s, "2020-12"):
		return draft2020
	}
	return draftHybrid
}

// keywordIn reports whether keyword kw is a constraint in draft d.
func keywordIn(kw string, d int) bool {
	switch kw {
	case "const", "contains", "propertyNames":
		return d != draft4
	case "if", "then", "else":
		return d == draftHybrid || d >= draft7
	case "dependencies", "additionalItems":
		return d < draft2019 || (kw == "additionalItems" && d == draft2019)
	case "dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems", "minContains", "maxContains":
		return d >= draft2019
	case "prefixItems":
		return d >= draft2020
	}
	return true
}

// jnode is a schema in its document: the value, the document set it
// belongs to, the document ("" the root, else a reference name), its JSON
// pointer there and its base URI. Synthetic nodes (implied true, made-up
// const) have syn set.
type jnode struct {
	v    any
	d    *jsonDoc
	doc  string
	ptr  string
	base string
	syn  bool
}

func (d *jsonDoc) rootNode() jnode {
	return d.withID(jnode{v: d.root, d: d, base: refBase + "schema.json"})
}

func (d *jsonDoc) docNode(name string) jnode {
	return d.withID(jnode{v: d.docs[name], d: d, doc: name, base: refURL(name)})
}

func (n jnode) draft() int {
	if n.d == nil {
		return draftHybrid
	}
	return n.d.draft[n.doc]
}

func synth(v any) jnode { return jnode{v: v, syn: true} }

// idKeyword is the keyword that names a schema in draft d.
func idOf(m map[string]any, d int) (string, bool) {
	switch d {
	case draft4:
		s, ok := m["id"].(string)
		return s, ok
	case draftHybrid:
		if s, ok := m["id"].(string); ok {
			return s, true
		}
	}
	s, ok := m["$id"].(string)
	return s, ok
}

// withID moves n's base to its own $id.
func (d *jsonDoc) withID(n jnode) jnode {
	m, ok := n.v.(map[string]any)
	if !ok {
		return n
	}
	if id, ok := idOf(m, n.draft()); ok {
		if u, err := resolveURI(n.base, id); err == nil {
			u.Fragment, u.RawFragment = "", ""
			n.base = u.String()
		}
	}
	return n
}

func resolveURI(base, ref string) (*url.URL, error) {
	b, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	return b.ResolveReference(r), nil
}

// index records every schema named by $id/id or $anchor under its
// absolute URI, as gojsonschema's reference pool does.
func (d *jsonDoc) index(n jnode) {
	var walk func(n jnode, depth int)
	walk = func(n jnode, depth int) {
		if depth > maxJSONDepth {
			return
		}
		switch x := n.v.(type) {
		case map[string]any:
			if id, ok := idOf(x, n.draft()); ok {
				if u, err := resolveURI(n.base, id); err == nil {
					key := *u
					key.Fragment, key.RawFragment = "", ""
					if _, dup := d.ids[key.String()]; !dup && key.String() != "" && !strings.HasPrefix(id, "#") {
						d.ids[key.String()] = n
					}
					if u.Fragment != "" && !strings.HasPrefix(u.Fragment, "/") {
						d.ids[key.String()+"#"+u.Fragment] = n
					}
				}
			}
			if a, ok := x["$anchor"].(string); ok && n.draft() >= draft2019 {
				d.ids[n.base+"#"+a] = n
			}
			for _, k := range sortedKeys(x) {
				switch k {
				case "enum", "const", "examples", "default":
					continue
				}
				walk(child(n, x[k], k), depth+1)
			}
		case []any:
			for i, v := range x {
				walk(child(n, v, strconv.Itoa(i)), depth+1)
			}
		}
	}
	walk(n, 0)
}

func child(n jnode, v any, keys ...string) jnode {
	p := n.ptr
	for _, k := range keys {
		p += "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
	}
	c := jnode{v: v, d: n.d, doc: n.doc, ptr: p, base: n.base, syn: n.syn}
	if n.d != nil {
		c = n.d.withID(c)
	}
	return c
}

// deref follows n's $ref one step.
func derefJSON(n jnode, ref string) (jnode, error) {
	if n.d == nil {
		return n, fmt.Errorf("$ref %q in a synthetic schema", ref)
	}
	u, err := resolveURI(n.base, ref)
	if err != nil {
		return n, fmt.Errorf("$ref %q: %w", ref, err)
	}
	frag := u.Fragment
	key := *u
	key.Fragment, key.RawFragment = "", ""
	if frag != "" && !strings.HasPrefix(frag, "/") {
		if t, ok := n.d.ids[key.String()+"#"+frag]; ok {
			return t, nil
		}
		return n, fmt.Errorf("$ref %q names no schema ($id or $anchor) in the documents", ref)
	}
	var start jnode
	switch t, ok := n.d.ids[key.String()]; {
	case ok:
		start = t
	case key.String() == refBase+"schema.json":
		start = n.d.rootNode()
	default:
		found := false
		b, _, _ := strings.Cut(ref, "#")
		for name := range n.d.docs {
			if refURL(name) == key.String() || (b != "" && name == b) {
				start, found = n.d.docNode(name), true
				break
			}
		}
		if !found {
			return n, fmt.Errorf("$ref %q names no schema reference", ref)
		}
	}
	if frag == "" {
		return start, nil
	}
	cur := start
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := cur.v.(type) {
		case map[string]any:
			v, ok := x[tok]
			if !ok {
				return n, fmt.Errorf("$ref %q: %q not found", ref, tok)
			}
			cur = child(cur, v, tok)
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return n, fmt.Errorf("$ref %q: index %q out of range", ref, tok)
			}
			cur = child(cur, x[i], tok)
		default:
			return n, fmt.Errorf("$ref %q: %q not found", ref, tok)
		}
	}
	return cur, nil
}

// jsonBudget bounds the work of one comparison: disjunctions are matched
// by trial and split into cases, which is exponential in the worst case.
const jsonBudget = 200_000

// maxJSONDepth bounds the nesting the checker descends into.
const maxJSONDepth = 512

// jsonIncompatibilities returns what makes some document that is valid
// under writer invalid under reader, each message starting with the JSON
// path (in the reader schema) where it was found. None means proven
// compatible.
func jsonIncompatibilities(reader, writer *jsonDoc) []string {
	if reader.text == writer.text {
		return nil // the same documents accept the same values
	}
	budget := jsonBudget
	c := &jsonChecker{budget: &budget, memo: &memo{m: map[string]int{}}, scalar: map[string]*gojsonschema.Schema{}}
	c.sub(reader.rootNode(), []wn{{n: writer.rootNode()}}, "#")
	if budget < 0 {
		return []string{"#: TOO_COMPLEX: the schemas are too complex to compare; treat them as incompatible"}
	}
	return c.out
}

// wn is one constraint of the writer: a schema every written value
// satisfies (or, with neg, does not satisfy). done marks the disjunctions
// of the schema already split into cases.
type wn struct {
	n    jnode
	neg  bool
	done uint8
}

const (
	doneAnyOf uint8 = 1 << iota
	doneOneOf
	doneIf
)

// memo holds the comparisons done (-1) or under way (the instance level
// they started at) in a scope; a trial's scope sees its parent's.
type memo struct {
	m      map[string]int
	parent *memo
}

func (m *memo) get(k string) (int, bool) {
	for ; m != nil; m = m.parent {
		if v, ok := m.m[k]; ok {
			return v, true
		}
	}
	return 0, false
}

type jsonChecker struct {
	depth  int
	level  int // how deep into the value: properties and items descend
	budget *int
	memo   *memo // comparisons done or under way in this scope
	out    []string
	scalar map[string]*gojsonschema.Schema
}

func (c *jsonChecker) addf(path, kind, format string, args ...any) {
	c.out = append(c.out, path+": "+kind+": "+fmt.Sprintf(format, args...))
}

// trial runs f in a scope of its own: its messages and memo entries are
// returned or dropped, not added to c's.
func (c *jsonChecker) trial(f func(t *jsonChecker)) []string {
	t := &jsonChecker{depth: c.depth, budget: c.budget, memo: &memo{m: map[string]int{}, parent: c.memo}, level: c.level, scalar: c.scalar}
	f(t)
	if *c.budget < 0 && len(t.out) == 0 {
		return []string{"#: TOO_COMPLEX"}
	}
	return t.out
}

func (c *jsonChecker) ok(f func(t *jsonChecker)) bool { return len(c.trial(f)) == 0 }

func (c *jsonChecker) spend() bool {
	*c.budget--
	return *c.budget >= 0 && c.depth < maxJSONDepth
}

func nodeKey(n jnode) string {
	if n.syn || n.d == nil {
		return "~" + jsonText(n.v)
	}
	return fmt.Sprintf("%p%s#%s", n.d, n.doc, n.ptr)
}

func wsKey(ws []wn) string {
	ks := make([]string, len(ws))
	for i, w := range ws {
		ks[i] = fmt.Sprintf("%v%d%s", w.neg, w.done, nodeKey(w.n))
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}

// schemaMap returns the keywords of a schema; true and {} accept
// everything, false nothing.
func schemaMap(v any) (m map[string]any, acceptsAll, acceptsNone bool) {
	switch x := v.(type) {
	case bool:
		return nil, x, !x
	case map[string]any:
		return x, isTrivial(x), false
	}
	return nil, true, false // not a schema: gojsonschema would have refused it
}

// isTrivial reports whether a schema object has no keyword that
// constrains values.
func isTrivial(m map[string]any) bool {
	for k := range m {
		switch k {
		case "$schema", "$id", "id", "title", "description", "$comment", "examples", "default",
			"definitions", "$defs", "readOnly", "writeOnly", "deprecated", "$anchor":
		default:
			return false
		}
	}
	return true
}

// sameSchema reports whether two nodes surely accept the same values:
// the same place in the same documents, or equal text without references
// under the same draft.
func sameSchema(a, b jnode) bool {
	if !a.syn && !b.syn && a.d != nil && b.d != nil && a.d.text == b.d.text && a.doc == b.doc && a.ptr == b.ptr {
		return true
	}
	if a.draft() != b.draft() {
		return false
	}
	t := jsonText(a.v)
	return !strings.Contains(t, `"$ref"`) && !strings.Contains(t, `"$dynamicRef"`) && !strings.Contains(t, `"$recursiveRef"`) && t == jsonText(b.v)
}

// sub checks that every value satisfying all of ws satisfies r, adding
// messages for what it cannot prove.
func (c *jsonChecker) sub(r jnode, ws []wn, path string) { c.subAt(r, ws, path, true) }

// subIn is sub for a subschema that applies to the same value as one
// already compared (a combinator's branch): the value's content
// annotations were compared there, and the branch alone need not repeat
// them.
func (c *jsonChecker) subIn(r jnode, ws []wn, path string) { c.subAt(r, ws, path, false) }

// subChild is sub for a value inside the current one (a property, an item).
func (c *jsonChecker) subChild(r jnode, ws []wn, path string) {
	c.level++
	defer func() { c.level-- }()
	c.subAt(r, ws, path, true)
}

func (c *jsonChecker) subAt(r jnode, ws []wn, path string, content bool) {
	if !c.spend() {
		return
	}
	if _, all, _ := schemaMap(r.v); all {
		return
	}
	if len(ws) == 1 && !ws[0].neg && ws[0].done == 0 && sameSchema(r, ws[0].n) {
		return
	}
	ws, empty := c.normW(ws)
	if empty {
		return
	}
	key := fmt.Sprintf("%v", content) + nodeKey(r) + "|" + wsKey(ws)
	if at, ok := c.memo.get(key); ok {
		// Done already (a failure then left its message), or under way
		// further up: after descending into the value that is a recursive
		// schema, and assuming it holds is sound (values are finite);
		// without descending it is a cycle that decides nothing.
		if at >= 0 && at >= c.level {
			c.addf(path, "NOT_PROVEN", "the schemas refer to themselves without descending into the value; the change cannot be proven compatible")
		}
		return
	}
	c.memo.m[key] = c.level
	defer func() { c.memo.m[key] = -1 }()
	c.depth++
	defer func() { c.depth-- }()
	if c.isEmpty(ws) {
		return
	}
	if i := splittable(ws); i >= 0 {
		msgs := c.trial(func(t *jsonChecker) { t.subFlat(r, ws, path, content) })
		if len(msgs) == 0 {
			return
		}
		for _, b := range c.split(ws, i) {
			c.subAt(r, b, path, content)
		}
		return
	}
	c.subFlat(r, ws, path, content)
}

// normW resolves references and gathers allOf and not into a flat list
// of writer constraints; empty reports a list no value satisfies.
func (c *jsonChecker) normW(ws []wn) (out []wn, empty bool) {
	seen := map[string]bool{}
	var add func(w wn, depth int) bool
	add = func(w wn, depth int) bool {
		if depth > 64 || !c.spend() {
			return false
		}
		m, all, none := schemaMap(w.n.v)
		if w.neg {
			switch {
			case none:
				return false // not false: no constraint
			case all:
				return true // not true: nothing
			}
			if len(m) == 1 || (len(m) == 2 && m["$schema"] != nil) {
				if x, ok := m["not"]; ok {
					return add(wn{n: child(w.n, x, "not")}, depth+1)
				}
			}
			k := "-" + nodeKey(w.n)
			if !seen[k] {
				seen[k] = true
				out = append(out, w)
			}
			return false
		}
		switch {
		case none:
			return true
		case all:
			return false
		}
		if ref, ok := m["$ref"].(string); ok {
			t, err := derefJSON(w.n, ref)
			if err != nil {
				return false // an unknown writer constraint is dropped: the writer is then wider
			}
			if add(wn{n: t}, depth+1) {
				return true
			}
			if w.n.draft() < draft2019 {
				return false // siblings of $ref: not surely applied
			}
		}
		k := fmt.Sprintf("+%d", w.done) + nodeKey(w.n)
		if !seen[k] {
			seen[k] = true
			out = append(out, w)
		}
		if xs, ok := m["allOf"].([]any); ok {
			for i, x := range xs {
				if add(wn{n: child(w.n, x, "allOf", strconv.Itoa(i))}, depth+1) {
					return true
				}
			}
		}
		if x, ok := m["not"]; ok {
			if add(wn{n: child(w.n, x, "not"), neg: true}, depth+1) {
				return true
			}
		}
		return false
	}
	for _, w := range ws {
		if add(w, 0) {
			return nil, true
		}
	}
	return out, false
}

// splittable returns the index of a writer constraint with a disjunction
// not yet split, or -1.
func splittable(ws []wn) int {
	for i, w := range ws {
		if w.neg {
			continue
		}
		m, _ := w.n.v.(map[string]any)
		if _, ok := m["anyOf"].([]any); ok && w.done&doneAnyOf == 0 {
			return i
		}
		if _, ok := m["oneOf"].([]any); ok && w.done&doneOneOf == 0 {
			return i
		}
		if _, ok := m["if"]; ok && w.done&doneIf == 0 && keywordIn("if", w.n.draft()) {
			return i
		}
	}
	return -1
}

// split returns the cases of ws's i-th constraint's first disjunction.
func (c *jsonChecker) split(ws []wn, i int) [][]wn {
	w := ws[i]
	m := w.n.v.(map[string]any)
	rest := func(flag uint8, extra ...wn) []wn {
		b := slices.Clone(ws)
		b[i].done |= flag
		return append(b, extra...)
	}
	var out [][]wn
	if xs, ok := m["anyOf"].([]any); ok && w.done&doneAnyOf == 0 {
		for j, x := range xs {
			out = append(out, rest(doneAnyOf, wn{n: child(w.n, x, "anyOf", strconv.Itoa(j))}))
		}
		return out
	}
	if xs, ok := m["oneOf"].([]any); ok && w.done&doneOneOf == 0 {
		for j, x := range xs {
			extra := []wn{{n: child(w.n, x, "oneOf", strconv.Itoa(j))}}
			for k, y := range xs {
				if k != j {
					extra = append(extra, wn{n: child(w.n, y, "oneOf", strconv.Itoa(k)), neg: true})
				}
			}
			out = append(out, rest(doneOneOf, extra...))
		}
		return out
	}
	cond := child(w.n, m["if"], "if")
	then, els := []wn{{n: cond}}, []wn{{n: cond, neg: true}}
	if x, ok := m["then"]; ok {
		then = append(then, wn{n: child(w.n, x, "then")})
	}
	if x, ok := m["else"]; ok {
		els = append(els, wn{n: child(w.n, x, "else")})
	}
	return [][]wn{rest(doneIf, then...), rest(doneIf, els...)}
}

func positives(ws []wn) []jnode {
	var out []jnode
	for _, w := range ws {
		if !w.neg {
			out = append(out, w.n)
		}
	}
	return out
}

func maps(ns []jnode) []map[string]any {
	out := make([]map[string]any, 0, len(ns))
	for _, n := range ns {
		if m, ok := n.v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// readerParts flattens the reader's allOf and $ref into the schema
// objects that must all hold, with their paths. A $ref that cannot be
// resolved is reported.
func (c *jsonChecker) readerParts(r jnode, path string) (parts []jnode, paths []string, none bool) {
	seen := map[string]bool{}
	var add func(n jnode, p string, depth int)
	add = func(n jnode, p string, depth int) {
		if depth > 64 || seen[nodeKey(n)] {
			return
		}
		seen[nodeKey(n)] = true
		m, all, no := schemaMap(n.v)
		switch {
		case no:
			none = true
			return
		case all:
			return
		}
		if ref, ok := m["$ref"].(string); ok {
			t, err := derefJSON(n, ref)
			if err != nil {
				c.addf(p, "REF_UNRESOLVED", "%v; the change cannot be checked", err)
			} else {
				add(t, p, depth+1)
			}
		}
		parts, paths = append(parts, n), append(paths, p)
		if xs, ok := m["allOf"].([]any); ok {
			for i, x := range xs {
				add(child(n, x, "allOf", strconv.Itoa(i)), p+"/allOf/"+strconv.Itoa(i), depth+1)
			}
		}
	}
	add(r, path, 0)
	return parts, paths, none
}

// subFlat checks r against ws without splitting ws.
func (c *jsonChecker) subFlat(r jnode, ws []wn, path string, content bool) {
	parts, paths, none := c.readerParts(r, path)
	if none {
		c.addf(path, "SCHEMA_NARROWED", "the reader accepts no value here (false), the writer does")
		return
	}
	if content {
		c.checkContent(parts, ws, path)
	}
	for i, p := range parts {
		m := p.v.(map[string]any)
		for _, kw := range []string{"$recursiveRef", "$dynamicRef"} {
			if _, ok := m[kw]; ok {
				c.addf(paths[i]+"/"+kw, "KEYWORD_NOT_PROVEN", "the reader's %q is not supported by the checker; the change cannot be proven compatible", kw)
			}
		}
		c.leaf(p, m, ws, paths[i])
		c.choices(p, m, ws, paths[i])
	}
}

// ---- writer summaries --------------------------------------------------

// Type bits: integer and non-integer numbers apart, so that "integer" is
// a subset of "number".
const (
	tNull uint8 = 1 << iota
	tBool
	tObj
	tArr
	tStr
	tInt
	tFrac
	tNum = tInt | tFrac
	tAll = tNull | tBool | tObj | tArr | tStr | tNum
)

func typeBit(s string) uint8 {
	switch s {
	case "null":
		return tNull
	case "boolean":
		return tBool
	case "object":
		return tObj
	case "array":
		return tArr
	case "string":
		return tStr
	case "integer":
		return tInt
	case "number":
		return tNum
	}
	return 0
}

func typeMask(m map[string]any) uint8 {
	switch t := m["type"].(type) {
	case string:
		return typeBit(t)
	case []any:
		var b uint8
		for _, x := range t {
			if s, ok := x.(string); ok {
				b |= typeBit(s)
			}
		}
		return b
	}
	return tAll
}

func typeNames(b uint8) []string {
	var out []string
	for _, x := range []struct {
		b uint8
		s string
	}{{tNull, "null"}, {tBool, "boolean"}, {tObj, "object"}, {tArr, "array"}, {tStr, "string"}, {tInt, "integer"}, {tFrac, "number"}} {
		if b&x.b != 0 {
			out = append(out, x.s)
		}
	}
	return out
}

func valueType(v any) uint8 {
	switch x := v.(type) {
	case nil:
		return tNull
	case bool:
		return tBool
	case map[string]any:
		return tObj
	case []any:
		return tArr
	case string:
		return tStr
	case json.Number:
		if r, ok := new(big.Rat).SetString(string(x)); ok && r.IsInt() {
			return tInt
		}
		return tFrac
	case float64:
		if x == float64(int64(x)) {
			return tInt
		}
		return tFrac
	}
	return 0
}

// enumOf returns the values a schema object allows by enum or const.
func enumOf(n jnode, m map[string]any) ([]any, bool) {
	if e, ok := m["enum"].([]any); ok {
		if v, ok := m["const"]; ok && keywordIn("const", n.draft()) {
			return slices.DeleteFunc(slices.Clone(e), func(x any) bool { return !jsonEqual(x, v) }), true
		}
		return e, true
	}
	if v, ok := m["const"]; ok && keywordIn("const", n.draft()) {
		return []any{v}, true
	}
	return nil, false
}

// writerTypes is the set of types the writer's constraints allow.
func writerTypes(pos []jnode) uint8 {
	b := tAll
	for _, n := range pos {
		if m, ok := n.v.(map[string]any); ok {
			b &= typeMask(m)
			if e, ok := enumOf(n, m); ok {
				var eb uint8
				for _, v := range e {
					eb |= valueType(v)
				}
				b &= eb
			}
		}
	}
	return b
}

// finiteValues returns the values the writer can write when one of its
// constraints is an enum or const: the enum's values that every other
// constraint may accept.
func (c *jsonChecker) finiteValues(ws []wn) ([]any, bool) {
	var vals []any
	found := false
	for _, n := range positives(ws) {
		if m, ok := n.v.(map[string]any); ok {
			if e, ok := enumOf(n, m); ok {
				if !found {
					vals, found = slices.Clone(e), true
				} else {
					vals = slices.DeleteFunc(vals, func(v any) bool {
						return !slices.ContainsFunc(e, func(x any) bool { return jsonEqual(x, v) })
					})
				}
			}
		}
	}
	if !found {
		return nil, false
	}
	return slices.DeleteFunc(vals, func(v any) bool {
		for _, w := range ws {
			if ok, known := c.scalarValid(w.n, v, !w.neg); known && ok == w.neg {
				return true
			}
		}
		return false
	}), true
}

// scalarKeywords are the keywords that decide a scalar value alone.
var scalarKeywords = []string{"type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
	"multipleOf", "minLength", "maxLength", "pattern", "format"}

// scalarValid validates a scalar value against a schema with gojsonschema
// when the schema's verdict on scalars depends on scalar keywords only;
// known is false otherwise.
//
// With leafOnly the applicators ($ref, allOf, …) are left out: the answer
// is then the schema object's own keywords', which is what a positive
// constraint or the reader's leaf check needs; a negated constraint needs
// the whole schema's.
func (c *jsonChecker) scalarValid(n jnode, v any, leafOnly bool) (valid, known bool) {
	switch v.(type) {
	case map[string]any, []any:
		return false, false
	}
	m, all, none := schemaMap(n.v)
	switch {
	case all:
		return true, true
	case none:
		return false, true
	}
	sub := map[string]any{}
	for k, x := range m {
		if slices.Contains(scalarKeywords, k) {
			sub[k] = x
			continue
		}
		switch k {
		case "$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$recursiveRef", "$dynamicRef":
			if !leafOnly {
				return false, false
			}
		}
	}
	switch n.draft() {
	case draft4:
		sub["$schema"] = "http://json-schema.org/draft-04/schema#"
	case draft6:
		sub["$schema"] = "http://json-schema.org/draft-06/schema#"
	case draft7:
		sub["$schema"] = "http://json-schema.org/draft-07/schema#"
	}
	key := jsonText(sub)
	s, ok := c.scalar[key]
	if !ok {
		var err error
		s, err = gojsonschema.NewSchema(gojsonschema.NewStringLoader(key))
		if err != nil {
			s = nil
		}
		c.scalar[key] = s
	}
	if s == nil {
		return false, false
	}
	res, err := s.Validate(gojsonschema.NewStringLoader(jsonText(v)))
	if err != nil {
		return false, false
	}
	return res.Valid(), true
}

// ---- numbers -------------------------------------------------------------

func ratOf(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case json.Number:
		return new(big.Rat).SetString(string(x))
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return nil, false
		}
		return r, true
	}
	return nil, false
}

// nbound is a bound on numbers; v nil is none.
type nbound struct {
	v    *big.Rat
	excl bool
}

// numBounds reads minimum/maximum and both spellings of exclusiveness:
// draft-04's boolean that makes minimum exclusive, draft 6's number.
func numBounds(m map[string]any) (lo, hi nbound) {
	if r, ok := ratOf(m["minimum"]); ok {
		lo = nbound{v: r, excl: m["exclusiveMinimum"] == true}
	}
	if r, ok := ratOf(m["exclusiveMinimum"]); ok {
		lo = tighter(lo, nbound{v: r, excl: true}, false)
	}
	if r, ok := ratOf(m["maximum"]); ok {
		hi = nbound{v: r, excl: m["exclusiveMaximum"] == true}
	}
	if r, ok := ratOf(m["exclusiveMaximum"]); ok {
		hi = tighter(hi, nbound{v: r, excl: true}, true)
	}
	return lo, hi
}

func tighter(a, b nbound, upper bool) nbound {
	switch {
	case a.v == nil:
		return b
	case b.v == nil:
		return a
	}
	c := a.v.Cmp(b.v)
	if upper {
		c = -c
	}
	switch {
	case c > 0:
		return a
	case c < 0:
		return b
	}
	return nbound{v: a.v, excl: a.excl || b.excl}
}

// intBound turns a bound on integers into an inclusive integer bound.
func intBound(b nbound, upper bool) nbound {
	if b.v == nil {
		return b
	}
	n, d := b.v.Num(), b.v.Denom()
	q := new(big.Int)
	if upper {
		q.Div(n, d) // floor (Div rounds towards -inf for positive d)
		if b.excl && b.v.IsInt() {
			q.Sub(q, big.NewInt(1))
		}
	} else {
		m := new(big.Int)
		q.DivMod(n, d, m)
		if m.Sign() != 0 || b.excl {
			q.Add(q, big.NewInt(1))
		}
	}
	return nbound{v: new(big.Rat).SetInt(q)}
}

// implied reports whether writer bound w is at least as tight as reader
// bound r.
func implied(w, r nbound, upper bool) bool {
	if r.v == nil {
		return true
	}
	if w.v == nil {
		return false
	}
	c := w.v.Cmp(r.v)
	if upper {
		c = -c
	}
	return c > 0 || (c == 0 && (w.excl || !r.excl))
}

func boundText(b nbound, upper bool) string {
	if b.v == nil {
		return "any number"
	}
	op := map[[2]bool]string{{false, false}: ">= ", {false, true}: "> ", {true, false}: "<= ", {true, true}: "< "}[[2]bool{upper, b.excl}]
	return op + b.v.RatString()
}

// intKeyword returns the tightest writer value of an integer keyword
// (minLength, maxItems, …): the largest lower or smallest upper bound.
func intKeyword(ms []map[string]any, kw string, upper bool) (int64, bool) {
	var best int64
	found := false
	for _, m := range ms {
		r, ok := ratOf(m[kw])
		if !ok || !r.IsInt() {
			continue
		}
		v := r.Num().Int64()
		if !found || (upper && v < best) || (!upper && v > best) {
			best, found = v, true
		}
	}
	return best, found
}

// ---- the reader's own keywords ------------------------------------------

func (c *jsonChecker) leaf(r jnode, rm map[string]any, ws []wn, path string) {
	pos := positives(ws)
	wms := maps(pos)
	wt := writerTypes(pos)
	if vals, ok := c.finiteValues(ws); ok {
		scalars := true
		for _, v := range vals {
			valid, known := c.scalarValid(r, v, true)
			switch {
			case !known:
				scalars = false
			case !valid:
				if re, ok := enumOf(r, rm); ok && !slices.ContainsFunc(re, func(x any) bool { return jsonEqual(x, v) }) {
					c.addf(path, "ENUM_NARROWED", "the writer allows %s, the reader's enum does not", jsonText(v))
				} else {
					c.addf(path, "VALUE_NARROWED", "the writer allows the value %s, the reader does not", jsonText(v))
				}
			}
		}
		if scalars {
			return
		}
		wt = 0
		for _, v := range vals {
			wt |= valueType(v)
		}
	}
	if rt := typeMask(rm); wt&^rt != 0 {
		if wt == tAll {
			c.addf(path, "TYPE_NARROWED", "the reader allows only %v, the writer any type", typeNames(rt))
		} else {
			for _, t := range typeNames(wt &^ rt) {
				c.addf(path, "TYPE_NARROWED", "the writer allows type %s, the reader only %v", t, typeNames(rt))
			}
		}
	}
	if re, ok := enumOf(r, rm); ok {
		vals, wok := c.finiteValues(ws)
		if !wok {
			c.addf(path, "ENUM_ADDED", "the reader allows only the values %s, the writer any value", jsonText(re))
		}
		for _, v := range vals {
			if !slices.ContainsFunc(re, func(x any) bool { return jsonEqual(x, v) }) {
				c.addf(path, "ENUM_NARROWED", "the writer allows %s, the reader's enum does not", jsonText(v))
			}
		}
	}
	if wt&tNum != 0 {
		c.numbers(rm, wms, wt, path)
	}
	if wt&tStr != 0 {
		c.strings(rm, wms, path)
	}
	// gojsonschema checks formats on numbers too (no number is an email).
	if f, ok := rm["format"].(string); ok && wt&(tStr|tNum) != 0 && gojsonschema.FormatCheckers.Has(f) &&
		!slices.ContainsFunc(wms, func(m map[string]any) bool { return m["format"] == f }) {
		c.addf(path, "FORMAT_CHANGED", "the reader requires the format %q, which the writer's values need not have", f)
	}
	if wt&tArr != 0 {
		c.arrays(r, rm, ws, path)
	}
	if wt&tObj != 0 {
		c.objects(r, rm, ws, path)
	}
}

func (c *jsonChecker) numbers(rm map[string]any, wms []map[string]any, wt uint8, path string) {
	rlo, rhi := numBounds(rm)
	var wlo, whi nbound
	for _, m := range wms {
		lo, hi := numBounds(m)
		wlo, whi = tighter(wlo, lo, false), tighter(whi, hi, true)
	}
	ilo, ihi, irlo, irhi := wlo, whi, rlo, rhi
	if wt&tNum == tInt { // integers only: > 5 is >= 6
		ilo, ihi, irlo, irhi = intBound(wlo, false), intBound(whi, true), intBound(rlo, false), intBound(rhi, true)
	}
	if !implied(ilo, irlo, false) {
		kind := "MINIMUM_INCREASED"
		if wlo.v == nil {
			kind = "MINIMUM_ADDED"
		}
		c.addf(path, kind, "the reader requires numbers %s, the writer allows %s", boundText(rlo, false), boundText(wlo, false))
	}
	if !implied(ihi, irhi, true) {
		kind := "MAXIMUM_DECREASED"
		if whi.v == nil {
			kind = "MAXIMUM_ADDED"
		}
		c.addf(path, kind, "the reader requires numbers %s, the writer allows %s", boundText(rhi, true), boundText(whi, true))
	}
	if rv, ok := ratOf(rm["multipleOf"]); ok && rv.Sign() > 0 {
		ok := false
		if wt&tNum == tInt && new(big.Rat).Inv(rv).IsInt() {
			ok = true // every integer is a multiple of 1/n
		}
		for _, m := range wms {
			if wv, wok := ratOf(m["multipleOf"]); wok && new(big.Rat).Quo(wv, rv).IsInt() {
				ok = true
			}
		}
		if !ok {
			c.addf(path, "MULTIPLE_OF_CHANGED", "the reader requires multiples of %s, which the writer's numbers need not be", rv.RatString())
		}
	}
}

func (c *jsonChecker) strings(rm map[string]any, wms []map[string]any, path string) {
	if r, ok := intKeyword([]map[string]any{rm}, "minLength", false); ok && r > 0 {
		if w, wok := intKeyword(wms, "minLength", false); !wok || w < r {
			c.addf(path, addedOr(wok, "MINLENGTH_INCREASED"), "the reader requires at least %d characters, the writer does not", r)
		}
	}
	if r, ok := intKeyword([]map[string]any{rm}, "maxLength", true); ok {
		if w, wok := intKeyword(wms, "maxLength", true); !wok || w > r {
			c.addf(path, addedOr(wok, "MAXLENGTH_DECREASED"), "the reader allows at most %d characters, the writer more", r)
		}
	}
	if p, ok := rm["pattern"]; ok && !slices.ContainsFunc(wms, func(m map[string]any) bool { return jsonEqual(m["pattern"], p) }) {
		c.addf(path, "PATTERN_CHANGED", "the reader requires the pattern %s, which the writer's strings need not match", jsonText(p))
	}
}

// addedOr names a bound the writer lacks *_ADDED, else kind.
func addedOr(writerHas bool, kind string) string {
	if writerHas {
		return kind
	}
	k, _, _ := strings.Cut(kind, "_")
	return k + "_ADDED"
}

// checkContent refuses any change of contentEncoding or contentMediaType
// where the writer may write strings: the same string read under another
// encoding or media type means something else.
func (c *jsonChecker) checkContent(parts []jnode, ws []wn, path string) {
	pos := positives(ws)
	if writerTypes(pos)&tStr == 0 {
		return
	}
	for _, kw := range []string{"contentEncoding", "contentMediaType"} {
		var r, w any
		for _, p := range parts {
			if v, ok := p.v.(map[string]any)[kw]; ok {
				r = v
			}
		}
		for _, m := range maps(pos) {
			if v, ok := m[kw]; ok {
				w = v
			}
		}
		if !jsonEqual(r, w) {
			c.addf(path, map[string]string{"contentEncoding": "CONTENT_ENCODING_CHANGED", "contentMediaType": "CONTENT_MEDIA_TYPE_CHANGED"}[kw], "the reader's %s is %s, the writer's %s: the same string would be read differently",
				kw, jsonText(r), jsonText(w))
		}
	}
}

// arrayModel returns the tuple positions and the schema of the items
// after them, as draft d spells them.
func arrayModel(n jnode, m map[string]any) (prefix []jnode, rest jnode, restKw string) {
	d := n.draft()
	rest, restKw = synth(true), "items"
	if d >= draft2020 {
		if xs, ok := m["prefixItems"].([]any); ok {
			for i, x := range xs {
				prefix = append(prefix, child(n, x, "prefixItems", strconv.Itoa(i)))
			}
		}
		if x, ok := m["items"]; ok {
			rest = child(n, x, "items")
		}
		return prefix, rest, restKw
	}
	switch x := m["items"].(type) {
	case []any:
		for i, v := range x {
			prefix = append(prefix, child(n, v, "items", strconv.Itoa(i)))
		}
		restKw = "additionalItems"
		if a, ok := m["additionalItems"]; ok {
			rest = child(n, a, "additionalItems")
		}
	case nil:
	default:
		rest = child(n, x, "items")
	}
	return prefix, rest, restKw
}

func itemAt(n jnode, m map[string]any, i int) jnode {
	prefix, rest, _ := arrayModel(n, m)
	if i < len(prefix) {
		return prefix[i]
	}
	return rest
}

// writerMaxItems is the writer's largest array length (-1 unbounded).
func writerMaxItems(pos []jnode) int64 {
	max := int64(-1)
	for _, n := range pos {
		m, ok := n.v.(map[string]any)
		if !ok {
			continue
		}
		if v, ok := intKeyword([]map[string]any{m}, "maxItems", true); ok && (max < 0 || v < max) {
			max = v
		}
		prefix, rest, _ := arrayModel(n, m)
		if _, _, none := schemaMap(rest.v); none && (max < 0 || int64(len(prefix)) < max) {
			max = int64(len(prefix))
		}
	}
	return max
}

func (c *jsonChecker) arrays(r jnode, rm map[string]any, ws []wn, path string) {
	pos := positives(ws)
	wms := maps(pos)
	wmax := writerMaxItems(pos)
	wmin, wminOK := intKeyword(wms, "minItems", false)
	if v, ok := intKeyword([]map[string]any{rm}, "minItems", false); ok && v > 0 && wmin < v {
		c.addf(path, addedOr(wminOK, "MINITEMS_INCREASED"), "the reader requires at least %d items, the writer %d", v, wmin)
	}
	if v, ok := intKeyword([]map[string]any{rm}, "maxItems", true); ok && (wmax < 0 || wmax > v) {
		c.addf(path, addedOr(wmax >= 0, "MAXITEMS_DECREASED"), "the reader allows at most %d items, the writer more", v)
	}
	if rm["uniqueItems"] == true && !(wmax >= 0 && wmax <= 1) && !slices.ContainsFunc(wms, func(m map[string]any) bool { return m["uniqueItems"] == true }) {
		c.addf(path, "UNIQUE_ITEMS_ADDED", "the reader requires unique items, the writer does not")
	}
	// Position by position: the tuples of both sides, then the rest.
	rprefix, _, rrestKw := arrayModel(r, rm)
	n := len(rprefix)
	for _, p := range pos {
		if m, ok := p.v.(map[string]any); ok {
			if pr, _, _ := arrayModel(p, m); len(pr) > n {
				n = len(pr)
			}
		}
	}
	itemWriter := func(i int) []wn {
		var out []wn
		for _, p := range pos {
			if m, ok := p.v.(map[string]any); ok {
				out = append(out, wn{n: itemAt(p, m, i)})
			}
		}
		return out
	}
	for i := 0; i <= n; i++ {
		if wmax >= 0 && int64(i) >= wmax {
			break
		}
		wi := itemWriter(i)
		if _, empty := c.normW(wi); empty {
			break // the writer's arrays never reach this length
		}
		ri := itemAt(r, rm, i)
		p := fmt.Sprintf("%s/items/%d", path, i)
		if i >= len(rprefix) {
			p = path + "/" + rrestKw
			if r.draft() >= draft2020 && len(rprefix) > 0 {
				p = path + "/items"
			}
		} else if r.draft() >= draft2020 {
			p = fmt.Sprintf("%s/prefixItems/%d", path, i)
		}
		c.subChild(ri, wi, p)
	}
	if x, ok := rm["contains"]; ok && keywordIn("contains", r.draft()) {
		rc := child(r, x, "contains")
		ok := false
		for _, p := range pos {
			if m, isMap := p.v.(map[string]any); isMap && keywordIn("contains", p.draft()) {
				if y, has := m["contains"]; has && c.ok(func(t *jsonChecker) { t.subChild(rc, []wn{{n: child(p, y, "contains")}}, path) }) {
					ok = true
				}
			}
		}
		for i := int64(0); !ok && i < wmin && i < 64; i++ {
			wi := itemWriter(int(i))
			ok = c.ok(func(t *jsonChecker) { t.subChild(rc, wi, path) })
		}
		if !ok {
			c.addf(path+"/contains", "CONTAINS_NARROWED", "the writer's arrays need not contain an item the reader's \"contains\" accepts")
		}
	}
	for _, kw := range []string{"minContains", "maxContains", "unevaluatedItems"} {
		if _, ok := rm[kw]; ok && keywordIn(kw, r.draft()) && !slices.ContainsFunc(pos, func(p jnode) bool { return sameSchema(r, p) }) {
			c.addf(path+"/"+kw, "KEYWORD_NOT_PROVEN", "the reader's %q cannot be proven to accept the writer's arrays", kw)
		}
	}
}

// propSchemas returns the schemas that apply to property name in a
// schema object: properties[name] and every matching patternProperties,
// else additionalProperties.
func propSchemas(n jnode, m map[string]any, name string) (out []jnode, paths []string) {
	if props, ok := m["properties"].(map[string]any); ok {
		if x, ok := props[name]; ok {
			out, paths = append(out, child(n, x, "properties", name)), append(paths, "/properties/"+escapePtr(name))
		}
	}
	matched := false
	if pp, ok := m["patternProperties"].(map[string]any); ok {
		for _, p := range sortedKeys(pp) {
			if re, err := regexp.Compile(p); err == nil && re.MatchString(name) {
				matched = true
				out, paths = append(out, child(n, pp[p], "patternProperties", p)), append(paths, "/patternProperties/"+escapePtr(p))
			}
		}
	}
	if len(out) == 0 && !matched {
		if x, ok := m["additionalProperties"]; ok {
			out, paths = append(out, child(n, x, "additionalProperties")), append(paths, "/additionalProperties")
		}
	}
	return out, paths
}

func escapePtr(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func (c *jsonChecker) writerProp(pos []jnode, name string) []wn {
	var out []wn
	for _, p := range pos {
		if m, ok := p.v.(map[string]any); ok {
			ns, _ := propSchemas(p, m, name)
			for _, n := range ns {
				out = append(out, wn{n: n})
			}
		}
	}
	return out
}

func (c *jsonChecker) writerAllows(pos []jnode, name string) bool {
	_, empty := c.normW(c.writerProp(pos, name))
	if empty {
		return false
	}
	for _, p := range pos {
		m, ok := p.v.(map[string]any)
		if !ok || !keywordIn("propertyNames", p.draft()) {
			continue
		}
		if x, ok := m["propertyNames"]; ok {
			if valid, known := c.scalarValid(child(p, x, "propertyNames"), name, false); known && !valid {
				return false
			}
		}
	}
	return true
}

func requiredSet(ms ...map[string]any) map[string]bool {
	s := map[string]bool{}
	for _, m := range ms {
		if req, ok := m["required"].([]any); ok {
			for _, x := range req {
				if str, ok := x.(string); ok {
					s[str] = true
				}
			}
		}
	}
	return s
}

func (c *jsonChecker) objects(r jnode, rm map[string]any, ws []wn, path string) {
	pos := positives(ws)
	wms := maps(pos)
	wreq := requiredSet(wms...)
	for _, k := range sortedKeys(requiredSet(rm)) {
		if !wreq[k] {
			c.addf(path, "REQUIRED_PROPERTY_ADDED", "the reader requires %q, the writer does not", k)
		}
	}
	if v, ok := intKeyword([]map[string]any{rm}, "minProperties", false); ok && v > 0 {
		if w, wok := intKeyword(wms, "minProperties", false); w < v && int64(len(wreq)) < v {
			c.addf(path, addedOr(wok, "MINPROPERTIES_INCREASED"), "the reader requires at least %d properties, the writer does not", v)
		}
	}
	if v, ok := intKeyword([]map[string]any{rm}, "maxProperties", true); ok {
		if w, wok := intKeyword(wms, "maxProperties", true); !wok || w > v {
			c.addf(path, addedOr(wok, "MAXPROPERTIES_DECREASED"), "the reader allows at most %d properties, the writer more", v)
		}
	}
	// Every name either side mentions.
	names := map[string]bool{}
	for _, m := range append([]map[string]any{rm}, wms...) {
		if props, ok := m["properties"].(map[string]any); ok {
			for k := range props {
				names[k] = true
			}
		}
	}
	for k := range requiredSet(rm) {
		names[k] = true
	}
	for _, name := range sortedKeys(names) {
		rs, rpaths := propSchemas(r, rm, name)
		if len(rs) == 0 || !c.writerAllows(pos, name) {
			continue
		}
		wp := c.writerProp(pos, name)
		for i, x := range rs {
			p := path + rpaths[i]
			if rpaths[i] != "/properties/"+escapePtr(name) {
				p = path + "/properties/" + escapePtr(name)
			}
			if _, all, _ := schemaMap(x.v); all {
				continue
			}
			if len(wp) == 0 {
				c.addf(p, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "the reader constrains property %q, which the writer's open content model allows with any value", name)
				continue
			}
			if _, _, none := schemaMap(x.v); none && rpaths[i] == "/additionalProperties" {
				c.addf(p, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "the writer allows property %q, the reader's closed content model does not", name)
				continue
			}
			c.subChild(x, wp, p)
		}
	}
	// Names neither side lists: the reader's patterns and
	// additionalProperties against what the writer allows for them.
	rpp, _ := rm["patternProperties"].(map[string]any)
	rprops, _ := rm["properties"].(map[string]any)
	others := c.otherNames(pos)
	for _, pat := range sortedKeys(rpp) {
		x := child(r, rpp[pat], "patternProperties", pat)
		if _, all, _ := schemaMap(x.v); all {
			continue
		}
		p := path + "/patternProperties/" + escapePtr(pat)
		if !c.anyWriterCase(others, func(t *jsonChecker, wc []wn, pats []string) {
			t.subChild(x, wc, p)
		}) {
			c.addf(p, "PATTERN_PROPERTY_NARROWED", "properties matching %q may be written with values the reader does not accept", pat)
		}
	}
	if x, ok := rm["additionalProperties"]; ok {
		rx := child(r, x, "additionalProperties")
		if _, all, _ := schemaMap(rx.v); !all {
			p := path + "/additionalProperties"
			_ = rprops
			if !c.anyWriterCase(others, func(t *jsonChecker, wc []wn, pats []string) {
				for _, q := range pats {
					if _, same := rpp[q]; same {
						return // names matching q match a reader pattern too
					}
				}
				t.subChild(rx, wc, p)
			}) {
				if _, _, none := schemaMap(rx.v); none {
					c.addf(p, "ADDITIONAL_PROPERTIES_NARROWED", "the reader's content model is closed, the writer's open")
				} else {
					c.addf(p, "ADDITIONAL_PROPERTIES_NARROWED", "properties the reader does not list may be written with values its additionalProperties does not accept")
				}
			}
		}
	}
	c.propertyNames(r, rm, pos, path)
	c.dependencies(r, rm, ws, path)
	if _, ok := rm["unevaluatedProperties"]; ok && keywordIn("unevaluatedProperties", r.draft()) &&
		!slices.ContainsFunc(pos, func(p jnode) bool { return sameSchema(r, p) }) {
		c.addf(path+"/unevaluatedProperties", "KEYWORD_NOT_PROVEN", "the reader's \"unevaluatedProperties\" cannot be proven to accept the writer's objects")
	}
}

// writerCase is what the writer allows for the values of the names it
// does not list, in one of the ways such a name can be matched: the
// constraints, and the patterns that matched.
type writerCase struct {
	ws   []wn
	pats []string
}

// otherNames returns the cases for a name no properties lists. With a
// single writer constraint they are exact (additionalProperties, or each
// pattern); with several, each constraint alone over-approximates.
func (c *jsonChecker) otherNames(pos []jnode) [][]writerCase {
	var perNode [][]writerCase
	for _, p := range pos {
		m, ok := p.v.(map[string]any)
		if !ok {
			continue
		}
		var cases []writerCase
		if x, ok := m["additionalProperties"]; ok {
			cases = append(cases, writerCase{ws: []wn{{n: child(p, x, "additionalProperties")}}})
		} else {
			cases = append(cases, writerCase{})
		}
		if pp, ok := m["patternProperties"].(map[string]any); ok {
			for _, q := range sortedKeys(pp) {
				cases = append(cases, writerCase{ws: []wn{{n: child(p, pp[q], "patternProperties", q)}}, pats: []string{q}})
			}
		}
		perNode = append(perNode, cases)
	}
	return perNode
}

// anyWriterCase reports whether, for some writer constraint, f passes in
// every case that constraint allows (each constraint alone bounds what
// the writer writes).
func (c *jsonChecker) anyWriterCase(perNode [][]writerCase, f func(t *jsonChecker, ws []wn, pats []string)) bool {
	if len(perNode) == 0 {
		return c.ok(func(t *jsonChecker) { f(t, nil, nil) })
	}
	for _, cases := range perNode {
		all := true
		for _, wc := range cases {
			if !c.ok(func(t *jsonChecker) { f(t, wc.ws, wc.pats) }) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func (c *jsonChecker) propertyNames(r jnode, rm map[string]any, pos []jnode, path string) {
	x, ok := rm["propertyNames"]
	if !ok || !keywordIn("propertyNames", r.draft()) {
		return
	}
	rp := child(r, x, "propertyNames")
	if _, all, _ := schemaMap(rp.v); all {
		return
	}
	p := path + "/propertyNames"
	str := synth(map[string]any{"type": "string"})
	for _, w := range pos {
		m, ok := w.v.(map[string]any)
		if !ok {
			continue
		}
		if y, ok := m["propertyNames"]; ok && keywordIn("propertyNames", w.draft()) &&
			c.ok(func(t *jsonChecker) { t.subChild(rp, []wn{{n: child(w, y, "propertyNames")}, {n: str}}, p) }) {
			return
		}
		// A closed writer writes only the names it lists.
		_, hasPP := m["patternProperties"]
		if a, ok := m["additionalProperties"]; ok && a == false && !hasPP {
			props, _ := m["properties"].(map[string]any)
			all := true
			for _, k := range sortedKeys(props) {
				if c.writerAllows(pos, k) && !c.ok(func(t *jsonChecker) { t.subChild(rp, []wn{{n: synth(map[string]any{"const": k})}}, p) }) {
					all = false
				}
			}
			if all {
				return
			}
		}
	}
	c.addf(p, "PROPERTY_NAMES_NARROWED", "the writer may write property names the reader's propertyNames does not accept")
}

// dependencies checks dependencies (draft 4–7), dependentRequired and
// dependentSchemas (2019-09): each is implied when the writer never
// writes the property, requires what it asks, or has the same dependency.
func (c *jsonChecker) dependencies(r jnode, rm map[string]any, ws []wn, path string) {
	pos := positives(ws)
	wreq := requiredSet(maps(pos)...)
	writerDeps := func(name string) (names [][]any, schemas []jnode) {
		for _, p := range pos {
			m, ok := p.v.(map[string]any)
			if !ok {
				continue
			}
			for _, kw := range []string{"dependencies", "dependentRequired", "dependentSchemas"} {
				if dm, ok := m[kw].(map[string]any); ok && keywordIn(kw, p.draft()) {
					switch x := dm[name].(type) {
					case nil:
					case []any:
						names = append(names, x)
					default:
						schemas = append(schemas, child(p, x, kw, name))
					}
				}
			}
		}
		return names, schemas
	}
	for _, kw := range []string{"dependencies", "dependentRequired", "dependentSchemas"} {
		dm, ok := rm[kw].(map[string]any)
		if !ok || !keywordIn(kw, r.draft()) {
			continue
		}
		for _, name := range sortedKeys(dm) {
			p := path + "/" + kw + "/" + escapePtr(name)
			if !c.writerAllows(pos, name) {
				continue
			}
			wnames, wschemas := writerDeps(name)
			switch x := dm[name].(type) {
			case []any:
				missing := false
				for _, q := range x {
					s, _ := q.(string)
					if wreq[s] || slices.ContainsFunc(wnames, func(ns []any) bool { return slices.Contains(ns, q) }) {
						continue
					}
					missing = true
				}
				if missing {
					c.addf(p, "DEPENDENCY_ADDED", "the reader requires %s with %q, the writer does not", jsonText(x), name)
				}
			default:
				rs := child(r, x, kw, name)
				if c.ok(func(t *jsonChecker) { t.subIn(rs, ws, p) }) {
					continue
				}
				proved := false
				for _, s := range wschemas {
					if c.ok(func(t *jsonChecker) { t.subIn(rs, append(slices.Clone(ws), wn{n: s}), p) }) {
						proved = true
						break
					}
				}
				if !proved {
					c.addf(p, "DEPENDENCY_NARROWED", "objects with %q may be written that the reader's dependent schema does not accept", name)
				}
			}
		}
	}
}

// ---- combinators ----------------------------------------------------------

func (c *jsonChecker) choices(r jnode, rm map[string]any, ws []wn, path string) {
	if xs, ok := rm["anyOf"].([]any); ok {
		found := false
		for i, x := range xs {
			b := child(r, x, "anyOf", strconv.Itoa(i))
			if c.ok(func(t *jsonChecker) { t.subIn(b, ws, path) }) {
				found = true
				break
			}
		}
		if !found {
			c.addf(path+"/anyOf", "COMBINED_TYPE_SUBSCHEMAS_CHANGED", "a value the writer allows matches no anyOf branch of the reader")
		}
	}
	if xs, ok := rm["oneOf"].([]any); ok {
		found := false
		for i, x := range xs {
			b := child(r, x, "oneOf", strconv.Itoa(i))
			if !c.ok(func(t *jsonChecker) { t.subIn(b, ws, path) }) {
				continue
			}
			exclusive := true
			for j, y := range xs {
				if j != i && !c.emptyWith(ws, wn{n: child(r, y, "oneOf", strconv.Itoa(j))}) {
					exclusive = false
					break
				}
			}
			if exclusive {
				found = true
				break
			}
		}
		if !found {
			c.addf(path+"/oneOf", "COMBINED_TYPE_SUBSCHEMAS_CHANGED", "a value the writer allows need not match exactly one oneOf branch of the reader")
		}
	}
	if x, ok := rm["not"]; ok {
		if !c.emptyWith(ws, wn{n: child(r, x, "not")}) {
			c.addf(path+"/not", "NOT_NARROWED", "a value the writer allows may match the reader's \"not\" schema")
		}
	}
	if x, ok := rm["if"]; ok && keywordIn("if", r.draft()) {
		cond := child(r, x, "if")
		if y, ok := rm["then"]; ok {
			c.subIn(child(r, y, "then"), append(slices.Clone(ws), wn{n: cond}), path+"/then")
		}
		if y, ok := rm["else"]; ok {
			c.subIn(child(r, y, "else"), append(slices.Clone(ws), wn{n: cond, neg: true}), path+"/else")
		}
	}
}

// emptyWith reports whether no value satisfies ws and extra together.
func (c *jsonChecker) emptyWith(ws []wn, extra wn) bool {
	all, empty := c.normW(append(slices.Clone(ws), extra))
	return empty || c.isEmptySplit(all, 0)
}

func (c *jsonChecker) isEmptySplit(ws []wn, depth int) bool {
	if c.isEmpty(ws) {
		return true
	}
	i := splittable(ws)
	if i < 0 || depth > 8 || !c.spend() {
		return false
	}
	for _, b := range c.split(ws, i) {
		nb, empty := c.normW(b)
		if !empty && !c.isEmptySplit(nb, depth+1) {
			return false
		}
	}
	return true
}

// isEmpty proves that no value satisfies the (normalised) constraints.
func (c *jsonChecker) isEmpty(ws []wn) bool {
	if !c.spend() {
		return false
	}
	pos := positives(ws)
	wms := maps(pos)
	wt := writerTypes(pos)
	if vals, ok := c.finiteValues(ws); ok {
		if len(vals) == 0 {
			return true
		}
		wt = 0
		for _, v := range vals {
			wt |= valueType(v)
		}
	}
	// A negated constraint: the value is outside it, so it cannot be a
	// value of a type only the negated constraint's types allow.
	for _, w := range ws {
		if m, ok := w.n.v.(map[string]any); w.neg && ok && len(m) == 1 {
			if _, ok := m["type"]; ok {
				wt &^= typeMask(m)
			}
		}
	}
	if wt == 0 {
		return true
	}
	if wt&^tNum == 0 {
		var lo, hi nbound
		for _, m := range wms {
			l, h := numBounds(m)
			lo, hi = tighter(lo, l, false), tighter(hi, h, true)
		}
		if wt == tInt {
			lo, hi = intBound(lo, false), intBound(hi, true)
		}
		if lo.v != nil && hi.v != nil {
			if d := lo.v.Cmp(hi.v); d > 0 || (d == 0 && (lo.excl || hi.excl)) {
				return true
			}
		}
	}
	if wt == tStr {
		lo, _ := intKeyword(wms, "minLength", false)
		if hi, ok := intKeyword(wms, "maxLength", true); ok && lo > hi {
			return true
		}
	}
	if wt == tObj {
		for _, name := range sortedKeys(requiredSet(wms...)) {
			if !c.writerAllows(pos, name) {
				return true
			}
		}
	}
	// A value inside and outside the same set.
	for _, w := range ws {
		if !w.neg {
			continue
		}
		var rest []wn
		for _, x := range ws {
			if !x.neg {
				rest = append(rest, x)
			}
		}
		if len(rest) > 0 && c.ok(func(t *jsonChecker) { t.subIn(w.n, rest, "#") }) {
			return true
		}
	}
	return false
}

// ---- helpers -----------------------------------------------------------

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func jsonText(v any) string {
	s, err := marshalCompact(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// jsonEqual compares JSON values, numbers by value (1 and 1.0 are equal).
func jsonEqual(a, b any) bool {
	if an, ok := ratOf(a); ok {
		if bn, ok := ratOf(b); ok {
			return an.Cmp(bn) == 0
		}
	}
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	}
	return jsonText(a) == jsonText(b)
}

// ---- where a schema is wrong ---------------------------------------------

var (
	metaOnce    sync.Once
	metaSchemas map[int]*gojsonschema.Schema
)

// schemaErrorPath finds where in a JSON Schema document the parser's
// complaint is, for the 422 answer: the first $ref that does not resolve,
// else the first place the draft's meta-schema (built into gojsonschema,
// nothing is fetched) rejects. "" when neither finds it.
func schemaErrorPath(text string, deps []dep) string {
	d, err := decodeJSONDoc(text, deps)
	if err != nil {
		return ""
	}
	found := ""
	var walk func(n jnode, depth int)
	walk = func(n jnode, depth int) {
		if found != "" || depth > maxJSONDepth {
			return
		}
		switch x := n.v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if _, err := derefJSON(n, ref); err != nil {
					found = "#" + n.ptr + "/$ref"
					return
				}
			}
			for _, k := range sortedKeys(x) {
				if k != "enum" && k != "const" && k != "default" && k != "examples" {
					walk(child(n, x[k], k), depth+1)
				}
			}
		case []any:
			for i, v := range x {
				walk(child(n, v, strconv.Itoa(i)), depth+1)
			}
		}
	}
	walk(d.rootNode(), 0)
	if found != "" {
		return found
	}
	metaOnce.Do(func() {
		metaSchemas = map[int]*gojsonschema.Schema{}
		for dr, u := range map[int]string{draft4: "http://json-schema.org/draft-04/schema#", draft6: "http://json-schema.org/draft-06/schema#",
			draft7: "http://json-schema.org/draft-07/schema#"} {
			if s, err := gojsonschema.NewSchema(gojsonschema.NewReferenceLoader(u)); err == nil {
				metaSchemas[dr] = s
			}
		}
	})
	ms := metaSchemas[d.draft[""]]
	if ms == nil {
		ms = metaSchemas[draft7]
	}
	if ms == nil {
		return ""
	}
	res, err := ms.Validate(gojsonschema.NewStringLoader(text))
	if err != nil || res.Valid() || len(res.Errors()) == 0 {
		return ""
	}
	ctx := res.Errors()[0].Context().String() // (root).properties.a.type
	ctx = strings.TrimPrefix(strings.TrimPrefix(ctx, "(root)"), ".")
	if ctx == "" {
		return "#"
	}
	return "#/" + strings.ReplaceAll(ctx, ".", "/")
}
