package envelope

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendRow appends json.Marshal(row)'s bytes to dst without reflection,
// for the flat rows connectors hand over (strings, float64, int, int64,
// json.Number, bool, null). It reports false, having appended nothing,
// for anything whose encoding it does not reproduce byte for byte (nested
// values, other types, strings needing escapes, floats json.Marshal writes
// with an exponent); the caller then uses json.Marshal. The consumers'
// bytes are thus exactly json.Marshal's (FuzzAppendRowMatchesMarshal).
func AppendRow(dst []byte, row map[string]any) ([]byte, bool) {
	if row == nil {
		return dst, false // json.Marshal writes null
	}
	var keyBuf [24]string
	keys := keyBuf[:0]
	for k := range row {
		keys = append(keys, k)
	}
	slices.Sort(keys) // json.Marshal's order: byte-wise by key
	out, _, ok := appendMembers(dst, row, keys)
	return out, ok
}

// AppendRowKeys is AppendRow for a row whose keys are all among keys,
// which must be sorted (a dataset's schema properties): it walks keys
// instead of sorting the row's. A row with a key not in keys is encoded
// by AppendRow.
func AppendRowKeys(dst []byte, row map[string]any, keys []string) ([]byte, bool) {
	if row == nil {
		return dst, false
	}
	out, n, ok := appendMembers(dst, row, keys)
	if ok && n != len(row) {
		return AppendRow(dst, row)
	}
	return out, ok
}

// appendMembers appends row as an object whose members are those of keys
// present in row, in that order; n is how many it wrote. On false it
// has appended nothing.
func appendMembers(dst []byte, row map[string]any, keys []string) (out []byte, n int, ok bool) {
	start := len(dst)
	dst = append(dst, '{')
	for _, k := range keys {
		v, present := row[k]
		if !present {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if dst, ok = AppendString(dst, k); !ok {
			return dst[:start], 0, false
		}
		dst = append(dst, ':')
		if dst, ok = appendValue(dst, v); !ok {
			return dst[:start], 0, false
		}
	}
	return append(dst, '}'), n, true
}

func appendValue(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), true
	case string:
		return AppendString(dst, x)
	case bool:
		return strconv.AppendBool(dst, x), true
	case float64:
		// json.Marshal writes 'f' form in this range and an exponent
		// (with its own clean-up) outside it; NaN and ±Inf are errors.
		if a := math.Abs(x); a != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(x) || math.IsInf(x, 0) {
			return dst, false
		}
		return strconv.AppendFloat(dst, x, 'f', -1, 64), true
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case json.Number:
		// json.Marshal writes a valid number literal as it is.
		if x == "" || !(x[0] == '-' || x[0] >= '0' && x[0] <= '9') || !json.Valid([]byte(x)) {
			return dst, false
		}
		return append(dst, x...), true
	}
	return dst, false
}

// AppendString appends s as json.Marshal quotes it, when that is s
// between quotes: valid UTF-8 with no byte json.Marshal escapes (control
// characters, '"', '\\', '<', '>', '&', U+2028, U+2029). Otherwise it
// reports false and appends nothing.
func AppendString(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return dst, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return dst, false
		}
		i += size
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), true
}
