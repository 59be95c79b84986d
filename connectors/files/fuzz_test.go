package files

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// FuzzNDJSONLine: any line either parses into a row that encodes back to
// JSON, or is an error; never a panic.
func FuzzNDJSONLine(f *testing.F) {
	for _, s := range []string{`{"so_dinh_danh":"001090012345","ho_ten":"Nguyễn Văn A"}`, `{}`, "\n", `{"a":1e999}`, `[`, `{"a":{"b":[1,2,null]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		row, err := ParseNDJSONLine(line)
		if err != nil {
			return
		}
		if _, err := json.Marshal(row); err != nil {
			t.Fatalf("parsed row %v does not encode: %v", row, err)
		}
	})
}

// FuzzCSVRecords splits arbitrary input into records as the reader does:
// every record is non-empty, the records cover the input exactly, and
// each parses or fails cleanly.
func FuzzCSVRecords(f *testing.F) {
	for _, s := range []string{"so_giay_chung_nhan,ho_ten\nCS000001,\"Trần, Thị B\"\n", "a,\"b\nc\",d\r\n", "\"unterminated", "x,y\n\n\n", "\ufeffa;b\n1;2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rest := data
		total := 0
		for len(rest) > 0 {
			n := nextRecord(rest, true, true)
			if n <= 0 || n > len(rest) {
				t.Fatalf("nextRecord returned %d for %d bytes", n, len(rest))
			}
			fields, err := ParseCSVRecord(rest[:n], ',')
			if err == nil && fields != nil {
				_, _ = csvRow(fields, fields, true)
			}
			total += n
			rest = rest[n:]
		}
		if total != len(data) {
			t.Fatalf("records cover %d of %d bytes", total, len(data))
		}
	})
}

// FuzzRecord: any line of a file becomes a record with its metadata, or a
// typed bad record keeping the line exactly, with a JSON path and a reason;
// never a panic, never a row smuggling the error.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{`{"ma":"k1","phien_ban":1}`, `{"ma":`, "k1,1,x", "k1,1", "\"unterminated", "a\xffb,1,2", `{"a":1,"a":2}`} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, line []byte, isCSV bool) {
		cfg := DefaultConfig()
		cfg.Path, cfg.Dataset = "x.csv", "test.item"
		s, err := New(connectors.Env{Name: "fuzz"}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s.isCSV, s.header, s.at, s.recLine = isCSV, []string{"ma", "phien_ban", "ghi_chu"}, pos{File: "x.csv", Offset: 10}, 3
		r, ok := s.record(line)
		if !ok {
			return // blank line
		}
		if r.Metadata[connectors.MetaLine] != "3" || r.Metadata[connectors.MetaFile] != "x.csv" || len(r.Position) == 0 {
			t.Fatalf("metadata %v, position %q", r.Metadata, r.Position)
		}
		if r.Bad == nil {
			if r.After == nil || r.After["_error"] != nil {
				t.Fatalf("good record without a row: %+v", r)
			}
			return
		}
		if r.After != nil || string(r.Bad.Raw) != string(trimLine(line)) || !strings.HasPrefix(r.Bad.Path, "$") ||
			!strings.HasPrefix(r.Bad.Reason, "x.csv line 3: ") || r.Bad.Kind != contract.KindMalformed {
			t.Fatalf("bad record %+v", r.Bad)
		}
	})
}
