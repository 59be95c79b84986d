package pipeline

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The source block and the rows are the bytes json.Marshal writes, so
// consumers see what they saw before the pipeline encoded them itself.
func TestEncodingIsMarshal(t *testing.T) {
	for _, src := range []sourceBlock{
		{Connector: "land-registry", Dataset: "land.land_use_right", Position: "0a0b", TsMs: 1700000000000},
		{Connector: "odd<name>&\"", Dataset: "x", Position: "", TsMs: -1},
	} {
		want, _ := json.Marshal(src)
		if got := src.appendJSON([]byte("p")); !bytes.Equal(got[1:], want) || got[0] != 'p' {
			t.Errorf("source %+v: %s, json.Marshal %s", src, got, want)
		}
	}
	for _, row := range []map[string]any{
		{"certificate_no": "CS012345", "area_m2": 120.5, "holder_name": "Nguyễn Văn An", "n": json.Number("7"), "z": nil},
		{"nested": map[string]any{"a": []any{1.0}}, "esc": "a<b"},
	} {
		want, _ := json.Marshal(row)
		if got, err := encodeRow(row); err != nil || !bytes.Equal(got, want) {
			t.Errorf("row %v: %s (%v), json.Marshal %s", row, got, err, want)
		}
	}
}
