// Package validate checks a dataset row against its registered schema and
// says exactly what is wrong: a JSON path and a message per violation, which
// the pipeline puts on the dead-letter record. JSON Schema rows are checked
// with gojsonschema; Avro rows are walked against the hamba/avro schema and
// converted to the generic form hamba encodes.
// JSON Schemas also get a compiled fast form (fast.go) that Check uses to
// pass valid rows without gojsonschema; gojsonschema still judges and
// words every other row.
//
// Before any schema check, every number and string of a row is checked for
// what no schema can express: a number must be representable (no overflow
// to ±Inf, no non-zero literal that underflows to 0, integers in range and
// without a fraction), and a string must be valid UTF-8 without control
// characters, unless its field is annotated with AllowControlChars. Such
// violations are Kind "malformed". A row with them never reaches
// gojsonschema, which panics on numbers big.Rat cannot hold (1e5000000).
package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/connectors/strictjson"
	"github.com/xeipuuv/gojsonschema"
)

// Violation is one reason a row does not fit its schema.
type Violation struct {
	Path    string // JSON path, "$" for the whole row, "$.holder_cccd", "$.items[2]"
	Message string
	// Kind is the dead-letter kind: "" for a schema violation, KindMalformed
	// for a number that cannot be represented or a string that is not clean
	// text (invalid UTF-8, control characters).
	Kind string
}

// KindMalformed marks violations of the data itself rather than the schema.
const KindMalformed = contract.KindMalformed

// AllowControlChars is the annotation, on a JSON Schema property or an Avro
// field, that lets its strings (and those nested under it) hold tab, line
// feed and carriage return. Other control characters are never accepted:
// NUL, ESC and the C1 range only corrupt logs, terminals and databases.
const AllowControlChars = "x-lgsp-allow-control-chars"

func (v Violation) String() string { return v.Path + ": " + v.Message }

// Summary joins violations into one line, sorted by path, for headers and logs.
func Summary(vs []Violation) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	sort.Strings(s)
	return strings.Join(s, "; ")
}

// JSON validates rows against a JSON Schema.
type JSON struct {
	schema *gojsonschema.Schema
	allow  *allowTree // where AllowControlChars is set
	fast   *fastNode  // nil: the schema uses a keyword the fast form does not cover
}

// NewJSON compiles a JSON Schema document.
func NewJSON(schemaText string) (*JSON, error) {
	s, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(schemaText))
	if err != nil {
		return nil, fmt.Errorf("validate: compile JSON Schema: %w", err)
	}
	var doc any
	if err := json.Unmarshal([]byte(schemaText), &doc); err != nil {
		return nil, fmt.Errorf("validate: read JSON Schema: %w", err)
	}
	allow, err := jsonAllowTree(doc, "$")
	if err != nil {
		return nil, err
	}
	return &JSON{schema: s, allow: allow, fast: compileFast(schemaText)}, nil
}

// Validate checks the JSON document doc (a row already marshalled to JSON)
// and returns nil when it is valid.
func (j *JSON) Validate(doc []byte) []Violation {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []Violation{{Path: "$", Message: "not valid JSON: " + err.Error()}}
	}
	if vs := checkValues(v, j.allow, "$", nil); vs != nil {
		return vs
	}
	res, err := j.schema.Validate(gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return []Violation{{Path: "$", Message: "not valid JSON: " + err.Error()}}
	}
	return violations(res)
}

func violations(res *gojsonschema.Result) []Violation {
	if res.Valid() {
		return nil
	}
	out := make([]Violation, 0, len(res.Errors()))
	for _, e := range res.Errors() {
		path := jsonPath(e.Context().String())
		if p, ok := e.Details()["property"].(string); ok && e.Type() == "required" {
			path = joinPath(path, p)
		}
		if p, ok := e.Details()["property"].(string); ok && e.Type() == "additional_property_not_allowed" {
			path = joinPath(path, p)
		}
		out = append(out, Violation{Path: path, Message: e.Description()})
	}
	return out
}

