package api

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/connectors/strictjson"
)

// FuzzAccessFill: a lookup or verification body is read in one pass
// (strictjson, then accessRequest.fill from its map). On every body the
// strict decoder takes with only the known members, fill must agree with
// the encoding/json decoding it replaced (DisallowUnknownFields,
// UseNumber): both accept it with the same request, or both refuse it,
// fill with a 400 naming a member. One refusal is fill's alone: a null in
// fields, which encoding/json took as the field name "".
// Seeds: testdata/fuzz/FuzzAccessFill.
func FuzzAccessFill(f *testing.F) {
	f.Add([]byte(`{"dataset":"tax.taxpayer","citizen":"079190001234","purpose":"judgment_enforcement","case_reference":"THA-2026/1"}`))
	f.Add([]byte(`{"dataset":"insurance.health_insurance_card","citizen":"079190001234","purpose":"identity_verification","claims":{"full_name":"Nguyễn Văn An","benefit_level":4}}`))
	f.Add([]byte(`{"dataset":null,"fields":["a","b"],"claims":null}`))
	f.Add([]byte(`{"fields":["a",1]}`))
	f.Add([]byte(`{"claims":[1]}`))
	f.Add([]byte(`{"purpose":false}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := strictjson.DecodeObject(body)
		if err != nil || onlyMembers(m, "$", "the body", accessMembers, nil) != nil {
			return // refused before either decoding
		}
		var got accessRequest
		ferr := got.fill(m)
		var want accessRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		derr := dec.Decode(&want)
		if ferr != nil && derr == nil && slices.Contains(want.Fields, "") && strings.Contains(ferr.Error(), "] is null") {
			return
		}
		switch {
		case ferr == nil && derr == nil:
			if len(want.Fields) == 0 && len(got.Fields) == 0 {
				want.Fields, got.Fields = nil, nil // [] and absent ask the same
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("fill %+v, encoding/json %+v", got, want)
			}
		case ferr != nil && derr != nil:
			var he *echo.HTTPError
			if !errors.As(ferr, &he) || he.Code != 400 || !strings.HasPrefix(he.Message.(Problem).Field, "$.") {
				t.Fatalf("a refusal that names no member: %v", ferr)
			}
		default:
			t.Fatalf("fill says %v, encoding/json says %v", ferr, derr)
		}
	})
}
