package registry

// Records encoded by franz-go's sr.Serde (pure Go) read by the bus, and
// records the bus wrote decoded by sr.Serde; the schemas come from the
// bus's registry through franz-go's client, as an integrator gets them.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// Go types for the bus's change envelopes of the two datasets, as an
// integrator would write them: taxpayerChange (Avro, in bootstrap_test.go)
// and employeeChange (JSON).
type (
	jsonSource struct {
		Connector string `json:"connector"`
		Dataset   string `json:"dataset"`
		Position  string `json:"position"`
		TsMs      int64  `json:"ts_ms"`
	}
	employee struct {
		EmployeeID        string  `json:"employee_id"`
		CCCD              string  `json:"cccd"`
		FullName          string  `json:"full_name"`
		DOB               string  `json:"dob"`
		Sex               string  `json:"sex"`
		AgencyCode        string  `json:"agency_code"`
		Position          string  `json:"position"`
		SalaryCoefficient float64 `json:"salary_coefficient"`
		StartDate         string  `json:"start_date"`
	}
	employeeChange struct {
		Before *employee  `json:"before"`
		After  *employee  `json:"after"`
		Source jsonSource `json:"source"`
		Op     string     `json:"op"`
		TsMs   int64      `json:"ts_ms"`
	}
	// person is the record of personAvro / personJSON, whose sex and cccd
	// come from referenced schemas.
	person struct {
		CCCD     string `avro:"cccd" json:"cccd"`
		FullName string `avro:"full_name" json:"full_name"`
		Sex      string `avro:"sex" json:"sex,omitempty"`
	}
)

func newTaxpayerChange() *taxpayerChange {
	addr := "12 Hàng Bạc, Hoàn Kiếm, Hà Nội"
	return &taxpayerChange{
		After: &taxpayer{TaxCode: "8012345678", CCCD: "001090012345", FullName: "Nguyễn Thị Hồng", DOB: "1990-01-02",
			Sex: "F", Address: &addr, TaxOffice: "10100", Status: "ACTIVE", RegisteredOn: "2015-03-04"},
		Source: source{Connector: "gdt-oracle", Dataset: "tax.taxpayer", Position: "0a1b", TsMs: 1_699_999_999_000},
		Op:     "c", TsMs: 1_700_000_000_000,
	}
}

func newEmployeeChange() *employeeChange {
	return &employeeChange{
		After: &employee{EmployeeID: "CB00012345", CCCD: "079085001234", FullName: "Trần Văn Bình", DOB: "1985-07-08",
			Sex: "M", AgencyCode: "BNV", Position: "Chuyên viên", SalaryCoefficient: 3.33, StartDate: "2010-09-01"},
		Source: jsonSource{Connector: "bnv-csdl", Dataset: "civil_servant.employee", Position: "77", TsMs: 1_699_999_999_000},
		Op:     "r", TsMs: 1_700_000_000_000,
	}
}

// avroSerde registers v's type with sr.Serde under the schema the client
// fetched for id, parsed with its references, encoded with hamba/avro.
func avroSerde(t *testing.T, cl *sr.Client, id int, v any) *sr.Serde {
	t.Helper()
	ctx := context.Background()
	s, err := cl.SchemaByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cache := &avro.SchemaCache{}
	for _, ref := range s.References {
		dep, err := cl.SchemaByVersion(ctx, ref.Subject, ref.Version)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := avro.ParseWithCache(dep.Schema.Schema, "", cache); err != nil {
			t.Fatal(err)
		}
	}
	schema, err := avro.ParseWithCache(s.Schema, "", cache)
	if err != nil {
		t.Fatalf("the client cannot parse schema %d as the bus serves it: %v", id, err)
	}
	var serde sr.Serde
	serde.Register(id, v,
		sr.EncodeFn(func(v any) ([]byte, error) { return avro.Marshal(schema, v) }),
		sr.DecodeFn(func(b []byte, v any) error { return avro.Unmarshal(schema, b, v) }))
	return &serde
}

func jsonSerde(id int, v any) *sr.Serde {
	var serde sr.Serde
	serde.Register(id, v, sr.EncodeFn(json.Marshal), sr.DecodeFn(json.Unmarshal))
	return &serde
}