// ValidateValue checks a row given as Go values (maps, slices, strings,
// bools, numbers) without encoding it first; numbers are handed to
// gojsonschema as json.Number, the form it validates.
func (j *JSON) ValidateValue(row map[string]any) []Violation {
	if vs := checkValues(row, j.allow, "$", nil); vs != nil {
		return vs
	}
	res, err := j.schema.Validate(gojsonschema.NewRawLoader(toJSONValue(row)))
	if err != nil {
		return []Violation{{Path: "$", Message: "not a JSON value: " + err.Error()}}
	}
	return violations(res)
}

// Check gives ValidateValue's answer, quicker: a row the schema's compiled
// fast form finds valid is not handed to gojsonschema; any other row is,
// so violations (messages, paths) are exactly ValidateValue's. The
// pipeline uses it; ValidateValue stays the reference.
func (j *JSON) Check(row map[string]any) []Violation {
	if j.fast == nil {
		return j.ValidateValue(row)
	}
	if vs := checkValues(row, j.allow, "$", nil); vs != nil {
		return vs
	}
	if j.fast.check(row) == valid {
		return nil
	}
	res, err := j.schema.Validate(gojsonschema.NewRawLoader(toJSONValue(row)))
	if err != nil {
		return []Violation{{Path: "$", Message: "not a JSON value: " + err.Error()}}
	}
	return violations(res)
}

// HasFastForm reports whether Check can skip gojsonschema for valid rows.
func (j *JSON) HasFastForm() bool { return j.fast != nil }

// toJSONValue returns v in the shape encoding/json decodes to with UseNumber.
func toJSONValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = toJSONValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toJSONValue(e)
		}
		return out
	case float64:
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case float32:
		return json.Number(strconv.FormatFloat(float64(x), 'g', -1, 32))
	case int:
		return json.Number(strconv.Itoa(x))
	case int32:
		return json.Number(strconv.FormatInt(int64(x), 10))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case uint64:
		return json.Number(strconv.FormatUint(x, 10))
	}
	return v
}

// jsonPath turns gojsonschema's "(root).a.0.b" into "$.a[0].b".
func jsonPath(ctx string) string {
	rest := strings.TrimPrefix(ctx, "(root)")
	var sb strings.Builder
	sb.WriteByte('$')
	for _, part := range strings.Split(strings.TrimPrefix(rest, "."), ".") {
		if part == "" {
			continue
		}
		if _, err := strconv.Atoi(part); err == nil {
			sb.WriteString("[" + part + "]")
		} else {
			sb.WriteString("." + part)
		}
	}
	return sb.String()
}

func joinPath(base, field string) string { return base + "." + field }

// Avro validates rows against an Avro record schema and converts them to the
// generic values hamba/avro encodes (unions wrapped as {"type": value}).
type Avro struct{ schema avro.Schema }

// NewAvro parses an Avro schema.
func NewAvro(schemaText string) (*Avro, error) {
	s, err := avro.Parse(schemaText)
	if err != nil {
		return nil, fmt.Errorf("validate: parse Avro schema: %w", err)
	}
	if err := checkAvroAnnotations(s, "$"); err != nil {
		return nil, err
	}
	return &Avro{schema: s}, nil
}

// NewAvroFromSchema wraps an already parsed schema.
func NewAvroFromSchema(s avro.Schema) *Avro { return &Avro{schema: s} }

// Schema returns the parsed schema.
func (a *Avro) Schema() avro.Schema { return a.schema }

// Convert checks row and returns its encodable form, or the violations.
func (a *Avro) Convert(row map[string]any) (any, []Violation) {
	var vs []Violation
	out := convert(a.schema, row, "$", false, &vs)
	if len(vs) > 0 {
		return nil, vs
	}
	return out, nil
}

