package consumer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := New(Config{Agency: "vss", Datasets: []string{"nodot"}, RegistryURL: "ftp://x", Username: "u", DedupeWindow: -1})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ConfigError, got %v", err)
	}
	for _, want := range []string{"Brokers", "GroupID", `"nodot"`, "RegistryURL", "Password", "DedupeWindow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	if _, err := New(Config{Brokers: []string{"x:9092"}, GroupID: "g"}); err == nil || !strings.Contains(err.Error(), "Topics") {
		t.Errorf("no topics: %v", err)
	}
	c, err := New(Config{Brokers: []string{"x:9092"}, GroupID: "g", Topics: []string{"deliver.vss.a.b", "t"}, Agency: "vss", Datasets: []string{"a.b", "c.d"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := strings.Join(c.Topics(), ","); got != "deliver.vss.a.b,t,deliver.vss.c.d" {
		t.Errorf("topics %s", got)
	}
	if c.cfg.DedupeWindow != DefaultDedupeWindow {
		t.Errorf("dedupe window %d", c.cfg.DedupeWindow)
	}
}

func TestLRU(t *testing.T) {
	l := newLRU(3)
	for i := range 4 {
		l.add(dedupeKey{"s", fmt.Sprint(i)})
	}
	if l.len() != 3 || l.seen(dedupeKey{"s", "0"}) || !l.seen(dedupeKey{"s", "1"}) {
		t.Fatal("oldest key not evicted")
	}
	// "1" was refreshed by seen, so "2" is now the oldest.
	l.add(dedupeKey{"s", "4"})
	if l.seen(dedupeKey{"s", "2"}) || !l.seen(dedupeKey{"s", "1"}) {
		t.Fatal("LRU order")
	}
	if l.seen(dedupeKey{"other", "1"}) {
		t.Fatal("keys are (source, id) pairs")
	}
}

func message(value []byte, hs ...string) kafka.Message {
	m := kafka.Message{Topic: "deliver.vss.a.b", Partition: 2, Offset: 7, Key: []byte("k"), Value: value}
	for i := 0; i+1 < len(hs); i += 2 {
		m.Headers = append(m.Headers, kafka.Header{Key: hs[i], Value: []byte(hs[i+1])})
	}
	return m
}

func TestDecode(t *testing.T) {
	val := append(contract.AppendWire(nil, 42), `{"op":"u","before":{"a":1},"after":{"a":2},"source":{"connector":"x"},"ts_ms":1700000000000,"agreement":"ag"}`...)
	hs := []string{contract.HeaderID, "id1", contract.HeaderSource, "/lgsp/connectors/x", contract.HeaderType, "t", contract.HeaderTime, "2024-05-02T01:02:03.5Z",
		contract.HeaderSchemaID, "42", contract.HeaderDataset, "a.b", contract.HeaderIdentity, "mismatch", contract.HeaderIdentityFields, "name:spelling", contract.HeaderSubject, "s"}
	e, err := Decode(message(val, hs...))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != "id1" || e.Source != "/lgsp/connectors/x" || e.SchemaID != 42 || e.Op != "u" || e.Before["a"] != 1.0 || e.After["a"] != 2.0 ||
		e.Agreement != "ag" || e.Dataset != "a.b" || e.Identity != "mismatch" || e.IdentityFields != "name:spelling" || e.Subject != "s" ||
		!e.Time.Equal(time.Date(2024, 5, 2, 1, 2, 3, 5e8, time.UTC)) || e.ChangeTime.UnixMilli() != 1700000000000 ||
		e.Partition != 2 || e.Offset != 7 || string(e.Key) != "k" || e.Row()["a"] != 2.0 {
		t.Fatalf("%+v", e)
	}
	tests := []struct {
		name  string
		value []byte
		hs    []string
		want  error
	}{
		{"not wire format", []byte(`{"op":"c"}`), hs, ErrNotWireFormat},
		{"no ce_id", val, hs[2:], ErrMissingHeader},
		{"no ce_source", val, append([]string{contract.HeaderID, "x"}, hs[4:]...), ErrMissingHeader},
		{"schema header disagrees", contract.AppendWire(nil, 41), hs, ErrSchemaMismatch},
		{"not JSON", append(contract.AppendWire(nil, 42), "{"...), hs, ErrBadPayload},
		{"bad op", append(contract.AppendWire(nil, 42), `{"op":"x","after":{}}`...), hs, ErrBadPayload},
		{"no row", append(contract.AppendWire(nil, 42), `{"op":"c"}`...), hs, ErrBadPayload},
	}
	for _, tt := range tests {
		if _, err := Decode(message(tt.value, tt.hs...)); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestRegistryCachesAndClassifiesErrors(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch r.URL.Path {
		case "/schemas/ids/1":
			fmt.Fprint(w, `{"schemaType":"JSON","schema":"{\"type\":\"object\",\"required\":[\"op\"]}"}`)
		case "/schemas/ids/2":
			fmt.Fprint(w, `{"schema":"\"string\""}`)
		case "/schemas/ids/3":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code":40403,"message":"Schema not found"}`)
		}
	}))
	defer srv.Close()
	r := newRegistry(srv.URL+"/", "", nil)
	ctx := context.Background()
	for range 3 {
		s, err := r.schema(ctx, 1)
		if err != nil || s.Type != "JSON" {
			t.Fatal(s, err)
		}
		if err := s.check([]byte(`{"op":"c"}`)); err != nil {
			t.Fatal(err)
		}
		if err := s.check([]byte(`{}`)); !errors.Is(err, ErrSchemaMismatch) {
			t.Fatalf("invalid payload: %v", err)
		}
	}
	if calls.Load() != 1 {
		t.Errorf("schema 1 fetched %d times", calls.Load())
	}
	if s, err := r.schema(ctx, 2); err != nil || s.Type != "AVRO" || !errors.Is(s.check([]byte(`{}`)), ErrSchemaMismatch) {
		t.Errorf("avro schema: %v %v", s, err)
	}
	if _, err := r.schema(ctx, 3); !errors.Is(err, ErrRegistryUnavailable) {
		t.Errorf("5xx: %v", err)
	}
	if _, err := r.schema(ctx, 4); !errors.Is(err, ErrUnknownSchema) {
		t.Errorf("404: %v", err)
	}
}

// With RegistryToken the registry is asked with the agency's API token; a
// refusal is retried like an outage but says what to set.
func TestRegistrySendsTheAgencyToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer lgsp_vss" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error_code":40101,"message":"Unauthorized"}`)
			return
		}
		fmt.Fprint(w, `{"schema":"\"string\""}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	if s, err := newRegistry(srv.URL, "lgsp_vss", nil).schema(ctx, 1); err != nil || s.Type != "AVRO" {
		t.Fatalf("with the token: %v %v", s, err)
	}
	_, err := newRegistry(srv.URL, "", nil).schema(ctx, 1)
	if !errors.Is(err, ErrRegistryUnavailable) || !strings.Contains(err.Error(), "RegistryToken") {
		t.Fatalf("without the token: %v", err)
	}
}

