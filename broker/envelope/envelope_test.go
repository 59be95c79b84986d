package envelope

import (
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/contract"
)

func TestEventIDIsDeterministic(t *testing.T) {
	a := EventID("land", []byte{0, 0, 0, 1})
	if a != EventID("land", []byte{0, 0, 0, 1}) {
		t.Fatal("same source and position must give the same id")
	}
	for _, other := range []string{EventID("land", []byte{0, 0, 0, 2}), EventID("tax", []byte{0, 0, 0, 1}), EventID("lan", []byte{'d', 0, 0, 0, 1})} {
		if other == a {
			t.Fatalf("different (source, position) gave the same id %s", a)
		}
	}
}

func TestKeyAndHeaders(t *testing.T) {
	row := map[string]any{"a": "x", "b": 7}
	if k := Key(row, []string{"a", "b"}); k != "x|7" {
		t.Fatal(k)
	}
	if k := Key(row, []string{"a", "missing"}); k != "" {
		t.Fatal(k)
	}
	e := Event{ID: "id", Source: SourceURI("land"), Type: EventType("land.x", "c"), Time: time.Unix(0, 0), SchemaID: 3, Sequence: []byte{1}, Identity: "verified"}
	want := map[string]string{contract.HeaderSpecVersion: "1.0", contract.HeaderID: "id", contract.HeaderSource: "/lgsp/connectors/land", contract.HeaderType: "vn.gov.lgsp.land.x.created", contract.HeaderTime: "1970-01-01T00:00:00Z", contract.HeaderSchemaID: "3", contract.HeaderSequence: "01", contract.HeaderIdentity: "verified"}
	hs := e.Headers()
	for k, v := range want {
		if got := HeaderValue(hs, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

// The header values share one buffer: each is exactly its value, in the
// documented order, and appending to one leaves the next intact.
func TestHeadersShareNoWritableTail(t *testing.T) {
	e := Event{ID: "id", Source: "/s", Type: "t", Subject: "key", ContentType: "application/json", Dataset: "land.x",
		Time: time.Date(2024, 1, 2, 3, 4, 5, 600, time.FixedZone("ICT", 7*3600)), SchemaID: 12, Sequence: []byte{0xab, 1},
		Identity: "mismatch", IdentityFields: "name:spelling", Citizen: "hmac"}
	hs := e.Headers()
	want := []string{"1.0", "id", "/s", "t", "2024-01-01T20:04:05.0000006Z", "key", "application/json", "land.x", "12", "ab01", "mismatch", "name:spelling", "hmac"}
	if len(hs) != len(want) {
		t.Fatalf("%d headers, want %d: %v", len(hs), len(want), hs)
	}
	for i, w := range want {
		if string(hs[i].Value) != w {
			t.Errorf("header %d %s = %q, want %q", i, hs[i].Key, hs[i].Value, w)
		}
	}
	_ = append(hs[1].Value, "XXXX"...)
	if string(hs[2].Value) != "/s" {
		t.Fatalf("appending to one header changed the next: %q", hs[2].Value)
	}
}
