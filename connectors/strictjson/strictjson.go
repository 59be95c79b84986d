// Package strictjson decodes JSON from outside the bus (HTTP pushes, NDJSON
// files) into the values encoding/json gives with UseNumber — map[string]any,
// []any, string, json.Number, bool and nil — but refuses what encoding/json
// silently accepts: duplicate member names (where the last would win),
// invalid UTF-8 and lone or mis-paired surrogate escapes (which it replaces
// with U+FFFD), control characters in member names, trailing data, nesting
// deeper than a limit and overlong numbers. Every refusal is an *Error with
// the JSON path and byte offset, so a caller can answer 400 naming the place
// or dead-letter the input with it.
//
// The tokenizer is encoding/json's (json.Decoder.Token with UseNumber;
// encoding/json/jsontext still needs GOEXPERIMENT=jsonv2 in Go 1.26). What
// it hides is checked on the raw bytes of each string token: the input is
// checked with utf8.Valid once, and only when that fails, or when the input
// holds a backslash at all, are the string tokens scanned one by one.
//
// This package imports nothing of the broker, so the adapters use it too.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a refusal: where it is (a JSON path such as
// $.records[3].after.holder_cccd, and the byte offset in the input) and why.
type Error struct {
	Path   string
	Offset int64
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (byte %d): %s", e.Path, e.Offset, e.Reason)
}

// Limits bound what a document may hold; the zero value of a field takes
// the default.
type Limits struct {
	// MaxDepth is the deepest nesting of objects and arrays (default 64).
	MaxDepth int
	// MaxNumberLen is the longest number literal in bytes (default 100).
	MaxNumberLen int
}

// Default limits: far above any row of the catalog, far below what costs
// the bus anything.
const (
	DefaultMaxDepth     = 64
	DefaultMaxNumberLen = 100
)

// Decode decodes one JSON document with the default limits.
func Decode(data []byte) (any, error) { return Limits{}.Decode(data) }

// DecodeObject decodes one JSON document that must be an object.
func DecodeObject(data []byte) (map[string]any, error) { return Limits{}.DecodeObject(data) }

// DecodeObject decodes one JSON document that must be an object.
func (l Limits) DecodeObject(data []byte) (map[string]any, error) {
	v, err := l.Decode(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Path: "$", Offset: int64(len(data) - len(bytes.TrimLeft(data, " \t\r\n"))), Reason: "expected a JSON object, got " + Kind(v)}
	}
	return m, nil
}

// Decode decodes one JSON document: a single value, with nothing but white
// space after it.
func (l Limits) Decode(data []byte) (any, error) {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxNumberLen <= 0 {
		l.MaxNumberLen = DefaultMaxNumberLen
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	d := &decoder{dec: dec, data: data, limits: l,
		checkUTF8: !utf8.Valid(data), checkEscapes: bytes.IndexByte(data, '\\') >= 0}
	tok, start, err := d.next()
	if err != nil {
		return nil, err
	}
	v, err := d.value(tok, start, 0)
	if err != nil {
		return nil, err
	}
	end := d.dec.InputOffset()
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		return nil, &Error{Path: "$", Offset: int64(len(data) - len(rest)), Reason: "trailing data after the JSON value"}
	}
	return v, nil
}

type decoder struct {
	dec                     *json.Decoder
	data                    []byte
	limits                  Limits
	checkUTF8, checkEscapes bool
	path                    []step // where the decoder is; rendered only for an error
}

// step is one member name or array index of a path.
type step struct {
	name  string
	index int // -1 for a member
}

func (d *decoder) fail(offset int64, format string, args ...any) error {
	return &Error{Path: d.pathString(), Offset: offset, Reason: fmt.Sprintf(format, args...)}
}

// next reads a token and returns where its text begins (the separators and
// white space before it are part of data[start:InputOffset()]).
func (d *decoder) next() (json.Token, int64, error) {
	start := d.dec.InputOffset()
	tok, err := d.dec.Token()
	if err == nil {
		return tok, start, nil
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return nil, start, d.fail(se.Offset, "malformed JSON: %s", se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, start, d.fail(int64(len(d.data)), "malformed JSON: the input ends in the middle of a value")
	}
	return nil, start, d.fail(start, "malformed JSON: %v", err)
}

// tokenStart skips the white space and separators before a token.
func (d *decoder) tokenStart(start int64) int64 {
	for int(start) < len(d.data) {
		switch d.data[start] {
		case ' ', '\t', '\r', '\n', ',', ':':
			start++
			continue
		}
		break
	}
	return start
}

func (d *decoder) value(tok json.Token, start int64, depth int) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		if depth >= d.limits.MaxDepth {
			return nil, d.fail(d.tokenStart(start), "nested deeper than %d levels", d.limits.MaxDepth)
		}
		if t == '{' {
			return d.object(depth + 1)
		}
		return d.array(depth + 1)
	case string:
		if err := d.checkString(start); err != nil {
			return nil, err
		}
		return t, nil
	case json.Number:
		if len(t) > d.limits.MaxNumberLen {
			return nil, d.fail(d.tokenStart(start), "number is %d characters long, over the limit of %d", len(t), d.limits.MaxNumberLen)
		}
		return t, nil
	}
	return tok, nil // bool or nil
}

