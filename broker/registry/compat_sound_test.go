package registry

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/xeipuuv/gojsonschema"
)

// The soundness property: whenever the checker calls a writer/reader pair
// compatible, every value the writer accepts validates against the reader,
// with gojsonschema (the bus's validator) as the oracle. Schema pairs are
// mutations of one generated base schema, drawn from the constructs the
// checker reasons about, in drafts 4, 6, 7 and without $schema.

// gen draws schemas and values from a byte string (the fuzzer's input) or,
// when it runs out, from a PRNG seeded with it.
type gen struct {
	data []byte
	rnd  *rand.Rand
}

func newGen(data []byte) *gen {
	var seed [32]byte
	copy(seed[:], data)
	return &gen{data: data, rnd: rand.New(rand.NewChaCha8(seed))}
}

func (g *gen) n(k int) int {
	if k <= 1 {
		return 0
	}
	if len(g.data) > 0 {
		b := g.data[0]
		g.data = g.data[1:]
		return int(b) % k
	}
	return g.rnd.IntN(k)
}

func (g *gen) pick(xs ...any) any { return xs[g.n(len(xs))] }

func num(s string) json.Number { return json.Number(s) }

var genNumbers = []string{"-1", "0", "1", "2", "2.5", "3", "5", "10"}

func (g *gen) number() json.Number { return num(genNumbers[g.n(len(genNumbers))]) }

var genTypes = []string{"null", "boolean", "object", "array", "string", "integer", "number"}

// schema draws a schema of at most the given depth for draft d.
func (g *gen) schema(depth, d int) any {
	if depth <= 0 || g.n(5) == 0 {
		switch g.n(8) {
		case 0:
			if d != draft4 {
				return g.pick(true, false)
			}
			return map[string]any{}
		case 1:
			return map[string]any{"type": genTypes[g.n(len(genTypes))]}
		case 2:
			return map[string]any{"type": []any{genTypes[g.n(len(genTypes))], genTypes[g.n(len(genTypes))]}}
		case 3:
			return map[string]any{"enum": []any{g.scalar(), g.scalar()}}
		case 4:
			return map[string]any{"const": g.scalar()}
		case 5:
			return g.numberSchema(d)
		case 6:
			return g.stringSchema()
		default:
			return map[string]any{}
		}
	}
	switch g.n(12) {
	case 0, 1:
		return g.numberSchema(d)
	case 2:
		return g.stringSchema()
	case 3, 4:
		m := map[string]any{"type": "object", "properties": map[string]any{}}
		props := m["properties"].(map[string]any)
		for _, k := range []string{"a", "b", "c"} {
			if g.n(2) == 0 {
				props[k] = g.schema(depth-1, d)
			}
		}
		if g.n(2) == 0 {
			m["required"] = []any{g.pick("a", "b")}
		}
		switch g.n(4) {
		case 0:
			m["additionalProperties"] = false
		case 1:
			m["additionalProperties"] = g.schema(depth-1, d)
		}
		if g.n(4) == 0 {
			m["patternProperties"] = map[string]any{"^x": g.schema(depth-1, d)}
		}
		if g.n(5) == 0 {
			m["propertyNames"] = g.pick(map[string]any{"maxLength": num("1")}, map[string]any{"enum": []any{"a", "b"}}, map[string]any{"pattern": "^[ab]"})
		}
		if g.n(5) == 0 {
			if g.n(2) == 0 {
				m["dependencies"] = map[string]any{"a": []any{"b"}}
			} else {
				m["dependencies"] = map[string]any{"a": g.schema(depth-1, d)}
			}
		}
		if g.n(6) == 0 {
			m["minProperties"] = num(fmt.Sprint(g.n(3)))
		}
		if g.n(6) == 0 {
			m["maxProperties"] = num(fmt.Sprint(g.n(3)))
		}
		if g.n(3) == 0 {
			delete(m, "type")
		}
		return m
	case 5, 6:
		m := map[string]any{"type": "array"}
		switch g.n(3) {
		case 0:
			m["items"] = g.schema(depth-1, d)
		case 1:
			m["items"] = []any{g.schema(depth-1, d), g.schema(depth-1, d)}[:1+g.n(2)]
			switch g.n(3) {
			case 0:
				m["additionalItems"] = false
			case 1:
				m["additionalItems"] = g.schema(depth-1, d)
			}
		}
		if g.n(4) == 0 {
			m["contains"] = g.schema(depth-1, d)
		}
		if g.n(4) == 0 {
			m["minItems"] = num(fmt.Sprint(g.n(3)))
		}
		if g.n(4) == 0 {
			m["maxItems"] = num(fmt.Sprint(g.n(4)))
		}
		if g.n(5) == 0 {
			m["uniqueItems"] = true
		}
		if g.n(3) == 0 {
			delete(m, "type")
		}
		return m
	case 7:
		return map[string]any{"allOf": []any{g.schema(depth-1, d), g.schema(depth-1, d)}}
	case 8:
		return map[string]any{"anyOf": []any{g.schema(depth-1, d), g.schema(depth-1, d)}}
	case 9:
		return map[string]any{"oneOf": []any{g.schema(depth-1, d), g.schema(depth-1, d)}}
	case 10:
		return map[string]any{"not": g.schema(depth-1, d)}
	default:
		m := map[string]any{"if": g.schema(depth-1, d)}
		if g.n(3) != 0 {
			m["then"] = g.schema(depth-1, d)
		}
		if g.n(3) != 0 {
			m["else"] = g.schema(depth-1, d)
		}
		return m
	}
}

