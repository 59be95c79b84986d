package api

import (
	"errors"
	"testing"

	"github.com/labstack/echo/v4"
)

// FuzzDecodePush: any body either decodes to records that each name a
// dataset and carry a row, or is refused with a 4xx naming the problem.
func FuzzDecodePush(f *testing.F) {
	f.Add([]byte(`{"records":[{"dataset":"land.land_use_right","op":"c","after":{"a":1}}]}`))
	f.Add([]byte(`{"dataset":"x.y","before":{"a":null}}`))
	f.Add([]byte(`{"records":[]}`))
	f.Add([]byte(`{"records":[1]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := decodePush(body)
		if err != nil {
			var he *echo.HTTPError
			if !errors.As(err, &he) || he.Code < 400 || he.Code >= 500 {
				t.Fatalf("not a 4xx: %v", err)
			}
			if p, ok := he.Message.(Problem); !ok || p.Error == "" {
				t.Fatalf("no problem text: %v", he.Message)
			}
			return
		}
		for _, r := range recs {
			if r.Dataset == "" || (r.After == nil && r.Before == nil) {
				t.Fatalf("accepted a record without dataset or row: %+v", r)
			}
		}
	})
}
