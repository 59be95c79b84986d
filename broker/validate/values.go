package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/connectors/strictjson"
)

// checkValues walks a JSON row (the shapes of encoding/json with UseNumber,
// plus Go numbers from adapters) and reports every number that cannot be
// represented and every string that is not clean text, in path order.
func checkValues(v any, allow *allowTree, path string, vs []Violation) []Violation {
	if valuesClean(v, allow) { // the common case, without building a path per value
		return vs
	}
	vs = walkValues(v, allow, path, vs)
	if len(vs) > 1 { // maps are walked in random order; the first violation names the dead letter
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].Path < vs[j].Path })
	}
	return vs
}

// valuesClean reports whether walkValues would find nothing.
func valuesClean(v any, allow *allowTree) bool {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !valuesClean(e, allow.prop(k)) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !valuesClean(e, allow.item()) {
				return false
			}
		}
	case string:
		return stringProblem(x, allow.allowed()) == ""
	case json.Number:
		return numberProblem(string(x)) == ""
	case float64:
		return floatProblem(x) == ""
	case float32:
		return floatProblem(float64(x)) == ""
	}
	return true
}

func walkValues(v any, allow *allowTree, path string, vs []Violation) []Violation {
	msg := ""
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			vs = walkValues(e, allow.prop(k), path+strictjson.Member(k), vs)
		}
		return vs
	case []any:
		for i, e := range x {
			vs = walkValues(e, allow.item(), path+"["+strconv.Itoa(i)+"]", vs)
		}
		return vs
	case string:
		msg = stringProblem(x, allow.allowed())
	case json.Number:
		msg = numberProblem(string(x))
	case float64:
		msg = floatProblem(x)
	case float32:
		msg = floatProblem(float64(x))
	}
	if msg != "" {
		vs = append(vs, Violation{Path: path, Message: msg, Kind: KindMalformed})
	}
	return vs
}

// numberProblem says why a JSON number literal cannot be represented as a
// 64-bit float, the widest number of the bus's schemas: it is not a JSON
// number, it overflows to ±Inf, or it is non-zero and underflows to 0
// (1e-400 would pass exclusiveMinimum 0 and then be read as 0).
func numberProblem(s string) string {
	if !validNumber(s) {
		return fmt.Sprintf("%s is not a JSON number", short(s))
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Sprintf("number %s is out of range: it cannot be represented (it would become infinite)", short(s))
	}
	if f == 0 && nonZeroMantissa(s) {
		return fmt.Sprintf("number %s is too small to be represented (it would become 0)", short(s))
	}
	return ""
}

func floatProblem(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprintf("number %v is not finite", f)
	}
	return ""
}

// validNumber reports whether s is a number literal by the JSON grammar.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// nonZeroMantissa reports a non-zero digit before the exponent.
func nonZeroMantissa(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 'e' || c == 'E':
			return false
		case c >= '1' && c <= '9':
			return true
		}
	}
	return false
}

func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// stringProblem says why s is not clean text: invalid UTF-8, or a control
// character (C0, DEL, C1); allow admits tab, line feed and carriage return.
func stringProblem(s string, allow bool) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		var r rune = -1
		switch {
		case c < 0x20 || c == 0x7F:
			r = rune(c)
		case c == 0xC2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9F: // U+0080–U+009F
			r = rune(s[i+1])
		}
		if r < 0 || allow && (r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		if allow {
			return fmt.Sprintf("string holds the control character U+%04X at byte %d; this field allows only tab, line feed and carriage return", r, i)
		}
		return fmt.Sprintf("string holds the control character U+%04X at byte %d; the schema does not allow control characters in this field", r, i)
	}
	if !utf8.ValidString(s) {
		return "string is not valid UTF-8"
	}
	return ""
}

// allowTree marks the parts of a JSON Schema annotated with
// AllowControlChars; nil: none below.
type allowTree struct {
	all   bool // this value and everything in it
	props map[string]*allowTree
	items *allowTree
	extra *allowTree // additionalProperties
}

func (t *allowTree) allowed() bool { return t != nil && t.all }

func (t *allowTree) prop(k string) *allowTree {
	if t == nil || t.all {
		return t
	}
	if c, ok := t.props[k]; ok {
		return c
	}
	return t.extra
}

func (t *allowTree) item() *allowTree {
	if t == nil || t.all {
		return t
	}
	return t.items
}

// jsonAllowTree reads the AllowControlChars annotations of a JSON Schema:
// on a schema, in its properties, items and additionalProperties. A
// non-boolean annotation is an error, so a typo stops the start.
func jsonAllowTree(schema any, path string) (*allowTree, error) {
	m, ok := schema.(map[string]any)
	if !ok {
		return nil, nil
	}
	if a, ok := m[AllowControlChars]; ok {
		b, isBool := a.(bool)
		if !isBool {
			return nil, fmt.Errorf("validate: JSON Schema at %s: %s must be true or false, got %v", path, AllowControlChars, a)
		}
		if b {
			return &allowTree{all: true}, nil
		}
	}
	var t allowTree
	found := false
	if props, ok := m["properties"].(map[string]any); ok {
		for name, sub := range props {
			c, err := jsonAllowTree(sub, path+strictjson.Member(name))
			if err != nil {
				return nil, err
			}
			if c != nil {
				if t.props == nil {
					t.props = map[string]*allowTree{}
				}
				t.props[name], found = c, true
			}
		}
	}
	var err error
	if t.items, err = jsonAllowTree(m["items"], path+"[]"); err != nil {
		return nil, err
	}
	if t.extra, err = jsonAllowTree(m["additionalProperties"], path+".*"); err != nil {
		return nil, err
	}
	if !found && t.items == nil && t.extra == nil {
		return nil, nil
	}
	return &t, nil
}

// checkAvroAnnotations refuses a non-boolean AllowControlChars on a field.
func checkAvroAnnotations(s avro.Schema, path string) error {
	switch x := s.(type) {
	case *avro.RecordSchema:
		for _, f := range x.Fields() {
			p := path + "." + f.Name()
			if a := f.Prop(AllowControlChars); a != nil {
				if _, ok := a.(bool); !ok {
					return fmt.Errorf("validate: Avro field %s: %s must be true or false, got %v", p, AllowControlChars, a)
				}
			}
			if err := checkAvroAnnotations(f.Type(), p); err != nil {
				return err
			}
		}
	case *avro.UnionSchema:
		for _, t := range x.Types() {
			if err := checkAvroAnnotations(t, path); err != nil {
				return err
			}
		}
	case *avro.ArraySchema:
		return checkAvroAnnotations(x.Items(), path+"[]")
	case *avro.MapSchema:
		return checkAvroAnnotations(x.Values(), path+".*")
	}
	return nil // a RefSchema names a type already checked where it is defined
}
