package pipeline_test

import (
	"encoding/json"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// A bad record (input the adapter could not parse) is dead-lettered with
// the adapter's kind, path and reason, its raw input and metadata in the
// dead letter's value; the records around it are published.
func TestBadRecordIsDeadLetteredWithTheAdaptersReason(t *testing.T) {
	meta := map[string]string{connectors.MetaFile: "/exports/ho_tich.ndjson", connectors.MetaLine: "7"}
	for _, tc := range []struct {
		name             string
		bad              connectors.BadRecord
		kind, path, text string
		rawKey           string
	}{
		{"malformed with a path", connectors.BadRecord{Kind: contract.KindMalformed, Path: "$.holder_cccd", Reason: "ho_tich.ndjson line 7: duplicate member name", Raw: []byte(`{"a":1,"a":2}`)},
			contract.KindMalformed, "$.holder_cccd", "ho_tich.ndjson line 7: duplicate member name", "raw"},
		{"kind and path left empty", connectors.BadRecord{Reason: "4 fields, the header has 3", Raw: []byte("a;b;c;d")},
			contract.KindMalformed, "$", "4 fields, the header has 3", "raw"},
		{"unknown kind", connectors.BadRecord{Kind: "weird", Path: "$", Reason: "x", Raw: []byte("x")}, contract.KindMalformed, "$", "x", "raw"},
		{"too large, not UTF-8", connectors.BadRecord{Kind: contract.KindTooLarge, Path: "$", Reason: "line over 1 MiB", Raw: []byte{0xff, 0xfe}},
			contract.KindTooLarge, "$", "line over 1 MiB", "raw_base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, prod := newPipeline(t, nil)
			bad := connectors.Record{Dataset: birth(0, "Lan").Dataset, Op: connectors.OpCreate, Position: connectors.Position("pos-bad"), Metadata: meta, Bad: &tc.bad}
			res, err := p.Ingest(t.Context(), "civil_status", []connectors.Record{birth(10, "Lan"), bad, birth(11, "Mai")})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Status != pipeline.StatusPublished || res[2].Status != pipeline.StatusPublished {
				t.Fatalf("neighbours not published: %+v / %+v", res[0], res[2])
			}
			if got := res[1]; got.Status != pipeline.StatusDeadLettered || got.Kind != tc.kind || got.Path != tc.path || got.Error != tc.text {
				t.Fatalf("got %+v, want a dead letter %s at %s: %q", got, tc.kind, tc.path, tc.text)
			}
			var dls int
			for _, m := range prod.msgs {
				if m.Topic != contract.DeadLetterTopic("civil_status") {
					continue
				}
				dls++
				for h, want := range map[string]string{contract.HeaderErrorKind: tc.kind, contract.HeaderErrorPath: tc.path, contract.HeaderErrorMessage: tc.text} {
					if got := envelope.HeaderValue(m.Headers, h); got != want {
						t.Errorf("header %s = %q, want %q", h, got, want)
					}
				}
				var body map[string]any
				if err := json.Unmarshal(m.Value, &body); err != nil {
					t.Fatal(err)
				}
				if _, ok := body[tc.rawKey]; !ok || body["after"] != nil || body["before"] != nil {
					t.Errorf("dead letter value %s: want %s and no rows", m.Value, tc.rawKey)
				}
				if tc.rawKey == "raw" && body["raw"] != string(tc.bad.Raw) {
					t.Errorf("raw = %v, want %q", body["raw"], tc.bad.Raw)
				}
				if md, _ := body["metadata"].(map[string]any); md[connectors.MetaFile] != meta[connectors.MetaFile] || md[connectors.MetaLine] != "7" {
					t.Errorf("metadata in the dead letter: %v", body["metadata"])
				}
			}
			if dls != 1 {
				t.Fatalf("%d dead letters, want 1", dls)
			}
		})
	}
}