func (d *decoder) object(depth int) (any, error) {
	m := map[string]any{}
	d.path = append(d.path, step{index: -1})
	for {
		tok, start, err := d.next()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim('}') {
			d.path = d.path[:len(d.path)-1]
			return m, nil
		}
		key := tok.(string) // the tokenizer allows only a string here
		at := d.tokenStart(start)
		d.path[len(d.path)-1].name = key
		if err := d.checkString(start); err != nil {
			return nil, err
		}
		if i := controlChar(key); i >= 0 {
			return nil, d.fail(at, "member name holds the control character U+%04X", []rune(key[i:])[0])
		}
		if _, dup := m[key]; dup {
			return nil, d.fail(at, "duplicate member name %s", strconv.Quote(key))
		}
		tok, start, err = d.next()
		if err != nil {
			return nil, err
		}
		v, err := d.value(tok, start, depth)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
}

func (d *decoder) array(depth int) (any, error) {
	a := []any{}
	d.path = append(d.path, step{})
	for i := 0; ; i++ {
		d.path[len(d.path)-1].index = i
		tok, start, err := d.next()
		if err != nil {
			return nil, err
		}
		if tok == json.Delim(']') {
			d.path = d.path[:len(d.path)-1]
			return a, nil
		}
		v, err := d.value(tok, start, depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
}

// checkString checks the raw text of the string token that ends at the
// decoder's offset: valid UTF-8, and every \uD800–\uDFFF escape one half of
// a high-low pair. The text from start holds only separators, white space
// and the string itself, so every backslash in it begins an escape.
func (d *decoder) checkString(start int64) error {
	raw := d.data[start:d.dec.InputOffset()]
	if d.checkUTF8 && !utf8.Valid(raw) {
		i := 0
		for i < len(raw) {
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return d.fail(start+int64(i), "invalid UTF-8 (byte 0x%02X)", raw[i])
	}
	if !d.checkEscapes {
		return nil
	}
	for i := 0; i < len(raw)-1; i++ {
		if raw[i] != '\\' {
			continue
		}
		at := i
		i++ // the escaped character; skips an escaped backslash whole
		if raw[i] != 'u' || i+4 >= len(raw) {
			continue
		}
		r := hex4(raw[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return d.fail(start+int64(at), "lone low surrogate \\u%04X (not valid Unicode)", r)
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo := hex4(raw[i+3 : i+7]); lo >= 0xDC00 && lo <= 0xDFFF {
					i += 6
					continue
				}
			}
			return d.fail(start+int64(at), "high surrogate \\u%04X not followed by a low surrogate (not valid Unicode)", r)
		}
	}
	return nil
}

func hex4(b []byte) rune {
	n, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return -1 // the tokenizer accepted the escape, so this does not happen
	}
	return rune(n)
}

// IsControl reports a C0 control character, DEL or a C1 control character:
// none has a place in a member name, and in a string value only where the
// schema allows it.
func IsControl(r rune) bool { return r < 0x20 || (r >= 0x7F && r <= 0x9F) }

// controlChar returns the byte index of the first control character in s,
// or -1.
func controlChar(s string) int {
	for i, r := range s {
		if IsControl(r) {
			return i
		}
	}
	return -1
}

// pathString renders where the decoder is as a JSON path: $.a.b[2], with a
// member name that is not a plain identifier quoted ($["a b"]).
func (d *decoder) pathString() string {
	var sb strings.Builder
	sb.WriteByte('$')
	for _, s := range d.path {
		if s.index >= 0 {
			sb.WriteString("[" + strconv.Itoa(s.index) + "]")
			continue
		}
		sb.WriteString(Member(s.name))
	}
	return sb.String()
}

// Member renders one member name as a path step: ".name" for a plain
// identifier, else `["…"]` with the name quoted as in Go.
func Member(name string) string {
	plain := name != ""
	for i, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	if plain {
		return "." + name
	}
	return "[" + strconv.Quote(name) + "]"
}

// Kind names the JSON type of a decoded value, with its article ("a
// string", "an object", "null"), for error messages.
func Kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	}
	return "an object"
}
