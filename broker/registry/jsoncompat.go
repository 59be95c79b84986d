package registry

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// jsonDoc is a decoded JSON Schema with the documents its references name
// (reference name → decoded document), for the compatibility checker.
type jsonDoc struct {
	root any
	docs map[string]any
}

func decodeJSONDoc(text string, deps []dep) (*jsonDoc, error) {
	d := &jsonDoc{docs: map[string]any{}}
	var err error
	if d.root, err = decodeNumbers(text); err != nil {
		return nil, err
	}
	for _, x := range deps {
		v, err := decodeNumbers(x.text)
		if err != nil {
			return nil, fmt.Errorf("reference %q: %w", x.name, err)
		}
		d.docs[x.name] = v
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

// jsonBudget bounds the work of one comparison: oneOf/anyOf branches are
// matched by trial, which is exponential in the nesting in the worst case.
const jsonBudget = 200_000

// jsonIncompatibilities returns what makes some document that is valid
// under writer invalid under reader, each message starting with the JSON
// path (in the reader schema) where it was found. It is conservative: what
// it cannot prove compatible (an unknown keyword changed, a "not" added) is
// reported.
func jsonIncompatibilities(reader, writer *jsonDoc) []string {
	budget := jsonBudget
	c := &jsonChecker{r: reader, w: writer, seen: map[string]bool{}, budget: &budget}
	c.check(jnode{v: reader.root}, jnode{v: writer.root}, "#")
	if budget < 0 {
		return []string{"#: the schemas are too complex to compare; treat them as incompatible"}
	}
	return c.out
}

type jnode struct {
	v   any
	doc string // "" is the root document, otherwise a reference name
	ptr string // JSON pointer inside doc
}

// maxJSONDepth bounds the nesting the checker descends into.
const maxJSONDepth = 512

// nodeKey names a schema location for the memo of compared pairs. Boolean
// schemas (given or implied, as a missing additionalProperties is) are the
// same wherever they appear: keyed by location, a recursive reader schema
// compared with an implied true would never meet the same pair again.
func nodeKey(n jnode) string {
	if b, ok := n.v.(bool); ok {
		return strconv.FormatBool(b)
	}
	return n.doc + "#" + n.ptr
}

type jsonChecker struct {
	depth  int
	r, w   *jsonDoc
	seen   map[string]bool // reader/writer location pairs already compared
	budget *int
	out    []string
}

func (c *jsonChecker) addf(path, kind, format string, args ...any) {
	c.out = append(c.out, path+": "+kind+": "+fmt.Sprintf(format, args...))
}

// trial runs a comparison whose messages are only wanted to decide, as for
// oneOf branches; it shares the budget but not the messages.
func (c *jsonChecker) trial(r, w jnode, path string) []string {
	t := &jsonChecker{r: c.r, w: c.w, seen: map[string]bool{}, budget: c.budget}
	for k := range c.seen {
		t.seen[k] = true
	}
	t.check(r, w, path)
	return t.out
}

// resolve follows $ref until it reaches a schema (at most 32 hops).
func resolve(d *jsonDoc, n jnode) (jnode, error) {
	for range 32 {
		m, ok := n.v.(map[string]any)
		if !ok {
			return n, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return n, nil
		}
		base, frag, _ := strings.Cut(ref, "#")
		doc := n.doc
		var v any
		if base == "" {
			if doc == "" {
				v = d.root
			} else {
				v = d.docs[doc]
			}
		} else if id, ok := docID(d.root); ok && id == base {
			v, doc = d.root, "" // the root's own $id
		} else {
			var ok bool
			if v, ok = d.docs[base]; !ok {
				return n, fmt.Errorf("$ref %q names no schema reference", ref)
			}
			doc = base
		}
		p, err := pointer(v, frag)
		if err != nil {
			return n, fmt.Errorf("$ref %q: %w", ref, err)
		}
		n = jnode{v: p, doc: doc, ptr: frag}
	}
	return n, fmt.Errorf("$ref chain longer than 32")
}

func pointer(v any, frag string) (any, error) {
	if frag == "" {
		return v, nil
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, fmt.Errorf("only JSON pointer fragments are supported")
	}
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, fmt.Errorf("%q not found", tok)
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("index %q out of range", tok)
			}
			v = x[i]
		default:
			return nil, fmt.Errorf("%q not found", tok)
		}
	}
	return v, nil
}

