package quality_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/schemas"
)

// An item keeps the record as received, byte for byte what RecordJSON
// makes of it, whether it was put together from the rows the pipeline
// encoded (the usual case) or encoded anew (an Avro dataset, a record the
// pipeline stopped on before encoding its rows); and its entity key, the
// pipeline's or made anew.
func TestItemRecordIsTheRecordAsReceived(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.reg.names["001224000002"] = "Mai"
	odd := birth(1, "001224000001", "Nguyễn <Lan> & \u2028 \"Hoa\"") // escapes json.Marshal makes
	odd["child_dob"] = "2024-13-45"
	badBefore := birth(4, "001224000004", "Lan")
	badBefore["child_sex"] = "X"
	badAfter := birth(3, "001224000003", "Lan <3>")
	badAfter["child_dob"] = "2024-02-30"
	meta := map[string]string{"file": "births<2024>&.csv", "line": "7", "é": "\x7f"}
	tests := []struct {
		name string
		rec  connectors.Record
		rows int // of the record's rows, how many the pipeline encoded
	}{
		{"invalid create, with metadata", connectors.Record{Dataset: birthDS, Op: connectors.OpCreate, After: odd, Metadata: meta}, 1},
		{"mismatch, published", connectors.Record{Dataset: birthDS, Op: connectors.OpCreate, After: birth(2, "001224000002", "Mia"), Metadata: meta}, 1},
		{"update, both rows", connectors.Record{Dataset: birthDS, Op: connectors.OpUpdate, Before: birth(3, "001224000003", "Lan"), After: badAfter}, 2},
		{"not found, delete", connectors.Record{Dataset: birthDS, Op: connectors.OpDelete, Before: birth(5, "001224000005", "Lan")}, 1},
		{"update, before invalid", connectors.Record{Dataset: birthDS, Op: connectors.OpUpdate, Before: badBefore, After: birth(4, "001224000004", "Lan")}, 1}, // after not encoded: RecordJSON
		{"unknown op", connectors.Record{Dataset: birthDS, Op: "x<", After: birth(6, "001224000006", "Lan")}, 0},
		{"unknown dataset", connectors.Record{Dataset: "civil_status.nope", Op: connectors.OpCreate, After: map[string]any{"a": 1}}, 0},
		{"unreadable", connectors.Record{Dataset: birthDS, Op: connectors.OpCreate, Bad: &connectors.BadRecord{Kind: "malformed", Reason: "not JSON", Raw: []byte("{\xff<")}}, 0},
	}
	batch := make([]connectors.Record, len(tests))
	for i, tc := range tests {
		batch[i] = tc.rec
		batch[i].Position = connectors.Position("item-" + tc.name)
	}
	results, err := f.p.Ingest(ctx, "civil_status", batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	items, err := f.st.ListQualityItems(ctx, store.QualityItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byEvent := map[string]store.QualityItem{}
	for _, it := range items {
		byEvent[it.EventID] = it
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := results[i]
			if rows := len(slices.DeleteFunc([][]byte{res.Before, res.After}, func(b []byte) bool { return b == nil })); rows != tc.rows {
				t.Fatalf("%d rows from the pipeline, want %d (%+v)", rows, tc.rows, res)
			}
			it, ok := byEvent[res.EventID]
			if !ok {
				t.Fatalf("no item for %+v", res)
			}
			if want := quality.RecordJSON(&batch[i]); !bytes.Equal(it.Record, want) {
				t.Fatalf("item record\n%s\nwant\n%s", it.Record, want)
			}
			want := "" // the entity key, of the datasets the catalog knows
			if r := batch[i]; r.Dataset == birthDS && r.Bad == nil {
				want, _ = r.Row()["registration_no"].(string)
			}
			if it.EntityKey != want {
				t.Fatalf("entity key %q, want %q", it.EntityKey, want)
			}
		})
	}
}

// Whatever the row and metadata hold, the item's record put together from
// the pipeline's rows is what RecordJSON makes of the record.
func FuzzItemRecord(f *testing.F) {
	f.Add("Lan", "2024-05-01", "c", "births.csv", "001224000001")
	f.Add("Nguyễn <b>&amp;</b> \u2028", "2024-13-45", "u", "a\x00b\xff", "")
	f.Add("\"\\\t", "", "x", "", "12")
	cat, err := schemas.Load()
	if err != nil {
		f.Fatal(err)
	}
	d, _ := cat.Dataset(birthDS)
	p, err := pipeline.New(pipeline.Config{Datasets: []pipeline.DatasetSchema{{Dataset: d, SchemaID: 1}},
		Reconcile: func(pipeline.Claim) pipeline.Verdict {
			return pipeline.Verdict{Outcome: "mismatch", Fields: "name:different"}
		}}, discard{})
	if err != nil {
		f.Fatal(err)
	}
	q, err := quality.New(quality.Config{Store: newFixture(f).st, Catalog: cat})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, dob, op, file, cccd string) {
		row := birth(1, cccd, name)
		row["child_dob"] = dob
		r := connectors.Record{Dataset: birthDS, Op: connectors.Op(op), After: row, Position: connectors.Position("f")}
		if op == "u" || op == "d" {
			r.Before = birth(1, cccd, name+dob)
		}
		if op == "d" {
			r.After = nil
		}
		if file != "" {
			r.Metadata = map[string]string{"file": file, name: dob}
		}
		results, err := p.Ingest(context.Background(), "civil_status", []connectors.Record{r})
		if err != nil {
			t.Fatal(err)
		}
		got, want := quality.ItemRecord(q, &r, &results[0]), quality.RecordJSON(&r)
		if !bytes.Equal(got, want) {
			t.Fatalf("item record\n%s\nwant\n%s", got, want)
		}
		if !json.Valid(got) {
			t.Fatalf("not JSON: %s", got)
		}
	})
}
