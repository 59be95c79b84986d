package validate

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xeipuuv/gojsonschema"
)

// The fast form of a JSON Schema: a compiled walk over a row's Go values
// that answers valid, invalid or "not sure" with exactly gojsonschema's
// rules for the keywords the bus's schemas use (type, properties,
// required, additionalProperties: false, enum of strings and null,
// minLength, maxLength, pattern, format, minimum, maximum,
// exclusiveMinimum, exclusiveMaximum, and annotations). A schema using any
// other keyword gets no fast form. Only a "valid" answer is ever trusted:
// on anything else gojsonschema runs and produces the violations, so
// messages and paths are gojsonschema's. FuzzFastValidatorAgrees holds the
// two to the same verdict.

type verdict uint8

const (
	unsure verdict = iota
	valid
	invalid
)

// JSON Schema types as a bit set.
const (
	tString uint8 = 1 << iota
	tNumber
	tInteger
	tBoolean
	tNull
	tObject
	tArray
)

var typeBits = map[string]uint8{"string": tString, "number": tNumber, "integer": tInteger, "boolean": tBoolean,
	"null": tNull, "object": tObject, "array": tArray}

// bound is a numeric limit: the schema's decimal exactly (as gojsonschema
// compares) and its nearest float64 (for the quick comparison).
type bound struct {
	f float64
	r *big.Rat
}

type fastNode struct {
	types            uint8 // 0: untyped
	enum             map[string]bool
	enumNull         bool
	hasEnum          bool
	minLen, maxLen   int // -1: none
	pattern          *regexp.Regexp
	format           string
	min, max         *bound
	exMin, exMax     *bound
	props            map[string]*fastNode
	required         []string
	noAdditional     bool
	hasObjectKeyword bool
}

// annotations are keywords that do not take part in validation.
var annotations = map[string]bool{"$schema": true, "title": true, "description": true, "$comment": true,
	"default": true, "examples": true, "readOnly": true, "writeOnly": true}

// compileFast returns the fast form of a schema document (decoded with
// UseNumber), or nil when it uses a keyword the fast form does not cover.
func compileFast(schemaText string) *fastNode {
	dec := json.NewDecoder(bytes.NewReader([]byte(schemaText)))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil
	}
	n, ok := compileNode(doc)
	if !ok {
		return nil
	}
	return n
}

func compileNode(doc any) (*fastNode, bool) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, false // boolean schemas: not covered
	}
	n := &fastNode{minLen: -1, maxLen: -1}
	for k, v := range m {
		switch {
		case annotations[k] || strings.HasPrefix(k, "x-"):
		case k == "type":
			switch t := v.(type) {
			case string:
				if typeBits[t] == 0 {
					return nil, false
				}
				n.types = typeBits[t]
			case []any:
				for _, e := range t {
					s, _ := e.(string)
					if typeBits[s] == 0 {
						return nil, false
					}
					n.types |= typeBits[s]
				}
			default:
				return nil, false
			}
		case k == "enum":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, false
			}
			n.hasEnum, n.enum = true, map[string]bool{}
			for _, e := range list {
				switch s := e.(type) {
				case nil:
					n.enumNull = true
				case string:
					n.enum[s] = true
				default:
					return nil, false
				}
			}
		case k == "minLength" || k == "maxLength":
			num, ok := v.(json.Number)
			if !ok {
				return nil, false
			}
			i, err := num.Int64()
			if err != nil || i < 0 || i > math.MaxInt32 {
				return nil, false
			}
			if k == "minLength" {
				n.minLen = int(i)
			} else {
				n.maxLen = int(i)
			}
		case k == "pattern":
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			re, err := regexp.Compile(s) // as gojsonschema compiles it
			if err != nil {
				return nil, false
			}
			n.pattern = re
		case k == "format":
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			n.format = s
		case k == "minimum" || k == "maximum" || k == "exclusiveMinimum" || k == "exclusiveMaximum":
			num, ok := v.(json.Number) // a draft-04 boolean exclusive… is not covered
			if !ok {
				return nil, false
			}
			r, ok := new(big.Rat).SetString(string(num))
			if !ok {
				return nil, false
			}
			f, _ := r.Float64()
			b := &bound{f: f, r: r}
			switch k {
			case "minimum":
				n.min = b
			case "maximum":
				n.max = b
			case "exclusiveMinimum":
				n.exMin = b
			case "exclusiveMaximum":
				n.exMax = b
			}
		case k == "properties":
			ps, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			n.props = make(map[string]*fastNode, len(ps))
			for name, sub := range ps {
				c, ok := compileNode(sub)
				if !ok {
					return nil, false
				}
				n.props[name] = c
			}
			n.hasObjectKeyword = true
		case k == "required":
			list, ok := v.([]any)
			if !ok {
				return nil, false
			}
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return nil, false
				}
				n.required = append(n.required, s)
			}
			n.hasObjectKeyword = true
		case k == "additionalProperties":
			switch v {
			case false:
				n.noAdditional = true
			case true:
			default:
				return nil, false // a schema for additional properties: not covered
			}
			n.hasObjectKeyword = true
		default:
			return nil, false
		}
	}
	return n, true
}

