package registry

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/xeipuuv/gojsonschema"

	"github.com/lgsp-bus/lgsp/schemas"
)

func TestBootstrap(t *testing.T) {
	cat := schemas.MustLoad()
	r := New(newMemStore())
	ctx := context.Background()
	ids, err := r.Bootstrap(ctx, cat)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(cat.Datasets()) {
		t.Fatalf("ids %v for %d datasets", ids, len(cat.Datasets()))
	}
	var wantSubjects []string
	for _, d := range cat.Datasets() {
		wantSubjects = append(wantSubjects, d.Subject())
		latest, err := r.Latest(ctx, d.Subject())
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		typ, text, err := EnvelopeSchema(d)
		if err != nil {
			t.Fatal(err)
		}
		if latest.ID != ids[d.Name] || latest.Version != 1 || latest.Type != typ || latest.Schema != text {
			t.Errorf("%s: latest = %+v, want id %d, the envelope text", d.Name, latest, ids[d.Name])
		}
		wantType := map[schemas.Format]string{schemas.FormatAvro: TypeAvro, schemas.FormatJSON: TypeJSON}[d.Format]
		if typ != wantType {
			t.Errorf("%s: type %s, want %s", d.Name, typ, wantType)
		}
	}
	if got, _ := r.Subjects(ctx); !reflect.DeepEqual(got, wantSubjects) {
		t.Errorf("subjects %v, want %v", got, wantSubjects)
	}
	// At every start: the same ids, no new versions.
	again, err := r.Bootstrap(ctx, cat)
	if err != nil || !reflect.DeepEqual(again, ids) {
		t.Errorf("second bootstrap = %v, %v; want %v", again, err, ids)
	}
	for _, d := range cat.Datasets() {
		if vs, _ := r.Versions(ctx, d.Subject()); len(vs) != 1 {
			t.Errorf("%s: versions %v after a second bootstrap", d.Name, vs)
		}
	}
}

func TestBootstrapStoreFailure(t *testing.T) {
	ms := newMemStore()
	ms.setFail(errors.New("disk on fire"))
	_, err := New(ms).Bootstrap(context.Background(), schemas.MustLoad())
	if !errors.Is(err, ErrStore) {
		t.Fatalf("err = %v, want ErrStore", err)
	}
}

// Taxpayer mirrors schemas/tax/taxpayer.v1.avsc for the round trip below.
type taxpayer struct {
	TaxCode      string  `avro:"tax_code"`
	CCCD         string  `avro:"cccd"`
	FullName     string  `avro:"full_name"`
	DOB          string  `avro:"dob"`
	Sex          string  `avro:"sex"`
	Address      *string `avro:"address"`
	TaxOffice    string  `avro:"tax_office"`
	Status       string  `avro:"status"`
	RegisteredOn string  `avro:"registered_on"`
}

type source struct {
	Connector string `avro:"connector"`
	Dataset   string `avro:"dataset"`
	Position  string `avro:"position"`
	TsMs      int64  `avro:"ts_ms"`
}

type taxpayerChange struct {
	Before *taxpayer `avro:"before"`
	After  *taxpayer `avro:"after"`
	Source source    `avro:"source"`
	Op     string    `avro:"op"`
	TsMs   int64     `avro:"ts_ms"`
}

