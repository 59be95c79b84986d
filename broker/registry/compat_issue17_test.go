package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/xeipuuv/gojsonschema"
)

const (
	d4 = `"$schema":"http://json-schema.org/draft-04/schema#",`
	d7 = `"$schema":"http://json-schema.org/draft-07/schema#",`
)

// TestJSONCompatIssue17: the 38 public test vectors on which the checker
// disagreed with an established registry (issue 17), written from their
// descriptions: 9 unsafe approvals, now refused, and 29 refusals of safe
// changes, now approved. backward = the new schema reads data written with
// the old; forward = the old reads the new; "" is compatible, otherwise the
// prefix (path and kind) of the first message. witness, for a refusal, is a
// value the writer accepts and the reader does not: the test checks it
// with gojsonschema, so every expected refusal is a real incompatibility.
// Every expected approval is probed with the oracle as well.
func TestJSONCompatIssue17(t *testing.T) {
	cases := []struct {
		name              string
		old, new          string
		backward, forward string
		witness           string // for the refused direction(s)
	}{
		// ---- unsafe approvals, now refused ----
		{"1 draft-04 exclusiveMinimum dropped",
			`{` + d4 + `"type":"number","minimum":5,"exclusiveMinimum":true}`, `{` + d4 + `"type":"number","minimum":5}`,
			"", "#: MINIMUM_INCREASED", `5`},
		{"2 draft-04 exclusiveMaximum dropped",
			`{` + d4 + `"type":"number","maximum":5,"exclusiveMaximum":true}`, `{` + d4 + `"type":"number","maximum":5}`,
			"", "#: MAXIMUM_DECREASED", `5`},
		{"3 tuple grown under additionalItems false",
			`{"type":"array","items":[{"type":"string"}],"additionalItems":false}`,
			`{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`,
			"", "#/additionalItems: SCHEMA_NARROWED", `["a",1]`},
		{"4 contentEncoding removed",
			`{"type":"string","contentEncoding":"base64"}`, `{"type":"string"}`,
			"#: CONTENT_ENCODING_CHANGED", "#: CONTENT_ENCODING_CHANGED", ""},
		{"5 contentEncoding changed",
			`{"type":"string","contentEncoding":"base64"}`, `{"type":"string","contentEncoding":"base32"}`,
			"#: CONTENT_ENCODING_CHANGED", "#: CONTENT_ENCODING_CHANGED", ""},
		{"6 contentMediaType removed",
			`{"type":"string","contentMediaType":"application/json"}`, `{"type":"string"}`,
			"#: CONTENT_MEDIA_TYPE_CHANGED", "#: CONTENT_MEDIA_TYPE_CHANGED", ""},
		{"7 contentMediaType changed",
			`{"type":"object","properties":{"doc":{"type":"string","contentMediaType":"application/json"}}}`,
			`{"type":"object","properties":{"doc":{"type":"string","contentMediaType":"application/xml"}}}`,
			"#/properties/doc: CONTENT_MEDIA_TYPE_CHANGED", "#/properties/doc: CONTENT_MEDIA_TYPE_CHANGED", ""},
		{"8 oneOf to anyOf is not FORWARD compatible",
			`{"oneOf":[{"type":"integer"},{"type":"number","minimum":0}]}`, `{"anyOf":[{"type":"integer"},{"type":"number","minimum":0}]}`,
			"", "#/oneOf: COMBINED_TYPE_SUBSCHEMAS_CHANGED", `3`},
		{"9 change behind a $ref to an $id-named subschema",
			`{"definitions":{"a":{"$id":"#name","type":"string"}},"type":"object","properties":{"x":{"$ref":"#name"}}}`,
			`{"definitions":{"a":{"$id":"#name","type":"integer"}},"type":"object","properties":{"x":{"$ref":"#name"}}}`,
			"#/properties/x: TYPE_NARROWED", "#/properties/x: TYPE_NARROWED", `{"x":"s"} | {"x":1}`},

		// ---- safe changes, now approved ----
		{"10 exclusiveMinimum relaxed to minimum",
			`{"type":"number","exclusiveMinimum":5}`, `{"type":"number","minimum":5}`, "", "#: MINIMUM_INCREASED", `5`},
		{"11 exclusiveMaximum relaxed to maximum",
			`{"type":"number","exclusiveMaximum":5}`, `{"type":"number","maximum":5}`, "", "#: MAXIMUM_DECREASED", `5`},
		{"12 draft-04 to draft-07 spelling of exclusiveMinimum",
			`{` + d4 + `"type":"number","minimum":5,"exclusiveMinimum":true}`, `{` + d7 + `"type":"number","exclusiveMinimum":5}`, "", "", ""},
		{"13 draft-07 to draft-04 spelling of exclusiveMaximum",
			`{` + d7 + `"type":"number","exclusiveMaximum":5}`, `{` + d4 + `"type":"number","maximum":5,"exclusiveMaximum":true}`, "", "", ""},
		{"14 exclusive integer bound respelled inclusive",
			`{"type":"integer","exclusiveMinimum":4,"exclusiveMaximum":10}`, `{"type":"integer","minimum":5,"maximum":9}`, "", "", ""},
		{"15 allOf to anyOf",
			`{"allOf":[{"type":"integer"},{"minimum":0}]}`, `{"anyOf":[{"type":"integer"},{"minimum":0}]}`, "", "#/allOf/1: MINIMUM_ADDED", `-1`},
		{"16 oneOf to anyOf is BACKWARD compatible",
			`{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `{"anyOf":[{"type":"string"},{"type":"integer"}]}`, "", "", ""},
		{"17 propertyNames relaxed",
			`{"type":"object","propertyNames":{"maxLength":3}}`, `{"type":"object","propertyNames":{"maxLength":5}}`,
			"", "#/propertyNames: PROPERTY_NAMES_NARROWED", `{"abcd":1}`},
		{"18 propertyNames removed",
			`{"type":"object","propertyNames":{"pattern":"^[a-z]+$"}}`, `{"type":"object"}`, "", "#/propertyNames: PROPERTY_NAMES_NARROWED", `{"A":1}`},
		{"19 propertyNames unchanged, a property added",
			`{"type":"object","propertyNames":{"enum":["a","b"]},"properties":{"a":{"type":"string"}}}`,
			`{"type":"object","propertyNames":{"enum":["a","b"]},"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`,
			"#/properties/b: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", "", `{"b":"x"}`},
		{"20 dependencies: a required name dropped",
			`{"type":"object","dependencies":{"a":["b","c"]}}`, `{"type":"object","dependencies":{"a":["b"]}}`,
			"", "#/dependencies/a: DEPENDENCY_ADDED", `{"a":1,"b":1}`},
		{"21 dependencies: schema dependency relaxed",
			`{"type":"object","dependencies":{"a":{"required":["b"],"properties":{"b":{"type":"integer"}}}}}`,
			`{"type":"object","dependencies":{"a":{"required":["b"]}}}`,
			"", "#/dependencies/a: DEPENDENCY_NARROWED", `{"a":1,"b":"x"}`},
		{"22 dependencies removed",
			`{"type":"object","dependencies":{"a":["b"]}}`, `{"type":"object"}`, "", "#/dependencies/a: DEPENDENCY_ADDED", `{"a":1}`},
		{"23 dependencies unchanged, a property widened",
			`{"type":"object","properties":{"a":{"type":"integer"}},"dependencies":{"a":["b"]}}`,
			`{"type":"object","properties":{"a":{"type":"number"}},"dependencies":{"a":["b"]}}`,
			"", "#/properties/a: TYPE_NARROWED", `{"a":1.5,"b":0}`},
		{"24 contains relaxed",
			`{"type":"array","contains":{"type":"integer"}}`, `{"type":"array","contains":{"type":"number"}}`,
			"", "#/contains: CONTAINS_NARROWED", `[1.5]`},
		{"25 contains removed",
			`{"type":"array","contains":{"const":1}}`, `{"type":"array"}`, "", "#/contains: CONTAINS_NARROWED", `[]`},
		{"26 contains unchanged, maxItems raised",
			`{"type":"array","contains":{"type":"string"},"maxItems":3}`, `{"type":"array","contains":{"type":"string"},"maxItems":5}`,
			"", "#: MAXITEMS_DECREASED", `["a","b","c","d"]`},
		{"27 tuple item widened under additionalItems",
			`{"type":"array","items":[{"type":"integer"}],"additionalItems":false}`, `{"type":"array","items":[{"type":"number"}],"additionalItems":false}`,
			"", "#/items/0: TYPE_NARROWED", `[1.5]`},
		{"28 additionalItems relaxed",
			`{"type":"array","items":[{"type":"string"}],"additionalItems":false}`, `{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"}}`,
			"", "#/additionalItems: SCHEMA_NARROWED", `["a",1]`},
		{"29 tuple shortened, additionalItems opened",
			`{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`, `{"type":"array","items":[{"type":"string"}]}`,
			"", "#/items/1: TYPE_NARROWED", `["a","b"]`},
		{"30 tuple unchanged, minItems dropped",
			`{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"},"minItems":1}`,
			`{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"}}`,
			"", "#: MINITEMS_ADDED", `[]`},
		{"31 not narrowed",
			`{"not":{"type":["string","null"]}}`, `{"not":{"type":"string"}}`, "", "#/not: NOT_NARROWED", `null`},
		{"32 not removed",
			`{"type":"string","not":{"enum":["x"]}}`, `{"type":"string"}`, "", "#/not: NOT_NARROWED", `"x"`},
		{"33 not unchanged, maxLength raised",
			`{"type":"string","maxLength":5,"not":{"const":"admin"}}`, `{"type":"string","maxLength":9,"not":{"const":"admin"}}`,
			"", "#: MAXLENGTH_DECREASED", `"abcdefg"`},
		{"34 then relaxed",
			`{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}`, `{"type":"object","if":{"required":["a"]},"then":{}}`,
			"", "#/then: REQUIRED_PROPERTY_ADDED", `{"a":1}`},
		{"35 else relaxed",
			`{"if":{"type":"string"},"then":{"minLength":1},"else":{"type":"integer"}}`, `{"if":{"type":"string"},"then":{"minLength":1},"else":{"type":"number"}}`,
			"", "#/else: TYPE_NARROWED", `1.5`},
		{"36 if/then/else removed",
			`{"if":{"type":"string"},"then":{"minLength":1},"else":{"type":"integer"}}`, `{}`,
			"", "#/then: MINLENGTH_ADDED", `""`},
		{"37 if/then/else unchanged, a property widened",
			`{"type":"object","properties":{"k":{"enum":["a","b"]},"n":{"type":"integer"}},"if":{"properties":{"k":{"const":"a"}}},"then":{"required":["n"]}}`,
			`{"type":"object","properties":{"k":{"enum":["a","b","c"]},"n":{"type":"integer"}},"if":{"properties":{"k":{"const":"a"}}},"then":{"required":["n"]}}`,
			"", "#/properties/k: ENUM_NARROWED", `{"k":"c"}`},
		{"38 writer's if/then/else implies the reader's",
			`{"type":"object","if":{"required":["a"]},"then":{"required":["a","b"]},"else":{"maxProperties":0}}`,
			`{"type":"object","if":{"required":["a"]},"then":{"required":["b"]}}`,
			"", "#/else: MAXPROPERTIES_ADDED", `{"b":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, n := mustJSONDoc(t, tc.old), mustJSONDoc(t, tc.new)
			dir := func(name, reader, writer string, rd, wd *jsonDoc, want string) {
				t.Helper()
				got := jsonIncompatibilities(rd, wd)
				switch {
				case want == "" && len(got) > 0:
					t.Errorf("%s: %v, want compatible", name, got)
				case want != "" && len(got) == 0:
					t.Errorf("%s: compatible, want %q", name, want)
				case want != "" && !strings.HasPrefix(got[0], want):
					t.Errorf("%s: %v, want first message starting %q", name, got, want)
				}
				if want == "" {
					probeOracle(t, name, reader, writer, 300)
				} else if tc.witness != "" {
					w := tc.witness
					if b, f, ok := strings.Cut(w, " | "); ok {
						w = map[string]string{"backward": b, "forward": f}[name]
					}
					assertWitness(t, name, reader, writer, w)
				}
			}
			dir("backward", tc.new, tc.old, n, o, tc.backward)
			dir("forward", tc.old, tc.new, o, n, tc.forward)
		})
	}
}

// TestJSONCompatLaterDrafts: 2019-09 and 2020-12 keywords, which
// gojsonschema does not implement (so no oracle): prefixItems, $anchor,
// dependentRequired/dependentSchemas, and the refusals with paths for what
// the checker does not reason about.
func TestJSONCompatLaterDrafts(t *testing.T) {
	const s2020 = `"$schema":"https://json-schema.org/draft/2020-12/schema",`
	const s2019 = `"$schema":"https://json-schema.org/draft/2019-09/schema",`
	cases := []struct {
		name              string
		old, new          string
		backward, forward string
	}{
		{"prefixItems grown under items false",
			`{` + s2020 + `"type":"array","prefixItems":[{"type":"string"}],"items":false}`,
			`{` + s2020 + `"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}`,
			"", "#/items: SCHEMA_NARROWED"},
		{"prefixItems item widened",
			`{` + s2020 + `"type":"array","prefixItems":[{"type":"integer"}]}`, `{` + s2020 + `"type":"array","prefixItems":[{"type":"number"}]}`,
			"", "#/prefixItems/0: TYPE_NARROWED"},
		{"$anchor target changed",
			`{` + s2020 + `"$defs":{"a":{"$anchor":"cccd","type":"string","pattern":"^[0-9]{12}$"}},"properties":{"id":{"$ref":"#cccd"}}}`,
			`{` + s2020 + `"$defs":{"a":{"$anchor":"cccd","type":"string"}},"properties":{"id":{"$ref":"#cccd"}}}`,
			"", "#/properties/id: PATTERN_CHANGED"},
		{"$ref siblings apply from 2019-09",
			`{` + s2019 + `"$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s","maxLength":5}}}`,
			`{` + s2019 + `"$defs":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/s","maxLength":9}}}`,
			"", "#/properties/a: MAXLENGTH_DECREASED"},
		{"dependentRequired relaxed",
			`{` + s2019 + `"type":"object","dependentRequired":{"a":["b","c"]}}`, `{` + s2019 + `"type":"object","dependentRequired":{"a":["b"]}}`,
			"", "#/dependentRequired/a: DEPENDENCY_ADDED"},
		{"dependentSchemas relaxed",
			`{` + s2019 + `"type":"object","dependentSchemas":{"a":{"required":["b","c"]}}}`, `{` + s2019 + `"type":"object","dependentSchemas":{"a":{"required":["b"]}}}`,
			"", "#/dependentSchemas/a: DEPENDENCY_NARROWED"},
		{"unevaluatedProperties cannot be proven: refused with its path",
			`{` + s2019 + `"type":"object","properties":{"a":{}},"unevaluatedProperties":false}`,
			`{` + s2019 + `"type":"object","properties":{"a":{},"b":{}},"unevaluatedProperties":false}`,
			"#/unevaluatedProperties: KEYWORD_NOT_PROVEN", "#/unevaluatedProperties: KEYWORD_NOT_PROVEN"},
		{"$dynamicRef is refused with its path",
			`{` + s2020 + `"type":"object","properties":{"t":{"$dynamicRef":"#node"}}}`,
			`{` + s2020 + `"type":"object","properties":{"t":{"$dynamicRef":"#node"}},"required":["t"]}`,
			"#/properties/t/$dynamicRef: KEYWORD_NOT_PROVEN", "#/properties/t/$dynamicRef: KEYWORD_NOT_PROVEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o, err := decodeJSONDoc(tc.old, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := decodeJSONDoc(tc.new, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []struct {
				name   string
				r, w   *jsonDoc
				want   string
				rt, wt string
			}{{"backward", n, o, tc.backward, tc.new, tc.old}, {"forward", o, n, tc.forward, tc.old, tc.new}} {
				got := jsonIncompatibilities(d.r, d.w)
				switch {
				case d.want == "" && len(got) > 0:
					t.Errorf("%s: %v, want compatible", d.name, got)
				case d.want != "" && len(got) == 0:
					t.Errorf("%s: compatible, want %q", d.name, d.want)
				case d.want != "" && !slices.ContainsFunc(got, func(m string) bool { return strings.HasPrefix(m, d.want) }):
					t.Errorf("%s: %v, want a message starting %q", d.name, got, d.want)
				}
			}
		})
	}
}