func TestFranzGoSerdeThroughTheBus(t *testing.T) {
	bus := newTestBus(t)
	// Through the authenticated registry, as a schema steward with Basic.
	auth := newAuthServers(t, bus)
	cl, err := sr.NewClient(sr.URLs(auth.strict), sr.BasicAuth("steward-agency", auth.tokens["steward-agency"]))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	latest := func(dataset string) int {
		s, err := cl.SchemaByVersion(ctx, bus.dataset(t, dataset).Subject(), -1)
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}

	t.Run("avro client to bus", func(t *testing.T) {
		serde := avroSerde(t, cl, latest("tax.taxpayer"), taxpayerChange{})
		value, err := serde.Encode(*newTaxpayerChange())
		if err != nil {
			t.Fatal(err)
		}
		id, doc, errs := bus.busRead(t, value)
		if id != bus.ids["tax.taxpayer"] || errs != nil {
			t.Fatalf("bus read id %d, errors %v", id, errs)
		}
		if vs := bus.busCheckRow(t, "tax.taxpayer", doc); vs != nil {
			t.Fatalf("the pipeline's validator refuses the row: %v", vs)
		}
		wantRow(t, "after", afterRow(t, doc), taxpayerRow())
	})
	t.Run("avro bus to client", func(t *testing.T) {
		value := bus.busWrite(t, "tax.taxpayer", taxpayerRow())
		serde := avroSerde(t, cl, latest("tax.taxpayer"), taxpayerChange{})
		var got taxpayerChange
		if err := serde.Decode(value, &got); err != nil {
			t.Fatalf("sr.Serde cannot decode what the bus wrote: %v", err)
		}
		want := newTaxpayerChange().After
		if got.Op != "c" || got.Before != nil || got.After == nil || *got.After.Address != *want.Address ||
			got.After.FullName != want.FullName || got.After.Sex != "F" || got.Source.Dataset != "tax.taxpayer" {
			t.Fatalf("decoded %+v / %+v", got, got.After)
		}
	})
	t.Run("json client to bus", func(t *testing.T) {
		serde := jsonSerde(latest("civil_servant.employee"), employeeChange{})
		value, err := serde.Encode(*newEmployeeChange())
		if err != nil {
			t.Fatal(err)
		}
		id, doc, errs := bus.busRead(t, value)
		if id != bus.ids["civil_servant.employee"] || errs != nil {
			t.Fatalf("bus read id %d, errors %v", id, errs)
		}
		if vs := bus.busCheckRow(t, "civil_servant.employee", doc); vs != nil {
			t.Fatalf("the pipeline's validator refuses the row: %v", vs)
		}
		wantRow(t, "after", afterRow(t, doc), employeeRow())

		bad := newEmployeeChange()
		bad.After.CCCD = "12AB"
		value, err = serde.Encode(*bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, doc, errs := bus.busRead(t, value); len(errs) == 0 {
			t.Fatal("the bus accepted a CCCD of 12AB")
		} else if vs := bus.busCheckRow(t, "civil_servant.employee", doc); len(vs) != 1 || vs[0].Path != "$.cccd" {
			t.Fatalf("row violations %v, want one at $.cccd", vs)
		}
	})
	t.Run("json bus to client", func(t *testing.T) {
		value := bus.busWrite(t, "civil_servant.employee", employeeRow())
		var got employeeChange
		if err := jsonSerde(latest("civil_servant.employee"), employeeChange{}).Decode(value, &got); err != nil {
			t.Fatalf("sr.Serde cannot decode what the bus wrote: %v", err)
		}
		if got.Op != "c" || got.After == nil || *got.After != *newEmployeeChange().After {
			t.Fatalf("decoded %+v / %+v", got, got.After)
		}
	})
	t.Run("references", func(t *testing.T) {
		sex, err := cl.CreateSchema(ctx, sexSubject, sr.Schema{Schema: sexAvro})
		if err != nil {
			t.Fatal(err)
		}
		pa, err := cl.CreateSchema(ctx, "tax.person-value", sr.Schema{Schema: personAvro,
			References: []sr.SchemaReference{{Name: "vn.gov.lgsp.common.Sex", Subject: sexSubject, Version: sex.Version}}})
		if err != nil {
			t.Fatal(err)
		}
		value, err := avroSerde(t, cl, pa.ID, person{}).Encode(person{CCCD: "001090012345", FullName: "Lê Văn Cường", Sex: "M"})
		if err != nil {
			t.Fatal(err)
		}
		if id, doc, errs := bus.busRead(t, value); id != pa.ID || errs != nil || doc["sex"] != "M" {
			t.Fatalf("bus read of a record with a referenced enum: %d %v %v", id, doc, errs)
		}

		cccd, err := cl.CreateSchema(ctx, cccdSubject, sr.Schema{Schema: cccdJSON, Type: sr.TypeJSON})
		if err != nil {
			t.Fatal(err)
		}
		pj, err := cl.CreateSchema(ctx, "civil.person-value", sr.Schema{Schema: personJSON, Type: sr.TypeJSON,
			References: []sr.SchemaReference{{Name: "cccd.json", Subject: cccdSubject, Version: cccd.Version}}})
		if err != nil {
			t.Fatal(err)
		}
		serde := jsonSerde(pj.ID, person{})
		value, err = serde.Encode(person{CCCD: "001090012345", FullName: "Lê Văn Cường"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, errs := bus.busRead(t, value); errs != nil {
			t.Fatalf("bus read: %v", errs)
		}
		value, err = serde.Encode(person{CCCD: "0010900", FullName: "Lê Văn Cường"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, errs := bus.busRead(t, value); len(errs) != 1 || !strings.HasPrefix(errs[0], "(root).cccd:") {
			t.Fatalf("a short CCCD against the referenced pattern: %v", errs)
		}
	})
}