func (g *gen) numberSchema(d int) map[string]any {
	m := map[string]any{"type": g.pick("number", "integer", []any{"number", "null"})}
	if g.n(2) == 0 {
		m["minimum"] = g.number()
		if d != draft6 && d != draft7 && g.n(2) == 0 {
			m["exclusiveMinimum"] = g.pick(true, false)
		}
	}
	if g.n(2) == 0 {
		m["maximum"] = g.number()
		if d != draft6 && d != draft7 && g.n(2) == 0 {
			m["exclusiveMaximum"] = g.pick(true, false)
		}
	}
	if d != draft4 && g.n(3) == 0 {
		if _, ok := m["exclusiveMinimum"]; !ok {
			m["exclusiveMinimum"] = g.number()
		}
	}
	if d != draft4 && g.n(3) == 0 {
		if _, ok := m["exclusiveMaximum"]; !ok {
			m["exclusiveMaximum"] = g.number()
		}
	}
	if g.n(5) == 0 {
		m["multipleOf"] = g.pick(num("0.5"), num("1"), num("2"), num("3"))
	}
	if g.n(4) == 0 {
		delete(m, "type")
	}
	return m
}

func (g *gen) stringSchema() map[string]any {
	m := map[string]any{"type": "string"}
	if g.n(2) == 0 {
		m["minLength"] = num(fmt.Sprint(g.n(3)))
	}
	if g.n(2) == 0 {
		m["maxLength"] = num(fmt.Sprint(g.n(4)))
	}
	if g.n(4) == 0 {
		m["pattern"] = g.pick("^a", "b$", "^[0-9]+$")
	}
	if g.n(5) == 0 {
		m["format"] = g.pick("date", "email")
	}
	if g.n(5) == 0 {
		m["contentEncoding"] = "base64"
	}
	if g.n(4) == 0 {
		delete(m, "type")
	}
	return m
}

func (g *gen) scalar() any {
	return g.pick(nil, true, false, num("0"), num("1"), num("2.5"), num("5"), "", "a", "ab", "2020-01-01", "x@y.z")
}

// value draws a JSON value.
func (g *gen) value(depth int) any {
	if depth <= 0 || g.n(3) != 0 {
		return g.pick(nil, true, false, num("-1"), num("0"), num("1"), num("2"), num("2.5"), num("3"), num("4"), num("5"), num("5.5"),
			num("6"), num("10"), num("11"), "", "a", "b", "ab", "ba", "abc", "123", "2020-01-01", "x@y.z", "aGk=", "xyz")
	}
	if g.n(2) == 0 {
		a := []any{}
		for range g.n(4) {
			a = append(a, g.value(depth-1))
		}
		return a
	}
	m := map[string]any{}
	for range g.n(4) {
		m[g.pick("a", "b", "c", "x1", "d", "ab").(string)] = g.value(depth - 1)
	}
	return m
}

// mutate returns a copy of s with one change somewhere.
func (g *gen) mutate(s any, depth, d int) any {
	m, ok := s.(map[string]any)
	if !ok || depth <= 0 || g.n(4) == 0 {
		switch g.n(3) {
		case 0:
			return g.schema(2, d)
		case 1:
			return s
		}
		if ok { // drop or change a keyword
			c := clone(m)
			ks := sortedKeys(c)
			if len(ks) > 0 {
				k := ks[g.n(len(ks))]
				if g.n(2) == 0 {
					delete(c, k)
				} else {
					if x, ok := g.schema(1, d).(map[string]any); ok {
						for _, k2 := range sortedKeys(x) {
							c[k2] = x[k2]
							break
						}
					}
				}
			}
			return c
		}
		return g.schema(1, d)
	}
	c := clone(m)
	// Descend into one subschema.
	ks := sortedKeys(c)
	if len(ks) == 0 {
		return g.schema(1, d)
	}
	k := ks[g.n(len(ks))]
	switch x := c[k].(type) {
	case map[string]any:
		switch k {
		case "properties", "patternProperties", "dependencies":
			ns := sortedKeys(x)
			y := clone(x)
			if len(ns) > 0 {
				n := ns[g.n(len(ns))]
				y[n] = g.mutate(x[n], depth-1, d)
			} else {
				y[g.pick("a", "b", "c").(string)] = g.schema(1, d)
			}
			c[k] = y
		default:
			c[k] = g.mutate(x, depth-1, d)
		}
	case []any:
		switch k {
		case "allOf", "anyOf", "oneOf", "items":
			y := append([]any{}, x...)
			switch g.n(3) {
			case 0:
				y = append(y, g.schema(1, d))
			case 1:
				if len(y) > 1 {
					y = y[:len(y)-1]
				}
			default:
				i := g.n(len(y))
				y[i] = g.mutate(y[i], depth-1, d)
			}
			c[k] = y
		default:
			c[k] = g.schema(0, d)
		}
	default:
		return g.mutate(c, 0, d)
	}
	return c
}

