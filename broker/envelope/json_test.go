package envelope

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"testing"
)

// AppendRow and AppendString write json.Marshal's bytes or nothing.
func TestAppendRowIsMarshal(t *testing.T) {
	tests := []struct {
		row  map[string]any
		fast bool // whether AppendRow encodes it itself
	}{
		{map[string]any{}, true},
		{map[string]any{"b": "Nguyễn Văn An", "a": 120.5, "c": nil, "d": true, "e": int64(-7), "f": 3, "g": json.Number("1.5e3")}, true},
		{map[string]any{"area": 1e20, "tiny": 1e-6, "zero": 0.0, "neg0": math.Copysign(0, -1)}, true},
		{map[string]any{"area": 1e21}, false},
		{map[string]any{"tiny": 9.9e-7}, false},
		{map[string]any{"s": "a<b"}, false},
		{map[string]any{"s": "tab\there"}, false},
		{map[string]any{"s": "quote\""}, false},
		{map[string]any{"s": "line\u2028sep"}, false},
		{map[string]any{"s": "bad\xffutf8"}, false},
		{map[string]any{"s": "del\x7f"}, true},
		{map[string]any{"k<": "v"}, false},
		{map[string]any{"n": json.Number("")}, false},
		{map[string]any{"n": json.Number("01")}, false},
		{map[string]any{"m": map[string]any{"x": 1}}, false},
		{map[string]any{"l": []any{1}}, false},
		{map[string]any{"u": uint8(1)}, false},
		{nil, false},
	}
	for _, tt := range tests {
		got, ok := AppendRow([]byte("prefix"), tt.row)
		if ok != tt.fast {
			t.Errorf("%v: encoded itself %v, want %v", tt.row, ok, tt.fast)
		}
		if !ok {
			if string(got) != "prefix" {
				t.Errorf("%v: refused but appended %q", tt.row, got)
			}
			continue
		}
		want, err := json.Marshal(tt.row)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Errorf("%v: %s, json.Marshal %s", tt.row, got[len("prefix"):], want)
		}
	}
}

// FuzzAppendRowMatchesMarshal: whatever flat row a fuzzed JSON object
// decodes to (numbers as float64 or json.Number, plus the fuzzed string
// and float as values of their own), AppendRow writes json.Marshal's bytes
// or declines.
func FuzzAppendRowMatchesMarshal(f *testing.F) {
	f.Add([]byte(`{"a":"Nguyễn","b":1.5,"c":null,"d":true}`), "x<y", 1e21, true)
	f.Add([]byte(`{"area_m2":120.5,"holder_name":"Lê Thị Hồng","n":-0}`), "\u2028", 1e-7, false)
	f.Fuzz(func(t *testing.T, doc []byte, s string, x float64, useNumber bool) {
		dec := json.NewDecoder(bytes.NewReader(doc))
		if useNumber {
			dec.UseNumber()
		}
		var row map[string]any
		if err := dec.Decode(&row); err != nil || row == nil {
			row = map[string]any{}
		}
		row[s] = s
		row["x"] = x
		got, ok := AppendRow(nil, row)
		want, err := json.Marshal(row)
		// With the row's keys but s (so s, when not among them, sends it
		// to AppendRow), as a dataset's properties.
		var keys []string
		for k := range row {
			if k != s {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		if got2, ok2 := AppendRowKeys(nil, row, keys); ok2 != ok || !bytes.Equal(got2, got) {
			t.Fatalf("AppendRowKeys %q (%v), AppendRow %q (%v)", got2, ok2, got, ok)
		}
		if !ok {
			if len(got) != 0 {
				t.Fatalf("declined but wrote %q", got)
			}
			return
		}
		if err != nil {
			t.Fatalf("encoded %q where json.Marshal fails: %v", got, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendRow %s\njson.Marshal %s", got, want)
		}
	})
}