func child(n jnode, v any, keys ...string) jnode {
	p := n.ptr
	for _, k := range keys {
		p += "/" + strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
	}
	return jnode{v: v, doc: n.doc, ptr: p}
}

func pathKey(path, key string) string { return path + "/" + key }

// schemaMap returns the keywords of a schema; true and {} accept
// everything, false nothing.
func schemaMap(v any) (m map[string]any, acceptsAll, acceptsNone bool) {
	switch x := v.(type) {
	case bool:
		return nil, x, !x
	case map[string]any:
		return x, isTrivial(x), false
	case nil:
		return nil, true, false
	}
	return nil, true, false // not a schema: gojsonschema would have refused it
}

// isTrivial reports whether a schema object has no keyword that
// constrains values.
func isTrivial(m map[string]any) bool {
	for k := range m {
		switch k {
		case "$schema", "$id", "id", "title", "description", "$comment", "examples", "default",
			"definitions", "$defs", "readOnly", "writeOnly", "deprecated":
		default:
			return false
		}
	}
	return true
}

func (c *jsonChecker) check(rn, wn jnode, path string) {
	*c.budget--
	if *c.budget < 0 {
		return
	}
	r, rerr := resolve(c.r, rn)
	w, werr := resolve(c.w, wn)
	if rerr != nil || werr != nil {
		if rerr != nil && werr != nil && jsonEqual(rn.v, wn.v) {
			return
		}
		err := rerr
		if err == nil {
			err = werr
		}
		c.addf(path, "REF_UNRESOLVED", "%v", err)
		return
	}
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > maxJSONDepth {
		*c.budget = -1
		return
	}
	key := nodeKey(r) + "|" + nodeKey(w)
	if c.seen[key] {
		return // compared already, or being compared further up (recursive schemas)
	}
	c.seen[key] = true

	rm, rAll, rNone := schemaMap(r.v)
	wm, _, wNone := schemaMap(w.v)
	switch {
	case rAll || wNone:
		return
	case rNone:
		c.addf(path, "SCHEMA_NARROWED", "the reader accepts no value at all (false), the writer does")
		return
	}
	if wm == nil {
		wm = map[string]any{}
	}
	wt := c.checkTypes(rm, wm, path)
	c.checkEnum(rm, wm, path)
	c.checkBounds(rm, wm, wt, path)
	if applies(wt, "object") {
		c.checkObject(r, w, rm, wm, path)
	}
	if applies(wt, "array") {
		c.checkArray(r, w, rm, wm, path)
	}
	c.checkCombinators(r, w, rm, wm, path)
}

