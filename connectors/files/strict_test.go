package files

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
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

// A lenient line becomes a bad record, dead-lettered by the bus with the
// raw line, the JSON path and the reason; the line after it flows.
func TestLenientLineIsDeadLettered(t *testing.T) {
	name := filepath.Join(t.TempDir(), "rows.ndjson")
	bad := `{"certificate_no":"CS000002","holder_cccd":"1","holder_cccd":"2"}`
	appendFile(t, name, `{"certificate_no":"CS000001"}`+"\n"+bad+"\n"+`{"certificate_no":"CS000003"}`+"\n")
	c := DefaultConfig()
	c.Path, c.Format, c.PollInterval, c.Progress, c.Dataset = name, "ndjson", 10*time.Millisecond, "never", "land.land_use_right"
	s, err := New(connectors.Env{Name: "t"}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	recs := readAll(t, s, 3)
	if recs[0].After["certificate_no"] != "CS000001" || recs[2].After["certificate_no"] != "CS000003" {
		t.Fatalf("good lines: %v, %v", recs[0].After, recs[2].After)
	}
	b := recs[1].Bad
	if b == nil || recs[1].After != nil || recs[1].Before != nil {
		t.Fatalf("bad line is not a bad record: %+v", recs[1])
	}
	if b.Kind != contract.KindMalformed || b.Path != "$.holder_cccd" || string(b.Raw) != bad ||
		b.Reason != `rows.ndjson line 2: not a valid JSON object: $.holder_cccd (byte 47): duplicate member name "holder_cccd"` {
		t.Fatalf("bad record: %+v", b)
	}
	if m := recs[1].Metadata; m[connectors.MetaFile] != name || m[connectors.MetaLine] != "2" || m[connectors.MetaOffset] != fmt.Sprint(len(`{"certificate_no":"CS000001"}`)+1+len(bad)+1) {
		t.Fatalf("metadata: %v", m)
	}
}