func clone(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// schemaValues collects the values a schema mentions (enum, const, bounds
// and their neighbours) so that the oracle probes the edges.
func schemaValues(s any, out *[]any) {
	switch x := s.(type) {
	case map[string]any:
		for k, v := range x {
			switch k {
			case "enum":
				if e, ok := v.([]any); ok {
					*out = append(*out, e...)
				}
			case "const":
				*out = append(*out, v)
			case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum":
				if n, ok := v.(json.Number); ok {
					f, _ := n.Float64()
					for _, d := range []float64{-1, -0.5, 0, 0.5, 1} {
						*out = append(*out, json.Number(fmt.Sprint(f+d)))
					}
				}
			default:
				schemaValues(v, out)
			}
		}
	case []any:
		for _, v := range x {
			schemaValues(v, out)
		}
	}
}

var draftURLs = map[int]string{draft4: "http://json-schema.org/draft-04/schema#", draft6: "http://json-schema.org/draft-06/schema#", draft7: "http://json-schema.org/draft-07/schema#"}

// soundness checks one generated case; it returns whether the pair was
// approved, and fails t when an approval is wrong.
func soundness(t *testing.T, data []byte) (approved bool) {
	g := newGen(data)
	d := []int{draftHybrid, draft4, draft6, draft7}[g.n(4)]
	base := g.schema(3, d)
	w, r := g.mutate(base, 3, d), g.mutate(base, 3, d)
	if g.n(3) == 0 {
		w = base
	}
	wrap := func(s any) any {
		if m, ok := s.(map[string]any); ok && d != draftHybrid {
			m = clone(m)
			m["$schema"] = draftURLs[d]
			return m
		}
		return s
	}
	wText, rText := jsonText(wrap(w)), jsonText(wrap(r))
	ws, err1 := parseJSONSchema(wText)
	rs, err2 := parseJSONSchema(rText)
	if err1 != nil || err2 != nil {
		return false
	}
	wd, err := decodeJSONDoc(wText, nil)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := decodeJSONDoc(rText, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := jsonIncompatibilities(rd, wd)
	for _, m := range msgs {
		if !strings.HasPrefix(m, "#") {
			t.Fatalf("message without a JSON path: %q", m)
		}
	}
	if len(msgs) > 0 {
		return false
	}
	var vals []any
	schemaValues(w, &vals)
	schemaValues(r, &vals)
	for range 150 {
		vals = append(vals, g.value(3))
	}
	for _, v := range vals {
		l := gojsonschema.NewStringLoader(jsonText(v))
		wr, err := ws.Validate(l)
		if err != nil || !wr.Valid() {
			continue
		}
		rr, err := rs.Validate(l)
		if err != nil {
			continue
		}
		if !rr.Valid() {
			t.Fatalf("UNSAFE APPROVAL\nwriter: %s\nreader: %s\nvalue %s is valid for the writer, not for the reader: %v",
				wText, rText, jsonText(v), rr.Errors())
		}
	}
	return true
}

// FuzzJSONCompatSound: the soundness property on fuzzer-driven schema
// pairs. Seed corpus: testdata/fuzz/FuzzJSONCompatSound.
func FuzzJSONCompatSound(f *testing.F) {
	for i := range uint64(8) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], i*0x9e3779b97f4a7c15)
		f.Add(b[:])
	}
	f.Fuzz(func(t *testing.T, data []byte) { soundness(t, data) })
}

// TestJSONCompatSoundRandom runs the soundness property on a fixed set of
// generated pairs on every test run, and checks that the generator gives
// the checker approvals to test, not only refusals.
func TestJSONCompatSoundRandom(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	approved := 0
	for i := range n {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], uint64(i)*0x9e3779b97f4a7c15+1)
		if soundness(t, b[:]) {
			approved++
		}
	}
	t.Logf("%d of %d generated pairs approved, each checked against the oracle", approved, n)
	if approved < n/10 {
		t.Errorf("only %d of %d pairs approved: the property test exercises too few approvals", approved, n)
	}
}
