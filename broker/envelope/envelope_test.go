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
