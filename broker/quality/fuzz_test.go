package quality_test

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/quality"
)

var number = regexp.MustCompile(`(^|[^0-9])([0-9]{9}|[0-9]{12})([^0-9]|$)`)

// What the operator sees of an item's record (quality.MaskJSON) is valid
// JSON without a personal number, whatever the record held.
func FuzzMaskJSON(f *testing.F) {
	for _, s := range []string{`{"dataset":"tax.taxpayer","after":{"cccd":"001090001234","n":123456789}}`, `{"raw":"001090001234;Lan"}`,
		`[1,"a",{"x":[001090001234]}]`, `{"a":1e12,"b":123456789012.5}`, `not json`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out := quality.MaskJSON(doc)
		if !json.Valid(out) {
			t.Fatalf("masked %q is not JSON: %q", doc, out)
		}
		if m := number.Find(out); m != nil {
			t.Fatalf("masked %q still shows %q: %q", doc, m, out)
		}
		if s := quality.Mask(string(doc)); number.MatchString(s) {
			t.Fatalf("Mask(%q) = %q", doc, s)
		}
	})
}
