package runtime_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
)

// asCloudEvent reads a Kafka message the way the CloudEvents Kafka
// protocol binding does in binary mode: ce_* headers are the attributes,
// content-type is datacontenttype, the value is the data.
func asCloudEvent(t *testing.T, m kafka.Message) cloudevents.Event {
	t.Helper()
	e := cloudevents.New()
	for _, h := range m.Headers {
		v := string(h.Value)
		switch h.Key {
		case contract.HeaderID:
			e.SetID(v)
		case contract.HeaderSource:
			e.SetSource(v)
		case contract.HeaderType:
			e.SetType(v)
		case contract.HeaderSubject:
			e.SetSubject(v)
		case contract.HeaderContentType:
			e.SetDataContentType(v)
		}
	}
	e.DataEncoded = m.Value
	if err := e.Validate(); err != nil {
		t.Fatalf("not a valid CloudEvent: %v", err)
	}
	return e
}

// The content type never lies about the bytes: canonical topics and
// delivery topics framed "confluent" say they are Confluent-framed (and a
// CloudEvents SDK refuses to read them as JSON rather than misread them);
// a delivery topic whose agreement chose "cloudevents" carries plain JSON
// that the CloudEvents SDK's DataAs reads.
func TestDeliveryFramingPerAgreement(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	dir := t.TempDir()
	c := devConfig(t, dir)
	c.Policies.Dir = copyAgreements(t, dir)
	f := filepath.Join(c.Policies.Dir, "mps-c06-birth-registration.yaml")
	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append(raw, []byte("\nframing: cloudevents\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	bus := start(t, c)
	defer bus.Close(context.Background())
	p := citizens(t, bus.Store, 1)[0]
	body, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, p)})
	if code, raw := postAs(t, "http://"+bus.Addrs().API+"/v1/sources/civil_status/records", sourceToken(t, bus, "civil_status"), "application/json", body); code != 200 {
		t.Fatalf("push: %d %s", code, raw)
	}
	brokers := bus.Addrs().Kafka
	canonical := readAll(t, brokers, "civil_status.birth_registration.v1", 1)[0]
	plain := readAll(t, brokers, contract.DeliveryTopic("mps-c06", "civil_status.birth_registration"), 1)[0]
	framed := readAll(t, brokers, contract.DeliveryTopic("vss", "civil_status.birth_registration"), 1)[0]

	for _, m := range []kafka.Message{canonical, framed} {
		if ct := envelope.HeaderValue(m.Headers, contract.HeaderContentType); ct != contract.ContentTypeConfluentJSON {
			t.Errorf("%s: content-type %q, want %q", m.Topic, ct, contract.ContentTypeConfluentJSON)
		}
		if _, _, err := contract.SplitWire(m.Value); err != nil {
			t.Errorf("%s: not Confluent-framed: %v", m.Topic, err)
		}
		var v map[string]any
		if err := asCloudEvent(t, m).DataAs(&v); err == nil {
			t.Errorf("%s: the CloudEvents SDK read framed bytes as data without complaint", m.Topic)
		}
	}
	if ct := envelope.HeaderValue(plain.Headers, contract.HeaderContentType); ct != contract.ContentTypeJSON {
		t.Fatalf("cloudevents-framed topic: content-type %q", ct)
	}
	var change struct {
		Op    string         `json:"op"`
		After map[string]any `json:"after"`
	}
	if err := asCloudEvent(t, plain).DataAs(&change); err != nil {
		t.Fatalf("CloudEvents SDK DataAs on a cloudevents-framed delivery: %v", err)
	}
	if change.Op != "c" || change.After["registration_no"] == nil || !strings.HasPrefix(envelope.HeaderValue(plain.Headers, contract.HeaderSchemaID), "") {
		t.Fatalf("decoded change %+v", change)
	}
	if envelope.HeaderValue(plain.Headers, contract.HeaderSchemaID) == "" {
		t.Fatal("cloudevents-framed delivery lacks ce_schemaid")
	}
}