func TestAvroEnvelope(t *testing.T) {
	d, ok := schemas.MustLoad().Dataset("tax.taxpayer")
	if !ok {
		t.Fatal("tax.taxpayer not in the catalog")
	}
	typ, text, err := EnvelopeSchema(d)
	if err != nil || typ != TypeAvro {
		t.Fatalf("EnvelopeSchema = %s, %v", typ, err)
	}
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("envelope does not parse: %v\n%s", err, text)
	}
	rec := s.(*avro.RecordSchema)
	if rec.FullName() != "vn.gov.lgsp.tax.envelope.Envelope" {
		t.Errorf("envelope name %s", rec.FullName())
	}
	var names []string
	for _, f := range rec.Fields() {
		names = append(names, f.Name())
	}
	if strings.Join(names, ",") != "before,after,source,op,ts_ms" {
		t.Errorf("fields %v", names)
	}
	// The row keeps its own name, and its docs and defaults.
	for _, want := range []string{`"name":"Taxpayer","namespace":"vn.gov.lgsp.tax"`, `"after","type":["null","vn.gov.lgsp.tax.Taxpayer"]`, `"doc":"Code of the managing tax office."`} {
		if !strings.Contains(text, want) {
			t.Errorf("envelope lacks %s:\n%s", want, text)
		}
	}

	addr := "12 Hàng Bài, Hoàn Kiếm, Hà Nội"
	row := taxpayer{TaxCode: "0101234567", CCCD: "001085012345", FullName: "Nguyễn Văn An", DOB: "1985-03-02",
		Sex: "M", Address: &addr, TaxOffice: "HN01", Status: "ACTIVE", RegisteredOn: "2010-05-01"}
	for _, ch := range []taxpayerChange{
		{After: &row, Op: "c", Source: source{"tax-cdc", "tax.taxpayer", "0/16B3748", 1700000000000}, TsMs: 1700000000001},
		{Before: &row, Op: "d", Source: source{"tax-cdc", "tax.taxpayer", "0/16B3750", 1700000000002}, TsMs: 1700000000003},
	} {
		b, err := avro.Marshal(s, ch)
		if err != nil {
			t.Fatalf("encoding a %s change: %v", ch.Op, err)
		}
		var back taxpayerChange
		if err := avro.Unmarshal(s, b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, ch) {
			t.Errorf("round trip\n%+v\nwant\n%+v", back, ch)
		}
	}
	bad := taxpayerChange{After: &taxpayer{Sex: "X"}, Op: "c"}
	if _, err := avro.Marshal(s, bad); err == nil {
		t.Error("a row with sex X encoded")
	}
}