// probeOracle checks with gojsonschema that generated values the writer
// accepts are accepted by the reader.
func probeOracle(t *testing.T, dir, reader, writer string, n int) {
	t.Helper()
	rs, err := parseJSONSchema(reader)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := parseJSONSchema(writer)
	if err != nil {
		t.Fatal(err)
	}
	var vals []any
	rv, _ := decodeNumbers(reader)
	wv, _ := decodeNumbers(writer)
	schemaValues(rv, &vals)
	schemaValues(wv, &vals)
	g := newGen([]byte(reader + writer))
	for range n {
		vals = append(vals, g.value(3))
	}
	for _, v := range vals {
		l := gojsonschema.NewStringLoader(jsonText(v))
		if w, err := ws.Validate(l); err != nil || !w.Valid() {
			continue
		}
		if r, err := rs.Validate(l); err == nil && !r.Valid() {
			t.Errorf("%s approved, but %s is valid for the writer and not for the reader", dir, jsonText(v))
		}
	}
}

// assertWitness checks with gojsonschema that value shows the refusal is
// right: the writer accepts it, the reader does not.
func assertWitness(t *testing.T, dir, reader, writer, value string) {
	t.Helper()
	rs, err := parseJSONSchema(reader)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := parseJSONSchema(writer)
	if err != nil {
		t.Fatal(err)
	}
	l := gojsonschema.NewStringLoader(value)
	w, err := ws.Validate(l)
	if err != nil || !w.Valid() {
		t.Errorf("%s: witness %s is not valid for the writer: %v %v", dir, value, err, w.Errors())
		return
	}
	if r, err := rs.Validate(l); err != nil || r.Valid() {
		t.Errorf("%s: witness %s is valid for the reader too: the refusal is not shown", dir, value)
	}
}
