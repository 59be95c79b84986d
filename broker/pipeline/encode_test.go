package pipeline

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/schemas"
)

// The source block is the bytes json.Marshal writes.
func TestSourceBlockIsMarshal(t *testing.T) {
	for _, src := range []sourceBlock{
		{Connector: "land-registry", Dataset: "land.land_use_right", Position: "0a0b", TsMs: 1700000000000},
		{Connector: "odd<name>&\"", Dataset: "x", Position: "", TsMs: -1},
	} {
		want, _ := json.Marshal(src)
		if got := src.appendJSON([]byte("p")); !bytes.Equal(got[1:], want) || got[0] != 'p' {
			t.Errorf("source %+v: %s, json.Marshal %s", src, got, want)
		}
	}
}

// A published JSON record's value is byte for byte what the pipeline
// wrote when it encoded each part with json.Marshal: the wire prefix, then
// {"op","before","after","source","ts_ms"} with json.Marshal of the rows
// and of the source block. Result.Before and After are those rows.
func TestPublishedValueIsMarshal(t *testing.T) {
	d, ok := schemas.MustLoad().Dataset("land.land_use_right")
	if !ok {
		t.Fatal("no land.land_use_right")
	}
	p, err := New(Config{Datasets: []DatasetSchema{{Dataset: d, SchemaID: 7}}, Reconcile: func(Claim) Verdict { return Verdict{Outcome: "verified"} }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	row := func(name string, area any) map[string]any {
		return map[string]any{"certificate_no": "CS012345", "parcel_id": "TĐ12/TH345", "province_code": "001", "area_m2": area,
			"land_use_purpose": "ODT", "holder_cccd": "001090012345", "holder_name": name, "holder_dob": "1990-01-02", "issued_on": "2021-06-15"}
	}
	now := time.UnixMilli(1_765_000_000_123)
	tests := []struct {
		name          string
		op            connectors.Op
		before, after map[string]any
	}{
		{"create", connectors.OpCreate, nil, row("Nguyễn Văn An", 120.5)},
		{"update with before", connectors.OpUpdate, row("Nguyễn Văn An", 120.5), row("Nguyễn Văn Ân", json.Number("121.25"))},
		{"delete", connectors.OpDelete, row("Nguyễn Văn An", int64(99)), nil},
		{"escaped text (json.Marshal's path)", connectors.OpRead, nil, row("An <\"Tèo\"> & co\u2028", 1e-7)},
		{"tiny area (exponent, json.Marshal's path)", connectors.OpCreate, nil, row("An", 5e-7)},
	}
	for _, tt := range tests {
		r := connectors.Record{Dataset: d.Name, Op: tt.op, Before: tt.before, After: tt.after, Position: connectors.Position("pos-1"), Time: time.Unix(1_700_000_000, 0)}
		msg, _, res := p.process("land-registry", &r, now)
		if res.Status != StatusPublished {
			t.Fatalf("%s: %s at %s: %s", tt.name, res.Status, res.Path, res.Error)
		}
		enc := func(m map[string]any) []byte {
			if m == nil {
				return nil
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		orNull := func(b []byte) string {
			if b == nil {
				return "null"
			}
			return string(b)
		}
		src, _ := json.Marshal(sourceBlock{Connector: "land-registry", Dataset: d.Name, Position: hex.EncodeToString(r.Position), TsMs: r.Time.UnixMilli()})
		want := string(contract.AppendWire(nil, 7)) + fmt.Sprintf(`{"op":"%s","before":%s,"after":%s,"source":%s,"ts_ms":%d}`,
			tt.op, orNull(enc(tt.before)), orNull(enc(tt.after)), src, now.UnixMilli())
		if string(msg.Value) != want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, msg.Value, want)
		}
		if !bytes.Equal(res.Before, enc(tt.before)) || !bytes.Equal(res.After, enc(tt.after)) {
			t.Errorf("%s: result rows %q / %q", tt.name, res.Before, res.After)
		}
	}
}

// A dead-lettered record keeps its encoded row (observers read it) even
// after the buffer it was built in serves the next records.
func TestDeadLetterRowsOutliveTheScratchBuffer(t *testing.T) {
	d, ok := schemas.MustLoad().Dataset("land.land_use_right")
	if !ok {
		t.Fatal("no land.land_use_right")
	}
	p, err := New(Config{Datasets: []DatasetSchema{{Dataset: d, SchemaID: 7}}, Reconcile: func(Claim) Verdict { return Verdict{Outcome: "verified"} }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]any{"certificate_no": "not a certificate", "parcel_id": "1", "province_code": "001", "area_m2": 1.0,
		"land_use_purpose": "ODT", "holder_cccd": "001090012345", "holder_name": "An", "holder_dob": "1990-01-02", "issued_on": "2021-06-15"}
	want, _ := json.Marshal(bad)
	r := connectors.Record{Dataset: d.Name, Op: connectors.OpCreate, After: bad, Position: connectors.Position("bad")}
	_, _, res := p.process("land-registry", &r, time.Now())
	if res.Status != StatusDeadLettered || res.Path != "$.certificate_no" {
		t.Fatalf("want a dead letter at $.certificate_no, got %s %s", res.Status, res.Path)
	}
	for i := range 50 {
		good := map[string]any{"certificate_no": "CS012345", "parcel_id": strings.Repeat("9", 30), "province_code": "001", "area_m2": float64(i + 1),
			"land_use_purpose": "ODT", "holder_cccd": "001090012345", "holder_name": "Bình", "holder_dob": "1990-01-02", "issued_on": "2021-06-15"}
		g := connectors.Record{Dataset: d.Name, Op: connectors.OpCreate, After: good, Position: connectors.Position(fmt.Sprint(i))}
		if _, _, res := p.process("land-registry", &g, time.Now()); res.Status != StatusPublished {
			t.Fatalf("good record %d: %s %s", i, res.Path, res.Error)
		}
	}
	if !bytes.Equal(res.After, want) {
		t.Fatalf("the dead letter's row changed: %q, want %q", res.After, want)
	}
}