// typeSet returns the set of JSON types a schema allows, nil for any.
func typeSet(m map[string]any) map[string]bool {
	switch t := m["type"].(type) {
	case string:
		return map[string]bool{t: true}
	case []any:
		s := map[string]bool{}
		for _, x := range t {
			if str, ok := x.(string); ok {
				s[str] = true
			}
		}
		return s
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func applies(types map[string]bool, kind string) bool {
	if types == nil {
		return true
	}
	if kind == "number" {
		return types["number"] || types["integer"]
	}
	return types[kind]
}

func (c *jsonChecker) checkTypes(rm, wm map[string]any, path string) map[string]bool {
	rt, wt := typeSet(rm), typeSet(wm)
	if rt == nil {
		return wt
	}
	if wt == nil {
		c.addf(path, "TYPE_NARROWED", "the reader allows only %v, the writer any type", sortedKeys(rt))
		return wt
	}
	for _, t := range sortedKeys(wt) {
		if !rt[t] && !(t == "integer" && rt["number"]) {
			c.addf(path, "TYPE_NARROWED", "the writer allows type %s, the reader only %v", t, sortedKeys(rt))
		}
	}
	return wt
}

func enumOf(m map[string]any) []any {
	if e, ok := m["enum"].([]any); ok {
		return e
	}
	if v, ok := m["const"]; ok {
		return []any{v}
	}
	return nil
}

func jsonText(v any) string {
	s, err := marshalCompact(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

func jsonEqual(a, b any) bool {
	if an, ok := numberOf(a); ok {
		if bn, ok := numberOf(b); ok {
			return an == bn
		}
	}
	return jsonText(a) == jsonText(b)
}

func (c *jsonChecker) checkEnum(rm, wm map[string]any, path string) {
	re := enumOf(rm)
	if re == nil {
		return
	}
	we := enumOf(wm)
	if we == nil {
		c.addf(path, "ENUM_ADDED", "the reader allows only the values %s, the writer any value", jsonText(re))
		return
	}
	for _, v := range we {
		if !slices.ContainsFunc(re, func(x any) bool { return jsonEqual(x, v) }) {
			c.addf(path, "ENUM_NARROWED", "the writer allows %s, the reader's enum does not", jsonText(v))
		}
	}
}

func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil || math.IsInf(f, 0)
	case float64:
		return x, true
	}
	return 0, false
}

// bound is a keyword that limits values: lower bounds must not rise,
// upper bounds must not fall, from writer to reader.
type bound struct {
	kw    string
	kind  string // the type it constrains
	upper bool
}

var bounds = []bound{
	{"minimum", "number", false}, {"exclusiveMinimum", "number", false},
	{"maximum", "number", true}, {"exclusiveMaximum", "number", true},
	{"minLength", "string", false}, {"maxLength", "string", true},
	{"minItems", "array", false}, {"maxItems", "array", true},
	{"minProperties", "object", false}, {"maxProperties", "object", true},
}

func (c *jsonChecker) checkBounds(rm, wm map[string]any, wt map[string]bool, path string) {
	for _, b := range bounds {
		if !applies(wt, b.kind) {
			continue
		}
		rv, ok := numberOf(rm[b.kw])
		if !ok {
			continue
		}
		wv, wok := numberOf(wm[b.kw])
		switch {
		case !wok && !b.upper && rv <= 0 && b.kind != "number":
			// minLength 0 and the like constrain nothing.
		case !wok:
			c.addf(path, strings.ToUpper(b.kw)+"_ADDED", "the reader has %s %s, the writer none", b.kw, jsonText(rm[b.kw]))
		case b.upper && wv > rv:
			c.addf(path, strings.ToUpper(b.kw)+"_DECREASED", "the reader's %s is %s, below the writer's %s", b.kw, jsonText(rm[b.kw]), jsonText(wm[b.kw]))
		case !b.upper && wv < rv:
			c.addf(path, strings.ToUpper(b.kw)+"_INCREASED", "the reader's %s is %s, above the writer's %s", b.kw, jsonText(rm[b.kw]), jsonText(wm[b.kw]))
		}
	}
	if rv, ok := numberOf(rm["multipleOf"]); ok && rv > 0 && applies(wt, "number") {
		wv, wok := numberOf(wm["multipleOf"])
		if q := wv / rv; !wok || math.Abs(q-math.Round(q)) > 1e-9 {
			c.addf(path, "MULTIPLE_OF_CHANGED", "the reader's multipleOf %s does not divide the writer's %s", jsonText(rm["multipleOf"]), jsonText(wm["multipleOf"]))
		}
	}
	for _, kw := range []string{"pattern", "format"} {
		kind := "string"
		if rv, ok := rm[kw]; ok && applies(wt, kind) && !jsonEqual(rv, wm[kw]) {
			c.addf(path, strings.ToUpper(kw)+"_CHANGED", "the reader's %s is %s, the writer's %s", kw, jsonText(rv), jsonText(wm[kw]))
		}
	}
	if rm["uniqueItems"] == true && wm["uniqueItems"] != true && applies(wt, "array") {
		c.addf(path, "UNIQUE_ITEMS_ADDED", "the reader requires unique items, the writer does not")
	}
	// Keywords this checker does not reason about: any change is reported.
	for _, kw := range []string{"not", "if", "then", "else", "dependencies", "dependentRequired", "dependentSchemas",
		"propertyNames", "contains", "additionalItems", "unevaluatedProperties", "unevaluatedItems"} {
		if rv, ok := rm[kw]; ok && !jsonEqual(rv, wm[kw]) {
			c.addf(path, "KEYWORD_CHANGED", "the reader's %q differs from the writer's and cannot be proven compatible", kw)
		}
	}
}

func requiredSet(m map[string]any) map[string]bool {
	s := map[string]bool{}
	if req, ok := m["required"].([]any); ok {
		for _, x := range req {
			if str, ok := x.(string); ok {
				s[str] = true
			}
		}
	}
	return s
}

func propsOf(m map[string]any) map[string]any {
	p, _ := m["properties"].(map[string]any)
	return p
}

// additional returns additionalProperties (true when absent).
func additional(m map[string]any) any {
	if a, ok := m["additionalProperties"]; ok {
		return a
	}
	return true
}

func patternFor(m map[string]any, name string) (string, any, bool) {
	pp, _ := m["patternProperties"].(map[string]any)
	for _, p := range sortedKeys(pp) {
		re, err := regexp.Compile(p)
		if err == nil && re.MatchString(name) {
			return p, pp[p], true
		}
	}
	return "", nil, false
}

func (c *jsonChecker) checkObject(r, w jnode, rm, wm map[string]any, path string) {
	rreq, wreq := requiredSet(rm), requiredSet(wm)
	for _, k := range sortedKeys(rreq) {
		if !wreq[k] {
			c.addf(path, "REQUIRED_PROPERTY_ADDED", "the reader requires %q, the writer does not", k)
		}
	}
	rp, wp := propsOf(rm), propsOf(wm)
	rAdd, wAdd := additional(rm), additional(wm)
	for _, k := range sortedKeys(wp) {
		wc := child(w, wp[k], "properties", k)
		p := pathKey(path, "properties/"+k)
		if rv, ok := rp[k]; ok {
			c.check(child(r, rv, "properties", k), wc, p)
			continue
		}
		if pat, rv, ok := patternFor(rm, k); ok {
			c.check(child(r, rv, "patternProperties", pat), wc, p)
			continue
		}
		if rAdd == false {
			if _, _, none := schemaMap(wp[k]); !none {
				c.addf(p, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "the writer allows property %q, the reader's closed content model does not", k)
			}
			continue
		}
		c.check(child(r, rAdd, "additionalProperties"), wc, p)
	}
	for _, k := range sortedKeys(rp) {
		if _, ok := wp[k]; ok {
			continue
		}
		rc := child(r, rp[k], "properties", k)
		p := pathKey(path, "properties/"+k)
		if pat, wv, ok := patternFor(wm, k); ok {
			c.check(rc, child(w, wv, "patternProperties", pat), p)
			continue
		}
		if _, all, _ := schemaMap(rp[k]); all {
			continue
		}
		if _, wall, _ := schemaMap(wAdd); wall {
			c.addf(p, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "the reader constrains property %q, which the writer's open content model allows with any value", k)
			continue
		}
		c.check(rc, child(w, wAdd, "additionalProperties"), p)
	}
	if _, _, rNone := schemaMap(rAdd); rNone {
		if _, _, wNone := schemaMap(wAdd); !wNone {
			c.addf(pathKey(path, "additionalProperties"), "ADDITIONAL_PROPERTIES_NARROWED", "the reader's content model is closed, the writer's open")
		}
	} else {
		c.check(child(r, rAdd, "additionalProperties"), child(w, wAdd, "additionalProperties"), pathKey(path, "additionalProperties"))
	}
	rpp, _ := rm["patternProperties"].(map[string]any)
	wpp, _ := wm["patternProperties"].(map[string]any)
	for _, p := range sortedKeys(rpp) {
		if wv, ok := wpp[p]; ok {
			c.check(child(r, rpp[p], "patternProperties", p), child(w, wv, "patternProperties", p), pathKey(path, "patternProperties/"+p))
		} else if _, all, _ := schemaMap(rpp[p]); !all {
			c.addf(pathKey(path, "patternProperties/"+p), "PATTERN_PROPERTY_ADDED", "the reader constrains properties matching %q, the writer does not", p)
		}
	}
}

func (c *jsonChecker) checkArray(r, w jnode, rm, wm map[string]any, path string) {
	ri, rok := rm["items"]
	if !rok {
		return
	}
	wi, wok := wm["items"]
	p := pathKey(path, "items")
	rt, rTuple := ri.([]any)
	wtup, wTuple := wi.([]any)
	switch {
	case !rTuple && !wok:
		c.check(child(r, ri, "items"), jnode{v: true}, p)
	case !rTuple && !wTuple:
		c.check(child(r, ri, "items"), child(w, wi, "items"), p)
	case !rTuple && wTuple:
		for i, x := range wtup {
			c.check(child(r, ri, "items"), child(w, x, "items", strconv.Itoa(i)), p)
		}
		wa, ok := wm["additionalItems"]
		if !ok {
			wa = true
		}
		c.check(child(r, ri, "items"), child(w, wa, "additionalItems"), p)
	default:
		for i, x := range rt {
			pi := fmt.Sprintf("%s/%d", p, i)
			switch {
			case wTuple && i < len(wtup):
				c.check(child(r, x, "items", strconv.Itoa(i)), child(w, wtup[i], "items", strconv.Itoa(i)), pi)
			case wTuple:
				wa, ok := wm["additionalItems"]
				if !ok {
					wa = true
				}
				c.check(child(r, x, "items", strconv.Itoa(i)), child(w, wa, "additionalItems"), pi)
			case wok:
				c.check(child(r, x, "items", strconv.Itoa(i)), child(w, wi, "items"), pi)
			default:
				c.check(child(r, x, "items", strconv.Itoa(i)), jnode{v: true}, pi)
			}
		}
	}
}

// branches returns the oneOf and anyOf subschemas of m.
func branches(n jnode, m map[string]any) []jnode {
	var out []jnode
	for _, kw := range []string{"oneOf", "anyOf"} {
		if bs, ok := m[kw].([]any); ok {
			for i, b := range bs {
				out = append(out, child(n, b, kw, strconv.Itoa(i)))
			}
		}
	}
	return out
}

func (c *jsonChecker) checkCombinators(r, w jnode, rm, wm map[string]any, path string) {
	rb, wb := branches(r, rm), branches(w, wm)
	switch {
	case len(wb) > 0 && len(rb) > 0:
		for i, b := range wb {
			if !slices.ContainsFunc(rb, func(x jnode) bool { return len(c.trial(x, b, path)) == 0 }) {
				c.addf(path, "COMBINED_TYPE_SUBSCHEMAS_CHANGED", "the writer's oneOf/anyOf branch %d matches no branch of the reader", i)
			}
		}
	case len(rb) > 0:
		if !slices.ContainsFunc(rb, func(x jnode) bool { return len(c.trial(x, w, path)) == 0 }) {
			c.addf(path, "COMBINED_TYPE_SUBSCHEMAS_CHANGED", "the writer's schema matches no oneOf/anyOf branch of the reader")
		}
	}
	if ra, ok := rm["allOf"].([]any); ok {
		wa, _ := wm["allOf"].([]any)
		for i, x := range ra {
			rc := child(r, x, "allOf", strconv.Itoa(i))
			ok := len(c.trial(rc, w, path)) == 0
			for j := 0; !ok && j < len(wa); j++ {
				ok = len(c.trial(rc, child(w, wa[j], "allOf", strconv.Itoa(j)), path)) == 0
			}
			if !ok {
				c.addf(path, "ALL_OF_NARROWED", "the reader's allOf branch %d is not implied by the writer", i)
			}
		}
	}
}

// docID returns the "$id" (draft 6+) or "id" (draft 4) of a document.
func docID(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	for _, k := range []string{"$id", "id"} {
		if s, ok := m[k].(string); ok {
			s, _, _ = strings.Cut(s, "#")
			return s, s != ""
		}
	}
	return "", false
}
