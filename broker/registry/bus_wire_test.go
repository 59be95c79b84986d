package registry

// The bus's side of the serde round trips (serde_*_test.go): what the bus
// writes is produced by the real ingest pipeline, and what a client wrote
// is read with the bus's own wire-format decoder (contract.SplitWire) and
// checked with its own validators (the registry's parsed and compiled
// schemas, and broker/validate, which the pipeline validates rows with).

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/segmentio/kafka-go"
	"github.com/xeipuuv/gojsonschema"

	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/validate"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// Rows of the two datasets the round trips carry: tax.taxpayer (Avro) and
// civil_servant.employee (JSON Schema). Synthetic people.
func taxpayerRow() map[string]any {
	return map[string]any{"tax_code": "8012345678", "cccd": "001090012345", "full_name": "Nguyễn Thị Hồng",
		"dob": "1990-01-02", "sex": "F", "address": "12 Hàng Bạc, Hoàn Kiếm, Hà Nội", "tax_office": "10100",
		"status": "ACTIVE", "registered_on": "2015-03-04"}
}

func employeeRow() map[string]any {
	return map[string]any{"employee_id": "CB00012345", "cccd": "079085001234", "full_name": "Trần Văn Bình",
		"dob": "1985-07-08", "sex": "M", "agency_code": "BNV", "position": "Chuyên viên", "salary_coefficient": 3.33,
		"start_date": "2010-09-01"}
}

// capture is a pipeline.Producer that keeps what the bus writes and
// acknowledges it at once, as Kafka would.
type capture struct{ msgs []kafka.Message }

func (c *capture) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	c.msgs = append(c.msgs, msgs...)
	pipeline.Completion(msgs, nil)
	return nil
}

// busWrite runs row through the ingest pipeline as a create of dataset and
// returns the value the bus wrote to the dataset's topic.
func (b *testBus) busWrite(t *testing.T, dataset string, row map[string]any) []byte {
	t.Helper()
	d := b.dataset(t, dataset)
	ds := pipeline.DatasetSchema{Dataset: d, SchemaID: b.ids[dataset]}
	if d.Format == "avro" {
		env, err := b.reg.LookupAvro(context.Background(), ds.SchemaID)
		if err != nil {
			t.Fatal(err)
		}
		ds.Envelope = env
	}
	out := &capture{}
	p, err := pipeline.New(pipeline.Config{
		Datasets:  []pipeline.DatasetSchema{ds},
		Reconcile: func(pipeline.Claim) pipeline.Verdict { return pipeline.Verdict{Outcome: "verified"} },
		Now:       func() time.Time { return time.UnixMilli(1_700_000_000_000) },
	}, out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Ingest(context.Background(), "test-connector", []connectors.Record{{
		Dataset: dataset, Op: connectors.OpCreate, After: row, Position: connectors.Position("1"),
		Time: time.UnixMilli(1_699_999_999_000),
	}})
	if err != nil || len(res) != 1 || res[0].Status != pipeline.StatusPublished {
		t.Fatalf("ingest %s: %+v, %v", dataset, res, err)
	}
	for _, m := range out.msgs {
		if m.Topic == d.Topic() {
			return m.Value
		}
	}
	t.Fatalf("the pipeline wrote nothing to %s: %+v", d.Topic(), out.msgs)
	return nil
}

// busRead decodes a wire-format value as the bus does and checks it
// against the schema its id names: an Avro value must decode, and encode
// back to exactly the same bytes (nothing left over, nothing ambiguous); a
// JSON value must be valid against the compiled JSON Schema, references
// resolved. It returns the schema id, the decoded value and the
// validator's errors (none for a good value).
func (b *testBus) busRead(t *testing.T, value []byte) (int, map[string]any, []string) {
	t.Helper()
	ctx := context.Background()
	id, payload, err := contract.SplitWire(value)
	if err != nil {
		t.Fatalf("the bus cannot read the wire format of % x: %v", value[:min(len(value), 8)], err)
	}
	s, err := b.reg.SchemaByID(ctx, id)
	if err != nil {
		t.Fatalf("schema %d of the value: %v", id, err)
	}
	var doc map[string]any
	switch s.Type {
	case TypeAvro:
		schema, err := b.reg.LookupAvro(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := avro.Unmarshal(schema, payload, &doc); err != nil {
			return id, nil, []string{"$: " + err.Error()}
		}
		again, err := avro.Marshal(schema, doc)
		if err != nil || !bytes.Equal(again, payload) {
			return id, doc, []string{"$: the payload is not exactly one value of the schema"}
		}
	case TypeJSON:
		schema, err := b.reg.LookupJSON(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		res, err := schema.Validate(gojsonschema.NewBytesLoader(payload))
		if err != nil {
			return id, nil, []string{"$: " + err.Error()}
		}
		if err := json.Unmarshal(payload, &doc); err != nil {
			t.Fatal(err)
		}
		var errs []string
		for _, e := range res.Errors() {
			errs = append(errs, e.Context().String()+": "+e.Description())
		}
		return id, doc, errs
	}
	return id, doc, nil
}

// busCheckRow checks the "after" row of a change the bus read with the
// validator the pipeline checks rows with, and returns its violations.
func (b *testBus) busCheckRow(t *testing.T, dataset string, change map[string]any) []validate.Violation {
	t.Helper()
	d := b.dataset(t, dataset)
	after := afterRow(t, change)
	switch d.Format {
	case "avro":
		v, err := validate.NewAvro(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		_, vs := v.Convert(after)
		return vs
	default:
		v, err := validate.NewJSON(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return v.ValidateValue(after)
	}
}

// afterRow returns the "after" row of a decoded change. hamba/avro
// decodes a union branch of a named type as {"full.Name": value}: the row
// is unwrapped from it.
func afterRow(t *testing.T, change map[string]any) map[string]any {
	t.Helper()
	after, ok := change["after"].(map[string]any)
	if !ok {
		t.Fatalf("change has no after row: %v", change)
	}
	if len(after) == 1 {
		for k, v := range after {
			if row, ok := v.(map[string]any); ok && strings.Contains(k, ".") {
				return row
			}
		}
	}
	return after
}

// wantRow compares the fields of a decoded row with what was sent.
func wantRow(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	for k, w := range want {
		g := got[k]
		if n, ok := g.(json.Number); ok {
			g, _ = n.Float64()
		}
		if bs, _ := json.Marshal(g); string(bs) != mustJSON(w) {
			t.Errorf("%s: field %s = %v, want %v", what, k, got[k], w)
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