// convert checks v against s and returns its encodable form; allow is
// whether the enclosing field carries AllowControlChars.
func convert(s avro.Schema, v any, path string, allow bool, vs *[]Violation) any {
	bad := func(format string, args ...any) any {
		*vs = append(*vs, Violation{Path: path, Message: fmt.Sprintf(format, args...)})
		return nil
	}
	malformed := func(msg string) any {
		*vs = append(*vs, Violation{Path: path, Message: msg, Kind: KindMalformed})
		return nil
	}
	switch s.Type() {
	case avro.Null:
		if v != nil {
			return bad("expected null, got %s", kind(v))
		}
		return nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return bad("expected boolean, got %s", kind(v))
		}
		return b
	case avro.Int, avro.Long:
		if !isNumber(v) {
			return bad("expected integer, got %s", kind(v))
		}
		n, problem := integer(v)
		if problem != "" {
			return malformed(problem)
		}
		if s.Type() == avro.Int {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return malformed(fmt.Sprintf("integer %d is out of range for an Avro int", n))
			}
			return int(n)
		}
		return n
	case avro.Float, avro.Double:
		if !isNumber(v) {
			return bad("expected number, got %s", kind(v))
		}
		f, problem := float(v)
		if problem != "" {
			return malformed(problem)
		}
		if s.Type() == avro.Float {
			if math.Abs(f) > math.MaxFloat32 {
				return malformed(fmt.Sprintf("number %v is out of range for an Avro float", f))
			}
			if f != 0 && float32(f) == 0 {
				return malformed(fmt.Sprintf("number %v is too small for an Avro float (it would become 0)", f))
			}
			return float32(f)
		}
		return f
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return bad("expected string, got %s", kind(v))
		}
		if msg := stringProblem(str, allow); msg != "" {
			return malformed(msg)
		}
		return str
	case avro.Bytes:
		switch b := v.(type) {
		case []byte:
			return b
		case string:
			return []byte(b)
		}
		return bad("expected bytes, got %s", kind(v))
	case avro.Enum:
		str, ok := v.(string)
		if !ok {
			return bad("expected one of %v, got %s", s.(*avro.EnumSchema).Symbols(), kind(v))
		}
		for _, sym := range s.(*avro.EnumSchema).Symbols() {
			if sym == str {
				return str
			}
		}
		return bad("%q is not one of %v", str, s.(*avro.EnumSchema).Symbols())
	case avro.Record:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("expected object, got %s", kind(v))
		}
		rs := s.(*avro.RecordSchema)
		out := make(map[string]any, len(rs.Fields()))
		known := make(map[string]struct{}, len(rs.Fields()))
		for _, f := range rs.Fields() {
			known[f.Name()] = struct{}{}
			fv, present := m[f.Name()]
			if !present {
				if f.HasDefault() {
					out[f.Name()] = wrapDefault(f.Type(), f.Default())
					continue
				}
				*vs = append(*vs, Violation{Path: path + "." + f.Name(), Message: "required field is missing"})
				continue
			}
			out[f.Name()] = convert(f.Type(), fv, path+"."+f.Name(), allow || f.Prop(AllowControlChars) == true, vs)
		}
		for k := range m {
			if _, ok := known[k]; !ok {
				*vs = append(*vs, Violation{Path: path + "." + k, Message: "field is not in the schema"})
			}
		}
		return out
	case avro.Array:
		arr, ok := v.([]any)
		if !ok {
			return bad("expected array, got %s", kind(v))
		}
		items := s.(*avro.ArraySchema).Items()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = convert(items, e, fmt.Sprintf("%s[%d]", path, i), allow, vs)
		}
		return out
	case avro.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return bad("expected object, got %s", kind(v))
		}
		values := s.(*avro.MapSchema).Values()
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[k] = convert(values, e, path+strictjson.Member(k), allow, vs)
		}
		return out
	case avro.Union:
		us := s.(*avro.UnionSchema)
		if v == nil {
			for _, t := range us.Types() {
				if t.Type() == avro.Null {
					return nil
				}
			}
			return bad("null is not allowed here")
		}
		var specific []Violation // of a branch of the right type whose value is malformed
		for _, t := range us.Types() {
			if t.Type() == avro.Null {
				continue
			}
			var trial []Violation
			c := convert(t, v, path, allow, &trial)
			if len(trial) == 0 {
				return map[string]any{unionName(t): c}
			}
			if specific == nil && trial[0].Kind == KindMalformed {
				specific = trial
			}
		}
		if specific != nil {
			*vs = append(*vs, specific...)
			return nil
		}
		return bad("%s matches no branch of the union", kind(v))
	case avro.Ref:
		return convert(s.(*avro.RefSchema).Schema(), v, path, allow, vs)
	}
	return bad("unsupported Avro type %s", s.Type())
}

