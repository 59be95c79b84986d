package policies

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// scope is what one grant or decision releases: a compiled agreement and the
// fields (a subset of the agreement's, sorted).
type scope struct {
	c      *compiled
	fields []string
}

func (s scope) project(row map[string]any) (map[string]any, []string, bool) {
	if s.c == nil {
		// Not made by the engine: deny by default.
		return nil, nil, false
	}
	for _, cond := range s.c.filter {
		if !cond.holds(row) {
			return nil, nil, false
		}
	}
	out := make(map[string]any, len(s.fields))
	released := make([]string, 0, len(s.fields))
	for _, f := range s.fields {
		if !s.c.allowed[f] {
			// scope fields come from the agreement; checking again costs a
			// map lookup and keeps this loop safe on its own.
			continue
		}
		v, present := row[f]
		if !present {
			continue
		}
		if kind, masked := s.c.mask[f]; masked {
			out[f] = applyMask(kind, v)
		} else {
			out[f] = deepCopy(v)
		}
		released = append(released, f)
	}
	return out, released, true
}

// holds reports whether the row's field equals one of the condition's values.
// A missing field never matches: a row that cannot be shown to be for this
// consumer is not released.
func (c condition) holds(row map[string]any) bool {
	v, present := row[c.field]
	if !present {
		return false
	}
	for _, want := range c.values {
		if sameScalar(v, want) {
			return true
		}
	}
	return false
}

// sameScalar compares a row value with a filter value by type: numbers by
// value whatever their Go type (JSON gives float64, Avro int32/int64),
// strings and booleans exactly, and nothing else.
func sameScalar(v, want any) bool {
	if a, ok := asNumber(v); ok {
		b, ok := asNumber(want)
		return ok && a == b
	}
	switch v := v.(type) {
	case string:
		w, ok := want.(string)
		return ok && v == w
	case bool:
		w, ok := want.(bool)
		return ok && v == w
	}
	return false
}

func asNumber(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), !math.IsNaN(float64(n))
	case float64:
		return n, !math.IsNaN(n)
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// applyMask blurs one value. Whatever it cannot blur meaningfully it withholds
// (nil) rather than pass through in clear.
func applyMask(kind MaskKind, v any) any {
	if v == nil {
		return nil
	}
	switch kind {
	case MaskLast4:
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		default:
			if _, ok := asNumber(v); !ok {
				return nil
			}
			s = fmt.Sprint(v)
		}
		return last4(s)
	case MaskYearOnly:
		switch x := v.(type) {
		case string:
			return yearOnly(x)
		case time.Time:
			return x.Format("2006")
		}
		return nil
	case MaskInitials:
		if s, ok := v.(string); ok {
			return initials(s)
		}
		return nil
	}
	// An unknown mask cannot be compiled; withhold if one ever slips through.
	return nil
}

func last4(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= 4 {
		return strings.Repeat("*", n)
	}
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i < n-4 {
			b.WriteByte('*')
		} else {
			b.WriteRune(r)
		}
		i++
	}
	return b.String()
}

// yearOnly keeps YYYY of a value that starts with a YYYY-MM-DD date (a date or
// a timestamp); anything else is withheld.
func yearOnly(s string) any {
	if len(s) < 10 {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, s[:10]); err != nil {
		return nil
	}
	return s[:4]
}

func initials(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		r, _ := utf8.DecodeRuneInString(w)
		words[i] = string(r) + "."
	}
	return strings.Join(words, " ")
}

// deepCopy copies maps and slices so that a consumer changing what it received
// cannot change the row the bus still holds.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	case []byte:
		return append([]byte(nil), x...)
	}
	return v
}
