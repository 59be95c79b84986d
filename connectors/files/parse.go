package files

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lgsp-bus/lgsp/connectors/strictjson"
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// nextRecord finds the first complete record in buf: a line ending in
// '\n', or for CSV as many lines as it takes to close every quoted field.
// It returns the record's length including its newline, or 0 when buf
// holds no complete record yet. atEOF treats the rest of buf as complete.
func nextRecord(buf []byte, isCSV, atEOF bool) int {
	quoted := false
	for i, b := range buf {
		switch {
		case isCSV && b == '"':
			quoted = !quoted
		case b == '\n' && !quoted:
			return i + 1
		}
	}
	if atEOF {
		return len(buf)
	}
	return 0
}

// trimLine drops the newline (and a carriage return) ending a record.
func trimLine(rec []byte) []byte {
	rec = bytes.TrimSuffix(rec, []byte("\n"))
	return bytes.TrimSuffix(rec, []byte("\r"))
}

// ParseNDJSONLine decodes one NDJSON line into a row, strictly (see
// connectors/strictjson: no duplicate member names, no invalid Unicode, no
// control characters in names, one value per line); the error names the
// JSON path and byte offset. Top-level numbers become int64 or float64; one
// that float64 cannot represent (1e400, 1e-400) stays a json.Number, so that
// validation refuses it with its path instead of publishing Inf or 0.
// Blank lines give a nil row.
func ParseNDJSONLine(line []byte) (map[string]any, error) {
	line = bytes.TrimSpace(trimLine(line))
	if len(line) == 0 {
		return nil, nil
	}
	row, err := strictjson.DecodeObject(line)
	if err != nil {
		return nil, fmt.Errorf("not a valid JSON object: %w", err)
	}
	for k, v := range row {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				row[k] = i
			} else if f, err := n.Float64(); err == nil && (f != 0 || !nonZeroLiteral(string(n))) {
				row[k] = f
			}
		}
	}
	return row, nil
}

// nonZeroLiteral reports a number literal with a non-zero digit before its
// exponent, which a float64 of 0 does not represent.
func nonZeroLiteral(s string) bool {
	mantissa, _, _ := strings.Cut(strings.ToLower(s), "e")
	return strings.ContainsAny(mantissa, "123456789")
}

// ParseCSVRecord splits one CSV record (as found by nextRecord) into
// fields; blank lines give nil.
func ParseCSVRecord(rec []byte, delim rune) ([]string, error) {
	if len(bytes.TrimSpace(rec)) == 0 {
		return nil, nil
	}
	r := csv.NewReader(bytes.NewReader(rec))
	r.Comma = delim
	r.FieldsPerRecord = -1
	fields, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("bad CSV record: %w", err)
	}
	return fields, nil
}

// pathError is a parse error at a JSON path of the row.
type pathError struct {
	path string
	msg  string
}

func (e *pathError) Error() string { return e.msg }

// errorPath is the JSON path a parse error points at, "$" for the line.
func errorPath(err error) string {
	var sj *strictjson.Error
	var pe *pathError
	switch {
	case errors.As(err, &sj):
		return sj.Path
	case errors.As(err, &pe):
		return pe.path
	}
	return "$"
}

// csvRow names the fields of a record by the header.
func csvRow(header, fields []string, emptyAsNull bool) (map[string]any, error) {
	if len(fields) != len(header) {
		return nil, fmt.Errorf("%d fields, the header has %d", len(fields), len(header))
	}
	row := make(map[string]any, len(header))
	for i, h := range header {
		if !utf8.ValidString(fields[i]) {
			return nil, &pathError{path: "$." + h, msg: fmt.Sprintf("column %s: not valid UTF-8 (check the file's encoding; the bus takes UTF-8 only)", strconv.Quote(h))}
		}
		if fields[i] == "" && emptyAsNull {
			row[h] = nil
			continue
		}
		row[h] = fields[i]
	}
	return row, nil
}

// convert applies the configured column types; a value that does not
// convert is left as it is, so the schema check reports it with the row.
func convert(row map[string]any, types map[string]string) {
	for col, typ := range types {
		s, ok := row[col].(string)
		if !ok {
			continue
		}
		s = strings.TrimSpace(s)
		switch typ {
		case "integer":
			if n, err := strconv.ParseInt(s, 10, 64); err == nil {
				row[col] = n
			}
		case "number":
			s = strings.Replace(s, ",", ".", 1)
			f, err := strconv.ParseFloat(s, 64)
			switch {
			case err == nil && (f != 0 || !nonZeroLiteral(s)):
				row[col] = f
			case json.Valid([]byte(s)) && strings.Trim(s, "+-.0123456789eE") == "":
				// Out of float64's range either way: validation refuses it
				// with its path instead of publishing Inf or 0.
				row[col] = json.Number(s)
			}
		case "boolean":
			if b, err := strconv.ParseBool(s); err == nil {
				row[col] = b
			}
		}
	}
}
