package files

import (
	"encoding/json"
	"testing"
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
