//go:build cgo

package registry

// Records encoded by confluent-kafka-go's serializers (serde/avrov2 and
// serde/jsonschema) read by the bus, and records the bus wrote decoded by
// its deserializers. These packages import the cgo Kafka client, hence the
// build tag; CI builds with cgo.

import (
	"errors"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/rest"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/avrov2"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/jsonschema"
)

// integratorCitizen is a type an integrator serializes with schemas the
// serializers derive from it and register themselves (auto-register).
type integratorCitizen struct {
	CCCD     string  `avro:"cccd" json:"cccd"`
	FullName string  `avro:"full_name" json:"full_name"`
	Province *string `avro:"province_code" json:"province_code,omitempty"`
}

func TestConfluentSerdeThroughTheBus(t *testing.T) {
	bus := newTestBus(t)
	// Through the authenticated registry, as the operator with a bearer
	// token (the logical cluster and pool id are Confluent Cloud's).
	auth := newAuthServers(t, bus)
	cl, err := schemaregistry.NewClient(schemaregistry.NewConfigWithBearerAuthentication(auth.strict, testOperatorToken, "lgsp", "lgsp"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tax, civil := bus.dataset(t, "tax.taxpayer"), bus.dataset(t, "civil_servant.employee")

	// The bus's topics: serializers take the latest registered schema of
	// the topic's subject, as a producer into a bus-owned format does.
	latest := serde.NewSerializerConfig()
	latest.AutoRegisterSchemas, latest.UseLatestVersion = false, true

	t.Run("avro client to bus", func(t *testing.T) {
		ser, err := avrov2.NewSerializer(cl, serde.ValueSerde, &avrov2.SerializerConfig{SerializerConfig: *latest})
		if err != nil {
			t.Fatal(err)
		}
		value, err := ser.Serialize(tax.Topic(), newTaxpayerChange())
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
		de, err := avrov2.NewDeserializer(cl, serde.ValueSerde, avrov2.NewDeserializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		var got taxpayerChange
		if err := de.DeserializeInto(tax.Topic(), value, &got); err != nil {
			t.Fatalf("avrov2 cannot decode what the bus wrote: %v", err)
		}
		want := newTaxpayerChange().After
		if got.Op != "c" || got.Before != nil || got.After == nil || *got.After.Address != *want.Address ||
			got.After.FullName != want.FullName || got.After.Status != "ACTIVE" || got.Source.Dataset != "tax.taxpayer" {
			t.Fatalf("decoded %+v / %+v", got, got.After)
		}
	})
	t.Run("json client to bus", func(t *testing.T) {
		conf := &jsonschema.SerializerConfig{SerializerConfig: *latest, EnableValidation: true}
		ser, err := jsonschema.NewSerializer(cl, serde.ValueSerde, conf)
		if err != nil {
			t.Fatal(err)
		}
		value, err := ser.Serialize(civil.Topic(), newEmployeeChange())
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

		// The client's validator and the bus's agree on a bad record.
		bad := newEmployeeChange()
		bad.After.SalaryCoefficient = 12.5
		if _, err := ser.Serialize(civil.Topic(), bad); err == nil {
			t.Fatal("the validating serializer accepted a salary coefficient of 12.5")
		}
		conf.EnableValidation = false
		lax, err := jsonschema.NewSerializer(cl, serde.ValueSerde, conf)
		if err != nil {
			t.Fatal(err)
		}
		value, err = lax.Serialize(civil.Topic(), bad)
		if err != nil {
			t.Fatal(err)
		}
		_, doc, errs = bus.busRead(t, value)
		if len(errs) == 0 {
			t.Fatal("the bus accepted a salary coefficient of 12.5")
		}
		if vs := bus.busCheckRow(t, "civil_servant.employee", doc); len(vs) != 1 || vs[0].Path != "$.salary_coefficient" {
			t.Fatalf("row violations %v, want one at $.salary_coefficient", vs)
		}
	})
	t.Run("json bus to client", func(t *testing.T) {
		value := bus.busWrite(t, "civil_servant.employee", employeeRow())
		de, err := jsonschema.NewDeserializer(cl, serde.ValueSerde, jsonschema.NewDeserializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		var got employeeChange
		if err := de.DeserializeInto(civil.Topic(), value, &got); err != nil {
			t.Fatalf("the jsonschema deserializer refuses what the bus wrote: %v", err)
		}
		if got.Op != "c" || got.After == nil || *got.After != *newEmployeeChange().After {
			t.Fatalf("decoded %+v / %+v", got, got.After)
		}
		// The deserializer's own validation only works on untyped
		// targets (it hands the Go struct to the validator), so the
		// client's validator sees the decoded change through the
		// validating serializer instead: it must accept it as is.
		ser, err := jsonschema.NewSerializer(cl, serde.ValueSerde,
			&jsonschema.SerializerConfig{SerializerConfig: *latest, EnableValidation: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ser.Serialize(civil.Topic(), &got); err != nil {
			t.Fatalf("the client's validator refuses the change the bus wrote: %v", err)
		}
	})
	t.Run("auto-registered schemas", func(t *testing.T) {
		hn := "001"
		rec := &integratorCitizen{CCCD: "001090012345", FullName: "Phạm Thị Dung", Province: &hn}
		aser, err := avrov2.NewSerializer(cl, serde.ValueSerde, avrov2.NewSerializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		value, err := aser.Serialize("integrator.citizen", rec)
		if err != nil {
			t.Fatalf("avrov2 auto-registration: %v", err)
		}
		if _, doc, errs := bus.busRead(t, value); errs != nil || doc["full_name"] != rec.FullName {
			t.Fatalf("bus read of an auto-registered Avro record: %v %v", doc, errs)
		}
		// invopop/jsonschema derives a draft 2020-12 document with $id
		// and $defs; the bus must compile and validate with it.
		jser, err := jsonschema.NewSerializer(cl, serde.ValueSerde, jsonschema.NewSerializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		value, err = jser.Serialize("integrator.citizen.json", rec)
		if err != nil {
			t.Fatalf("jsonschema auto-registration: %v", err)
		}
		if _, doc, errs := bus.busRead(t, value); errs != nil || doc["cccd"] != rec.CCCD {
			t.Fatalf("bus read of an auto-registered JSON record: %v %v", doc, errs)
		}
		// Required by the derived schema: the bus says so.
		if _, _, errs := bus.busRead(t, append(value[:5:5], `{"cccd":"001090012345"}`...)); len(errs) != 1 || !strings.Contains(errs[0], "full_name") {
			t.Fatalf("a record without full_name: %v", errs)
		}
	})
	t.Run("references", func(t *testing.T) {
		if _, err := cl.Register(sexSubject, schemaregistry.SchemaInfo{Schema: sexAvro}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Register("tax.person-value", schemaregistry.SchemaInfo{Schema: personAvro,
			References: []schemaregistry.Reference{{Name: "vn.gov.lgsp.common.Sex", Subject: sexSubject, Version: 1}}}, false); err != nil {
			t.Fatal(err)
		}
		ser, err := avrov2.NewSerializer(cl, serde.ValueSerde, &avrov2.SerializerConfig{SerializerConfig: *latest})
		if err != nil {
			t.Fatal(err)
		}
		value, err := ser.Serialize("tax.person", &person{CCCD: "001090012345", FullName: "Lê Văn Cường", Sex: "M"})
		if err != nil {
			t.Fatalf("avrov2 with a referenced enum: %v", err)
		}
		if _, doc, errs := bus.busRead(t, value); errs != nil || doc["sex"] != "M" {
			t.Fatalf("bus read: %v %v", doc, errs)
		}
		de, err := avrov2.NewDeserializer(cl, serde.ValueSerde, avrov2.NewDeserializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		var back person
		if err := de.DeserializeInto("tax.person", value, &back); err != nil || back.Sex != "M" {
			t.Fatalf("avrov2 deserializer with references: %+v, %v", back, err)
		}

		if _, err := cl.Register(cccdSubject, schemaregistry.SchemaInfo{Schema: cccdJSON, SchemaType: "JSON"}, false); err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Register("civil.person-value", schemaregistry.SchemaInfo{Schema: personJSON, SchemaType: "JSON",
			References: []schemaregistry.Reference{{Name: "cccd.json", Subject: cccdSubject, Version: 1}}}, false); err != nil {
			t.Fatal(err)
		}
		jser, err := jsonschema.NewSerializer(cl, serde.ValueSerde, &jsonschema.SerializerConfig{SerializerConfig: *latest, EnableValidation: true})
		if err != nil {
			t.Fatal(err)
		}
		value, err = jser.Serialize("civil.person", &person{CCCD: "001090012345", FullName: "Lê Văn Cường"})
		if err != nil {
			t.Fatalf("jsonschema with a referenced schema: %v", err)
		}
		if _, _, errs := bus.busRead(t, value); errs != nil {
			t.Fatalf("bus read: %v", errs)
		}
		if _, err := jser.Serialize("civil.person", &person{CCCD: "12", FullName: "Lê Văn Cường"}); err == nil {
			t.Fatal("the client's validator accepted a CCCD of 12 under the referenced pattern")
		}
	})
	t.Run("errors", func(t *testing.T) {
		ser, err := avrov2.NewSerializer(cl, serde.ValueSerde, &avrov2.SerializerConfig{SerializerConfig: *latest})
		if err != nil {
			t.Fatal(err)
		}
		_, err = ser.Serialize("no.such.topic", newTaxpayerChange())
		var re *rest.Error
		if !errors.As(err, &re) || re.Code != 40401 {
			t.Fatalf("serializing to a topic with no schema: %v, want 40401", err)
		}
	})
}
