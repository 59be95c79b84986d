package envelope

import (
	"testing"
	"time"
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

func TestWireRoundTrip(t *testing.T) {
	v := append(AppendWire(nil, 0x01020304), "payload"...)
	if v[0] != 0 || v[1] != 1 || v[4] != 4 {
		t.Fatalf("prefix %v", v[:5])
	}
	id, p, err := SplitWire(v)
	if err != nil || id != 0x01020304 || string(p) != "payload" {
		t.Fatal(id, string(p), err)
	}
	for _, bad := range [][]byte{nil, {0, 1}, {1, 0, 0, 0, 1, 'x'}} {
		if _, _, err := SplitWire(bad); err == nil {
			t.Errorf("%v: want error", bad)
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
	want := map[string]string{HeaderSpecVersion: "1.0", HeaderID: "id", HeaderSource: "/lgsp/connectors/land", HeaderType: "vn.gov.lgsp.land.x.created", HeaderTime: "1970-01-01T00:00:00Z", HeaderSchemaID: "3", HeaderSequence: "01", HeaderIdentity: "verified"}
	hs := e.Headers()
	for k, v := range want {
		if got := HeaderValue(hs, k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func FuzzSplitWire(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, '{', '}'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, v []byte) {
		id, p, err := SplitWire(v)
		if err == nil && (len(p) != len(v)-5 || id < 0) {
			t.Fatal("inconsistent split")
		}
	})
}
