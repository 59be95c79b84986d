package api

import (
	"errors"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/connectors/contract"
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

// FuzzPushPath sends any body through the whole push path (the handler of
// New, strict decoding, the real pipeline with the real catalog, a producer
// that acknowledges at once): the handler returns, the status is one a
// client can act on (never 5xx), and on 200 or 422 every record of the
// request is written exactly once, to its canonical topic or the DLQ.
func FuzzPushPath(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzPushPath, one per finding of the security
	// review (1e5000000, 1e-400, a duplicate holder_cccd, "AFTER",
	// "Dataset", invalid UTF-8, "\ud800", NUL in a name, op c with only
	// before, an update whose before and after differ in keys, …).
	fx := newPushFixture(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		code, out, msgs := fx.call(t, "/v1/sources/land/records", body)
		switch code {
		case 400, 413, 415:
			if out["error"] == nil {
				t.Fatalf("%d without an error: %v", code, out)
			}
			if len(msgs) != 0 {
				t.Fatalf("a refused body wrote %v", topics(msgs))
			}
			return
		case 200, 422:
		default:
			t.Fatalf("status %d: %v", code, out)
		}
		recs, err := decodePush(body)
		if err != nil {
			t.Fatalf("answered %d to a body decodePush refuses: %v", code, err)
		}
		results, _ := out["results"].([]any)
		if len(results) != len(recs) {
			t.Fatalf("%d results for %d records", len(results), len(recs))
		}
		written := map[string]int{}
		for _, m := range msgs {
			written[envelope.HeaderValue(m.Headers, contract.HeaderID)]++
		}
		if len(msgs) != len(recs) {
			t.Fatalf("%d messages for %d records: %v", len(msgs), len(recs), topics(msgs))
		}
		for i, r := range results {
			id, _ := r.(map[string]any)["event_id"].(string)
			if written[id] != 1 {
				t.Fatalf("record %d (event %s) written %d times", i, id, written[id])
			}
		}
	})
}