func TestJSONEnvelope(t *testing.T) {
	d, ok := schemas.MustLoad().Dataset("land.land_use_right")
	if !ok {
		t.Fatal("land.land_use_right not in the catalog")
	}
	typ, text, err := EnvelopeSchema(d)
	if err != nil || typ != TypeJSON {
		t.Fatalf("EnvelopeSchema = %s, %v", typ, err)
	}
	s, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(text))
	if err != nil {
		t.Fatalf("envelope does not compile: %v\n%s", err, text)
	}
	if strings.Count(text, "$schema") != 1 || !strings.Contains(text, `"title":"land.land_use_right.v1 change"`) {
		t.Errorf("envelope: the row's $schema must go, the title must be the topic's:\n%s", text)
	}
	row := map[string]any{
		"certificate_no": "CS012345", "parcel_id": "12/345", "province_code": "001", "area_m2": 120.5,
		"land_use_purpose": "ODT", "holder_cccd": "001085012345", "holder_name": "Trần Thị Bình",
		"holder_dob": "1985-03-02", "issued_on": "2015-06-30",
	}
	src := map[string]any{"connector": "land-poll", "dataset": "land.land_use_right", "position": "42", "ts_ms": 1700000000000}
	cases := []struct {
		name  string
		value map[string]any
		valid bool
	}{
		{"create", map[string]any{"op": "c", "before": nil, "after": row, "source": src, "ts_ms": 1700000000001}, true},
		{"delete", map[string]any{"op": "d", "before": row, "after": nil, "source": src}, true},
		{"unknown op", map[string]any{"op": "x", "after": row, "source": src}, false},
		{"no source", map[string]any{"op": "c", "after": row}, false},
		{"bad row", map[string]any{"op": "c", "after": map[string]any{"certificate_no": "nope"}, "source": src}, false},
		{"extra row field", map[string]any{"op": "c", "after": merge(row, map[string]any{"x": 1}), "source": src}, false},
		{"source without position", map[string]any{"op": "r", "after": row, "source": map[string]any{"connector": "a", "dataset": "b"}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := s.Validate(gojsonschema.NewGoLoader(tc.value))
			if err != nil {
				t.Fatal(err)
			}
			if res.Valid() != tc.valid {
				t.Errorf("valid = %v, want %v: %v", res.Valid(), tc.valid, res.Errors())
			}
		})
	}
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// A row with its own definitions keeps working once it moves to
// #/definitions/row.
func TestJSONEnvelopeRebasesRowRefs(t *testing.T) {
	d := schemas.Dataset{Name: "test.thing", Version: 2, Format: schemas.FormatJSON, File: "test/thing.json", Schema: `{
		"$schema": "http://json-schema.org/draft-07/schema#",
		"type": "object",
		"required": ["addr"],
		"definitions": {"addr": {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}, "next": {"$ref": "#/definitions/addr"}}}},
		"properties": {"addr": {"$ref": "#/definitions/addr"}, "tag": {"enum": [{"$ref": "#/not/a/ref"}]}}
	}`}
	_, text, err := EnvelopeSchema(d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `"$ref":"#/definitions/row/definitions/addr"`) || !strings.Contains(text, `{"$ref":"#/not/a/ref"}`) {
		t.Errorf("refs not rebased (or enum data touched):\n%s", text)
	}
	s, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(text))
	if err != nil {
		t.Fatal(err)
	}
	src := map[string]any{"connector": "c", "dataset": "test.thing", "position": "1"}
	for v, want := range map[bool]map[string]any{
		true:  {"op": "c", "after": map[string]any{"addr": map[string]any{"city": "Huế", "next": map[string]any{"city": "Đà Nẵng"}}}, "source": src},
		false: {"op": "c", "after": map[string]any{"addr": map[string]any{"next": map[string]any{"city": 7}}}, "source": src},
	} {
		res, err := s.Validate(gojsonschema.NewGoLoader(want))
		if err != nil || res.Valid() != v {
			t.Errorf("valid = %v (%v), want %v", res.Valid(), res.Errors(), v)
		}
	}
}

// A row in the null namespace must not be pulled into the envelope's.
func TestAvroEnvelopeNullNamespace(t *testing.T) {
	d := schemas.Dataset{Name: "test.plain", Version: 1, Format: schemas.FormatAvro, File: "test/plain.avsc",
		Schema: `{"type":"record","name":"Plain","fields":[{"name":"k","type":{"type":"enum","name":"K","symbols":["A"]}}]}`}
	_, text, err := EnvelopeSchema(d)
	if err != nil {
		t.Fatal(err)
	}
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	if name := s.(*avro.RecordSchema).FullName(); name != "Envelope" {
		t.Errorf("envelope %s, want Envelope in the null namespace", name)
	}
	if !strings.Contains(text, `["null","Plain"]`) {
		t.Errorf("after does not refer to Plain:\n%s", text)
	}
}

func TestEnvelopeSchemaRejectsBadRows(t *testing.T) {
	for name, d := range map[string]schemas.Dataset{
		"avro not a record": {Name: "t.a", Version: 1, Format: schemas.FormatAvro, Schema: `"string"`},
		"avro invalid":      {Name: "t.b", Version: 1, Format: schemas.FormatAvro, Schema: `{"type":"record","name":"R","fields":[{"name":"x","type":"Nope"}]}`},
		"json invalid":      {Name: "t.c", Version: 1, Format: schemas.FormatJSON, Schema: `{"type":12}`},
		"json not object":   {Name: "t.d", Version: 1, Format: schemas.FormatJSON, Schema: `[1]`},
		"unknown format":    {Name: "t.e", Version: 1, Format: "xml", Schema: `{}`},
	} {
		if _, _, err := EnvelopeSchema(d); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