// check is the fast verdict on v.
func (n *fastNode) check(v any) verdict {
	if v == nil {
		if n.types != 0 && n.types&tNull == 0 {
			return invalid
		}
		if n.hasEnum && !n.enumNull {
			return invalid
		}
		return valid
	}
	switch x := v.(type) {
	case string:
		if n.types != 0 && n.types&tString == 0 {
			return invalid
		}
		return n.checkString(x)
	case bool:
		if n.types != 0 && n.types&tBoolean == 0 {
			return invalid
		}
		if n.hasEnum { // an enum of strings and null never holds a boolean
			return invalid
		}
		return valid
	case float64:
		return n.checkNumber(x, func() string { return strconv.FormatFloat(x, 'g', -1, 64) })
	case int:
		return n.checkNumber(float64(x), func() string { return strconv.Itoa(x) })
	case int64:
		return n.checkNumber(float64(x), func() string { return strconv.FormatInt(x, 10) })
	case json.Number:
		return n.checkJSONNumber(x)
	case map[string]any:
		if n.types != 0 && n.types&tObject == 0 {
			return invalid
		}
		return n.checkObject(x)
	case []any:
		if n.types != 0 && n.types&tArray == 0 {
			return invalid
		}
		return unsure
	}
	return unsure // any other Go type: gojsonschema decides
}

func (n *fastNode) checkString(s string) verdict {
	if n.hasEnum {
		// gojsonschema compares JSON encodings, which for valid UTF-8 is
		// comparing the strings.
		if !utf8.ValidString(s) {
			return unsure
		}
		if !n.enum[s] {
			return invalid
		}
	}
	if n.minLen >= 0 || n.maxLen >= 0 {
		c := utf8.RuneCountInString(s)
		if n.minLen >= 0 && c < n.minLen || n.maxLen >= 0 && c > n.maxLen {
			return invalid
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		return invalid
	}
	if n.format != "" && !gojsonschema.FormatCheckers.IsFormat(n.format, s) {
		return invalid
	}
	return valid
}

// checkNumber decides a float64 or Go integer f whose JSON form (as
// toJSONValue writes it, which gojsonschema reads exactly) is exact().
// Rounding to the nearest float64 is monotone, so a float strictly on one
// side of a bound's float is on that side of the bound's decimal too; only
// a tie needs the exact comparison.
func (n *fastNode) checkNumber(f float64, exact func() string) verdict {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return unsure
	}
	if n.hasEnum {
		return invalid // an enum of strings and null never holds a number
	}
	if n.types != 0 && n.types&tNumber == 0 {
		if n.types&tInteger == 0 {
			return invalid
		}
		var isInt bool
		if math.Abs(f) < 1<<53 {
			isInt = f == math.Trunc(f)
		} else {
			r, ok := new(big.Rat).SetString(exact())
			if !ok {
				return unsure
			}
			isInt = r.IsInt()
		}
		if !isInt {
			return invalid
		}
	}
	if n.format != "" {
		return unsure
	}
	var r *big.Rat // the exact value, computed on a tie only
	cmp := func(b *bound) (int, bool) {
		switch {
		case f < b.f:
			return -1, true
		case f > b.f:
			return 1, true
		}
		if r == nil {
			var ok bool
			if r, ok = new(big.Rat).SetString(exact()); !ok {
				return 0, false
			}
		}
		return r.Cmp(b.r), true
	}
	return n.checkBounds(cmp)
}

func (n *fastNode) checkJSONNumber(num json.Number) verdict {
	if n.hasEnum {
		return invalid
	}
	r, ok := new(big.Rat).SetString(string(num))
	if !ok || !validNumber(string(num)) {
		return unsure
	}
	if n.types != 0 && n.types&tNumber == 0 && (n.types&tInteger == 0 || !r.IsInt()) {
		return invalid
	}
	if n.format != "" {
		return unsure
	}
	return n.checkBounds(func(b *bound) (int, bool) { return r.Cmp(b.r), true })
}

func (n *fastNode) checkBounds(cmp func(*bound) (int, bool)) verdict {
	for _, c := range []struct {
		b  *bound
		ok func(int) bool
	}{
		{n.max, func(c int) bool { return c <= 0 }},
		{n.exMax, func(c int) bool { return c < 0 }},
		{n.min, func(c int) bool { return c >= 0 }},
		{n.exMin, func(c int) bool { return c > 0 }},
	} {
		if c.b == nil {
			continue
		}
		r, ok := cmp(c.b)
		if !ok {
			return unsure
		}
		if !c.ok(r) {
			return invalid
		}
	}
	return valid
}

func (n *fastNode) checkObject(m map[string]any) verdict {
	if n.hasEnum {
		return invalid
	}
	for _, k := range n.required {
		if _, ok := m[k]; !ok {
			return invalid
		}
	}
	out := valid
	for k, v := range m {
		sub, ok := n.props[k]
		if !ok {
			if n.noAdditional {
				return invalid
			}
			continue
		}
		switch sub.check(v) {
		case invalid:
			return invalid
		case unsure:
			out = unsure // an invalid property later still decides
		}
	}
	return out
}
