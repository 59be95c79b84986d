package files

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Lenient JSON on a line is an error naming the JSON path; numbers float64
// cannot represent stay json.Number for validation to refuse.
func TestParseNDJSONLineStrict(t *testing.T) {
	for _, c := range []struct {
		in, want string // want: in the error
	}{
		{`{"holder_cccd":"001090012345","holder_cccd":"079090012345"}`, `$.holder_cccd (byte 30): duplicate member name`},
		{"{\"ho_ten\":\"Nguy\xe1n\"}", `$.ho_ten (byte 15): invalid UTF-8`},
		{`{"ho_ten":"\ud800"}`, `$.ho_ten (byte 11): high surrogate`},
		{`{"a\u0000":1}`, `control character U+0000`},
		{`{"a":{"b":[1,{"c":1,"c":2}]}}`, `$.a.b[1].c`},
		{`{"a":1} {"b":2}`, `trailing data`},
		{`null`, `expected a JSON object, got null`},
	} {
		_, err := ParseNDJSONLine([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseNDJSONLine(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
	row, err := ParseNDJSONLine([]byte(`{"big":1e400,"tiny":1e-400,"zero":0e-400,"f":2.5,"i":7}`))
	if err != nil {
		t.Fatal(err)
	}
	if row["big"] != json.Number("1e400") || row["tiny"] != json.Number("1e-400") || row["zero"] != 0.0 || row["f"] != 2.5 || row["i"] != int64(7) {
		t.Fatalf("numbers: %#v", row)
	}
}

func TestCSVNumbersAndUTF8(t *testing.T) {
	row := map[string]any{"a": "1e-400", "b": "1e400", "c": "2,5", "d": "abc"}
	convert(row, map[string]string{"a": "number", "b": "number", "c": "number", "d": "number"})
	if row["a"] != json.Number("1e-400") || row["b"] != json.Number("1e400") || row["c"] != 2.5 || row["d"] != "abc" {
		t.Fatalf("converted: %#v", row)
	}
	if _, err := csvRow([]string{"ho_ten", "x"}, []string{"Nguy\xe1n", "1"}, false); err == nil || !strings.Contains(err.Error(), `column "ho_ten": not valid UTF-8`) {
		t.Fatalf("invalid UTF-8 cell: %v", err)
	}
}

// A lenient line still becomes a record, dead-lettered by the bus with the
// raw line and the reason, which names the JSON path.
func TestLenientLineIsDeadLettered(t *testing.T) {
	name := filepath.Join(t.TempDir(), "rows.ndjson")
	appendFile(t, name, `{"certificate_no":"CS000001"}`+"\n"+`{"certificate_no":"CS000002","holder_cccd":"1","holder_cccd":"2"}`+"\n")
	c := DefaultConfig()
	c.Path, c.Format, c.PollInterval, c.Progress, c.Dataset = name, "ndjson", 10*time.Millisecond, "never", "land.land_use_right"
	s, err := New("t", c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	recs := readAll(t, s, 2)
	if recs[0].After["certificate_no"] != "CS000001" {
		t.Fatalf("good line: %v", recs[0].After)
	}
	bad := fmt.Sprint(recs[1].After["_error"])
	if !strings.Contains(bad, "rows.ndjson offset") || !strings.Contains(bad, `$.holder_cccd (byte 47): duplicate member name "holder_cccd"`) || recs[1].After["_raw"] == nil {
		t.Fatalf("bad line: %v", recs[1].After)
	}
}
