package files

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/connectors/sdktest"
)

func appendFile(t testing.TB, name, text string) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func testConfig(path string) Config {
	c := DefaultConfig()
	c.Path, c.PollInterval, c.BatchSize, c.Progress = path, 20*time.Millisecond, 3, "never"
	c.Dataset = "test.item"
	c.Types = map[string]string{"phien_ban": "integer"}
	c.Columns = map[string]string{"ma": "key", "phien_ban": "version"}
	return c
}

func harness(t *testing.T, cfg Config, write func(t testing.TB, cs []sdktest.Change), writeBad func(t testing.TB)) sdktest.Harness {
	return sdktest.Harness{
		NewSource: func(t testing.TB) connectors.Source {
			s, err := New(connectors.Env{Name: "test"}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Write:    write,
		WriteBad: writeBad,
		Identify: func(r connectors.Record) (string, int, bool) {
			k, ok1 := r.After["key"].(string)
			v, ok2 := r.After["version"].(int64)
			return k, int(v), ok1 && ok2
		},
		Timeout: 10 * time.Second,
	}
}

func TestAcceptanceNDJSON(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "thay_doi.ndjson")
	sdktest.Run(t, harness(t, testConfig(filepath.Join(dir, "*.ndjson")), func(t testing.TB, cs []sdktest.Change) {
		var b strings.Builder
		for _, c := range cs {
			fmt.Fprintf(&b, "{\"ma\":%q,\"phien_ban\":%d}\n", c.Key, c.Version)
		}
		appendFile(t, name, b.String())
	}, func(t testing.TB) { appendFile(t, name, `{"ma":"k99","phien_ban":`+"\n") }))
}

// TestAcceptanceCSVManyFiles writes each batch as a new export file with a
// header, a byte order mark and CRLF line ends, as spreadsheets do.
func TestAcceptanceCSVManyFiles(t *testing.T) {
	dir := t.TempDir()
	n := 0
	sdktest.Run(t, harness(t, testConfig(filepath.Join(dir, "*.csv")), func(t testing.TB, cs []sdktest.Change) {
		n++
		var b strings.Builder
		b.WriteString("\ufeffma,phien_ban,ghi_chu\r\n")
		for _, c := range cs {
			fmt.Fprintf(&b, "%s,%d,\"dòng \"\"trích\"\"\nhai\"\r\n", c.Key, c.Version)
		}
		appendFile(t, filepath.Join(dir, fmt.Sprintf("xuat_%03d.csv", n)), b.String())
	}, func(t testing.TB) {
		n++
		appendFile(t, filepath.Join(dir, fmt.Sprintf("xuat_%03d.csv", n)), "ma,phien_ban,ghi_chu\r\nk99,1,x,thua\r\n")
	}))
}

func readAll(t *testing.T, s *Source, n int) []connectors.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var out []connectors.Record
	for len(out) < n {
		recs, err := s.Read(ctx)
		if err != nil {
			t.Fatalf("after %d records: %v", len(out), err)
		}
		out = append(out, recs...)
	}
	return out
}

func TestCSVMappingResumeAndBadRows(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "giay_chung_nhan.csv")
	appendFile(t, name, "so_giay_chung_nhan;dien_tich;ghi_chu\nCS000001;120,5;\"a;b\"\nCS000002;80;\n\nCS000003;1;x;extra\nCS000004;abc;") // no final newline
	c := DefaultConfig()
	c.Path, c.Delimiter, c.PollInterval, c.Progress, c.Dataset = name, ";", 10*time.Millisecond, "never", "land.land_use_right"
	c.Types = map[string]string{"dien_tich": "number"}
	c.Columns = map[string]string{"so_giay_chung_nhan": "certificate_no", "dien_tich": "area_m2", "ghi_chu": "note"}
	c.Set = map[string]any{"province_code": "001"}
	s, err := New(connectors.Env{Name: "t"}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, s, 4)
	s.Close(t.Context())
	if got := recs[0].After; got["certificate_no"] != "CS000001" || got["area_m2"] != 120.5 || got["note"] != "a;b" || got["province_code"] != "001" {
		t.Errorf("row 1 = %v", got)
	}
	if got := recs[1].After; got["note"] != nil || got["area_m2"] != 80.0 {
		t.Errorf("row 2 = %v", got)
	}
	if bad := recs[2].Bad; bad == nil || recs[2].After != nil || bad.Kind != contract.KindMalformed || bad.Path != "$" ||
		bad.Reason != "giay_chung_nhan.csv line 5: 4 fields, the header has 3" || string(bad.Raw) != "CS000003;1;x;extra" {
		t.Errorf("row 3 (bad) = %+v, %+v", recs[2], recs[2].Bad)
	}
	for i, line := range []string{"2", "3", "5", "6"} {
		if m := recs[i].Metadata; m[connectors.MetaFile] != name || m[connectors.MetaLine] != line {
			t.Errorf("record %d: metadata %v, want line %s of %s", i, m, line, name)
		}
	}
	if got := recs[3].After; got["area_m2"] != "abc" {
		t.Errorf("row 4 (unterminated, unconvertible) = %v", got)
	}
	// Resume after row 2: rows 3 and 4 again, nothing before.
	s2, _ := New(connectors.Env{Name: "t"}, c)
	if err := s2.Open(t.Context(), recs[1].Position); err != nil {
		t.Fatal(err)
	}
	defer s2.Close(t.Context())
	again := readAll(t, s2, 2)
	if fmt.Sprint(again[0].Bad) != fmt.Sprint(recs[2].Bad) || fmt.Sprint(again[1].After) != fmt.Sprint(recs[3].After) {
		t.Errorf("resumed with %v, want rows 3 and 4", again)
	}
	// Line numbers survive the restart (the skipped part is counted).
	if again[0].Metadata[connectors.MetaLine] != "5" || again[1].Metadata[connectors.MetaLine] != "6" {
		t.Errorf("lines after resume: %v, %v", again[0].Metadata, again[1].Metadata)
	}
	var p pos
	if err := json.Unmarshal(again[1].Position, &p); err != nil || p.File != name {
		t.Errorf("position %s", again[1].Position)
	}
	st, _ := os.Stat(name)
	if p.Offset != st.Size() {
		t.Errorf("last offset %d, file size %d", p.Offset, st.Size())
	}
}