// unionName is the key hamba expects for a union branch: the full name of a
// named type, else the primitive type name.
func unionName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema().FullName()
	}
	return string(s.Type())
}

// wrapDefault turns a field default into the generic form; defaults of a
// union are of its first branch, and a null default needs no wrapping.
func wrapDefault(s avro.Schema, d any) any {
	if d == nil {
		return nil
	}
	if us, ok := s.(*avro.UnionSchema); ok && len(us.Types()) > 0 {
		return map[string]any{unionName(us.Types()[0]): d}
	}
	return d
}

// isNumber reports a Go value that stands for a JSON number.
func isNumber(v any) bool {
	switch v.(type) {
	case int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64, json.Number:
		return true
	}
	return false
}

// integer returns the number v as an exact int64, or says why it is not
// one (isNumber(v) holds).
func integer(v any) (int64, string) {
	switch n := v.(type) {
	case int:
		return int64(n), ""
	case int8:
		return int64(n), ""
	case int16:
		return int64(n), ""
	case int32:
		return int64(n), ""
	case int64:
		return n, ""
	case uint8:
		return int64(n), ""
	case uint16:
		return int64(n), ""
	case uint32:
		return int64(n), ""
	case uint64:
		if n > math.MaxInt64 {
			return 0, fmt.Sprintf("integer %d is out of range for an Avro long", n)
		}
		return int64(n), ""
	case float32:
		return integer(float64(n))
	case float64:
		if msg := floatProblem(n); msg != "" {
			return 0, msg
		}
		if n != math.Trunc(n) {
			return 0, fmt.Sprintf("%v is not an integer (it has a fraction)", n)
		}
		if math.Abs(n) >= 1<<53 {
			return 0, fmt.Sprintf("%v is beyond the integers a 64-bit float holds exactly; send it as an integer literal", n)
		}
		return int64(n), ""
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, ""
		}
		if msg := numberProblem(string(n)); msg != "" {
			return 0, msg
		}
		if !strings.ContainsAny(string(n), ".eE") {
			return 0, fmt.Sprintf("integer %s is out of range for an Avro long", n)
		}
		f, _ := n.Float64()
		if f != math.Trunc(f) {
			return 0, fmt.Sprintf("%s is not an integer (it has a fraction)", n)
		}
		return integer(f)
	}
	return 0, "expected integer, got " + kind(v)
}

// float returns the number v as a finite float64, or says why it cannot be
// one (isNumber(v) holds).
func float(v any) (float64, string) {
	switch n := v.(type) {
	case float64:
		return n, floatProblem(n)
	case float32:
		return float64(n), floatProblem(float64(n))
	case json.Number:
		if msg := numberProblem(string(n)); msg != "" {
			return 0, msg
		}
		f, _ := n.Float64()
		return f, ""
	case uint64:
		return float64(n), ""
	}
	i, msg := integer(v)
	return float64(i), msg
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case json.Number, float64, float32, int, int32, int64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}
