package registry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCompatBadInputHTTP: a JSON Schema that does not parse is 422 naming
// the JSON path of the fault; a schema of another type is refused with the
// reason (409 on registration; the compatibility endpoint answers 200
// is_compatible false with the reason, as Confluent does: its
// ParsedSchema.isBackwardCompatible returns "Incompatible because of
// different schema type" as a compatibility message, and Confluent's
// clients read a 409 there as an error, not as "incompatible"); an unsafe
// change is refused on the compatibility endpoint with the path.
func TestCompatBadInputHTTP(t *testing.T) {
	srv := httptest.NewServer(New(newMemStore()).Handler())
	defer srv.Close()
	const ct = "application/vnd.schemaregistry.v1+json"
	if r := do(t, srv.URL, "POST", "/subjects/p-value/versions", ct, reqBody("JSON", `{"type":"number","exclusiveMinimum":5}`)); r.status != http.StatusOK {
		t.Fatalf("register: %+v", r)
	}
	for _, tc := range []struct {
		name, path, typ, schema string
		status                  int
		want                    string
	}{
		{"bad type keyword", "/compatibility/subjects/p-value/versions/latest", "JSON", `{"properties":{"a":{"type":"strin"}}}`,
			422, `at #/properties/a/type: `},
		{"bad bound", "/subjects/p-value/versions", "JSON", `{"properties":{"a":{"minimum":"x"}}}`, 422, `at #/properties/a/minimum: `},
		{"dangling $ref", "/compatibility/subjects/p-value/versions/latest", "JSON", `{"properties":{"a":{"$ref":"#/definitions/nope"}}}`,
			422, `at #/properties/a/$ref: `},
		{"type mismatch, registration", "/subjects/p-value/versions", "AVRO", `"string"`, 409, `TYPE_MISMATCH: Incompatible because of different schema type (AVRO, JSON)`},
		{"type mismatch, compatibility", "/compatibility/subjects/p-value/versions/latest?verbose=true", "AVRO", `"string"`,
			200, `"is_compatible":false,"messages":["{description:'the new schema cannot read data written with version 1: TYPE_MISMATCH: Incompatible because of different schema type (AVRO, JSON)'}"`},
		{"type mismatch, compatibility, not verbose", "/compatibility/subjects/p-value/versions/latest", "AVRO", `"string"`, 200, `{"is_compatible":false}`},
		{"exclusiveMinimum relaxed is compatible", "/compatibility/subjects/p-value/versions/latest", "JSON", `{"type":"number","minimum":5}`,
			200, `{"is_compatible":true}`},
		{"oneOf of overlapping branches refused with path", "/compatibility/subjects/p-value/versions/latest?verbose=true", "JSON",
			`{"oneOf":[{"type":"number","minimum":6},{"type":"integer","minimum":7}]}`, 200, `#/oneOf: COMBINED_TYPE_SUBSCHEMAS_CHANGED`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv.URL, "POST", tc.path, ct, reqBody(tc.typ, tc.schema))
			if r.status != tc.status || !strings.Contains(r.body, tc.want) {
				t.Errorf("got %d %s, want %d with %q", r.status, r.body, tc.status, tc.want)
			}
		})
	}
}