// TestValidate: the tag rules and Validate report every problem at once,
// through the constructor (CheckConfig) and the decoder alike.
func TestValidate(t *testing.T) {
	c := DefaultConfig()
	c.Format, c.Delimiter, c.Progress = "xml", "ab", "sometimes"
	c.Header = false
	c.Types = map[string]string{"x": "date"}
	c.BatchSize, c.PollInterval = 0, time.Millisecond
	wants := []string{"path: required", `format "xml": want csv or ndjson (or empty)`, `delimiter "ab": want one character other than quote and newline`,
		"column_names: required when header is false", `types.x "date": want integer, number, boolean or string`, "dataset: required",
		`progress "sometimes": want auto, always or never`, "batch_size 0: want 1 to 100000", "poll_interval 1ms: want at least 10ms"}
	_, err := New(connectors.Env{Name: "t"}, c)
	if !errors.Is(err, connectors.ErrConfig) {
		t.Fatalf("New = %v, want ErrConfig", err)
	}
	for _, want := range wants {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New: %v; want it to mention %q", err, want)
		}
	}
	spec, _ := connectors.Lookup(AdapterName)
	_, err = spec.DecodeConfig(map[string]any{"format": "xml", "delimiter": "\"", "progress": "sometimes", "header": false, "types": map[string]any{"x": "date"}, "batch_size": 0, "poll_interval": "1ms"})
	for _, want := range append(wants[:2:2], append([]string{`delimiter "\"": want one character`}, wants[3:]...)...) {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeConfig: %v; want it to mention %q", err, want)
		}
	}
	if d := DefaultConfig(); d.Delimiter != "," || !d.Header || !d.EmptyAsNull || d.BatchSize != 1000 || d.PollInterval != time.Second || d.Progress != "auto" || d.ProgressMinBytes != 16<<20 {
		t.Errorf("defaults from the tags: %+v", d)
	}
}

func TestParseNDJSONLine(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{`{"a":1,"b":"x","c":1.5,"d":null}` + "\n", "map[a:1 b:x c:1.5 d:<nil>]", false},
		{"  \r\n", "map[]", false},
		{`{"a":12345678901234567}`, "map[a:12345678901234567]", false},
		{`[1,2]`, "", true},
		{`null`, "", true},
		{`{"a":1} {"b":2}`, "", true},
		{`{"a":`, "", true},
	} {
		got, err := ParseNDJSONLine([]byte(c.in))
		if (err != nil) != c.wantErr || !c.wantErr && fmt.Sprint(got) != c.want {
			t.Errorf("ParseNDJSONLine(%q) = %v, %v", c.in, got, err)
		}
	}
}

func TestNextRecord(t *testing.T) {
	for _, c := range []struct {
		in    string
		csv   bool
		atEOF bool
		want  int
	}{
		{"a,b\nc", true, false, 4},
		{"\"a\nb\",c\nd", true, false, 8},
		{"\"a\nb", true, false, 0},
		{"\"a\nb", true, true, 4},
		{"{\"a\":\"\\\"\n\"}\n", false, false, 9},
		{"", false, true, 0},
	} {
		if got := nextRecord([]byte(c.in), c.csv, c.atEOF); got != c.want {
			t.Errorf("nextRecord(%q, csv=%v, eof=%v) = %d, want %d", c.in, c.csv, c.atEOF, got, c.want)
		}
	}
}