// SASL/SCRAM-SHA-512 against a real Kafka-protocol broker that requires it.
func TestSCRAMAgainstKfake(t *testing.T) {
	const topic = "deliver.vss.a.b"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "vss", "s3cret=,x"), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	bad, _ := newSCRAM("vss", "wrong")
	if _, err := (&kafka.Dialer{Timeout: 5 * time.Second, SASLMechanism: bad}).DialContext(ctx, "tcp", brokers[0]); err == nil {
		t.Fatal("a wrong password authenticated")
	}
	good, _ := newSCRAM("vss", "s3cret=,x")
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll, Transport: &kafka.Transport{SASL: good}}
	defer w.Close()
	val := append(contract.AppendWire(nil, 1), `{"op":"c","after":{"a":"b"},"agreement":"ag"}`...)
	hs := envelope.Event{ID: "e1", Source: "/lgsp/connectors/x"}.Headers()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: val, Headers: hs}); err != nil {
		t.Fatal(err)
	}

	c, err := New(Config{Brokers: brokers, GroupID: "vss", Topics: []string{topic}, Username: "vss", Password: "s3cret=,x"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make(chan Event, 1)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(runCtx, func(_ context.Context, e Event) error { got <- e; stop(); return nil })
	}()
	select {
	case e := <-got:
		if e.ID != "e1" || e.After["a"] != "b" {
			t.Errorf("%+v", e)
		}
	case <-ctx.Done():
		t.Fatal("nothing consumed over SASL/SCRAM")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
