package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRejects(t *testing.T) {
	// Offsets of syntax errors are encoding/json's; the others point at the
	// member name, the string, the escape or the byte at fault.
	tests := []struct {
		name, in string
		path     string
		offset   int64
		reason   string
	}{
		{"duplicate member", `{"records":[{"after":{"holder_cccd":"001090012345","holder_cccd":"079090012345"}}]}`,
			`$.records[0].after.holder_cccd`, 51, "duplicate member name"},
		{"duplicate by escape", `{"a":1,"\u0061":2}`, `$.a`, 7, "duplicate member name"},
		{"invalid UTF-8 in a value", "{\"name\":\"Nguy\xe1n\"}", `$.name`, 13, "invalid UTF-8"},
		{"invalid UTF-8 in a name", "{\"n\xffame\":1}", "$[\"n\uFFFDame\"]", 3, "invalid UTF-8"},
		{"lone high surrogate", `{"a":["x","\ud800"]}`, `$.a[1]`, 11, "high surrogate"},
		{"lone low surrogate", `{"a":"\udc00"}`, `$.a`, 6, "lone low surrogate"},
		{"high then not low", `{"a":"\ud800\u0041"}`, `$.a`, 6, "high surrogate"},
		{"high at the end", `{"a":"x\uDBFF"}`, `$.a`, 7, "high surrogate"},
		{"NUL in a name", `{"after\u0000":{}}`, `$["after\x00"]`, 1, "control character U+0000"},
		{"ESC in a name", `{"a":{"b\u001b[31m":1}}`, `$.a["b\x1b[31m"]`, 6, "control character U+001B"},
		{"CR in a name", `{"a\r":1}`, `$["a\r"]`, 1, "control character U+000D"},
		{"C1 in a name", "{\"a\u0085\":1}", `$["a\u0085"]`, 1, "control character U+0085"},
		{"DEL in a name", "{\"a\x7f\":1}", `$["a\x7f"]`, 1, "control character U+007F"},
		{"trailing value", `{"a":1} {"b":2}`, `$`, 8, "trailing data"},
		{"trailing garbage", `{"a":1}x`, `$`, 7, "trailing data"},
		{"too deep", strings.Repeat("[", 65) + strings.Repeat("]", 65), `$` + strings.Repeat("[0]", 64), 64, "deeper than 64"},
		{"long number", `{"n":1` + strings.Repeat("0", 100) + `}`, `$.n`, 5, "over the limit of 100"},
		{"truncated", `{"records": [`, `$.records[0]`, 13, "ends in the middle"},
		{"syntax", `{"a":tru}`, `$.a`, 7, "malformed JSON"},
		{"raw control character in a string", "{\"a\":\"x\ty\"}", `$.a`, 6, "malformed JSON"},
		{"empty", ``, `$`, 0, "ends in the middle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Decode([]byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("accepted as %#v (err %v)", v, err)
			}
			if e.Path != tt.path || e.Offset != tt.offset || !strings.Contains(e.Reason, tt.reason) {
				t.Fatalf("got path %q offset %d reason %q; want %q, %d, containing %q", e.Path, e.Offset, e.Reason, tt.path, tt.offset, tt.reason)
			}
		})
	}
}

// Valid input decodes exactly as encoding/json with UseNumber decodes it.
func TestAcceptsLikeEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"certificate_no":"CS012345","area_m2":120.5,"holder_name":"Nguyễn Văn An","n":null,"ok":true,"list":[],"obj":{}}`,
		`{"a":"\ud83d\ude00 \u00e9 \\ud800 \"q\" \ufffd", "b":[1,-2.5e3,[{"c":[]}]]}`,
		"  [1, \"x\", false]  \n",
		`"just a string"`,
		`12345678901234567890`,
		`{"tab":"a\tb\r\nc\u0000"}`, // control characters in values are validate's business
		strings.Repeat("[", 64) + strings.Repeat("]", 64),
	} {
		got, err := Decode([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		want := stdDecode(t, []byte(in))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %#v, encoding/json %#v", in, got, want)
		}
	}
}

func TestDecodeObject(t *testing.T) {
	if _, err := DecodeObject([]byte(` [1]`)); err == nil || err.(*Error).Reason != "expected a JSON object, got an array" || err.(*Error).Offset != 1 {
		t.Fatalf("array accepted as an object: %v", err)
	}
	m, err := DecodeObject([]byte(`{"a":1}`))
	if err != nil || m["a"] != json.Number("1") {
		t.Fatalf("%v %v", m, err)
	}
}

func TestLimits(t *testing.T) {
	l := Limits{MaxDepth: 2, MaxNumberLen: 3}
	if _, err := l.Decode([]byte(`[[1]]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Decode([]byte(`[[[1]]]`)); err == nil {
		t.Fatal("depth 3 accepted under a limit of 2")
	}
	if _, err := l.Decode([]byte(`1234`)); err == nil {
		t.Fatal("4-digit number accepted under a limit of 3")
	}
}

func stdDecode(t testing.TB, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("encoding/json refuses what strictjson accepted: %q: %v", data, err)
	}
	return v
}

// FuzzStrictDecode: whatever strictjson accepts, encoding/json accepts and
// decodes to a deeply equal value; whatever it refuses comes with a path and
// an offset inside the input.
func FuzzStrictDecode(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `[1e5000000,1e-400]`, `{"AFTER":{},"after":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Path == "" || e.Path[0] != '$' || e.Offset < 0 || e.Offset > int64(len(data)) || e.Reason == "" {
				t.Fatalf("refusal without path, offset or reason: %#v", err)
			}
			return
		}
		if want := stdDecode(t, data); !reflect.DeepEqual(v, want) {
			t.Fatalf("%q: got %#v, encoding/json %#v", data, v, want)
		}
	})
}

// BenchmarkDecode compares a typical 1 KB push record with the decoding the
// push path used before (encoding/json with UseNumber into a map).
func BenchmarkDecode(b *testing.B) {
	rec := []byte(`{"records":[{"dataset":"land.land_use_right","op":"c","after":{"certificate_no":"CS012345","parcel_id":"12/34",` +
		`"province_code":"001","address":"Số 12 ngõ 34 phố Hàng Bạc, phường Hàng Đào, quận Hoàn Kiếm, thành phố Hà Nội","area_m2":120.5,` +
		`"land_use_purpose":"ODT","holder_cccd":"001090012345","holder_name":"Nguyễn Văn An","holder_dob":"1990-01-02","issued_on":"2020-05-06"},` +
		`"before":{"certificate_no":"CS012345","parcel_id":"12/34","province_code":"001","address":"Số 12 ngõ 34 phố Hàng Bạc, phường Hàng Đào, quận Hoàn Kiếm, thành phố Hà Nội",` +
		`"area_m2":118.25,"land_use_purpose":"ONT","holder_cccd":"001090012345","holder_name":"Nguyễn Văn An","holder_dob":"1990-01-02","issued_on":"2019-04-05"}}]}`)
	b.Logf("record is %d bytes", len(rec))
	b.Run("strictjson", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(rec)))
		b.ReportAllocs()
		for b.Loop() {
			dec := json.NewDecoder(bytes.NewReader(rec))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
