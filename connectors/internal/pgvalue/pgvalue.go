// Package pgvalue turns PostgreSQL text-format values into the plain Go
// values of a dataset row: dates stay "YYYY-MM-DD", timestamps become
// RFC 3339 strings, numbers become int64 or float64, json becomes maps.
// The PostgreSQL adapters share it so that a snapshot row, a streamed
// change and a polled row of one table look the same.
package pgvalue

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// Type OIDs of the built-in types decoded specially.
const (
	Bool        = 16
	Int8        = 20
	Int2        = 21
	Int4        = 23
	JSON        = 114
	Float4      = 700
	Float8      = 701
	Date        = 1082
	Timestamp   = 1114
	Timestamptz = 1184
	Numeric     = 1700
	JSONB       = 3802
)

// RuntimeParams are the session settings the decoding assumes; connections
// of the adapters set them at startup.
var RuntimeParams = map[string]string{"DateStyle": "ISO, YMD", "TimeZone": "UTC", "IntervalStyle": "iso_8601", "extra_float_digits": "1"}

// Decode converts one value in text format; nil stays nil.
func Decode(oid uint32, text []byte) any {
	if text == nil {
		return nil
	}
	s := string(text)
	switch oid {
	case Bool:
		return s == "t" || s == "true"
	case Int2, Int4, Int8:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	case Float4, Float8, Numeric:
		// NaN and ±Infinity stay text: JSON has no such numbers.
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f
		}
	case Timestamptz:
		for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999-07:00:00"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
	case Timestamp:
		return strings.Replace(s, " ", "T", 1)
	case JSON, JSONB:
		var v any
		if err := json.Unmarshal(text, &v); err == nil {
			return v
		}
	}
	return s
}
