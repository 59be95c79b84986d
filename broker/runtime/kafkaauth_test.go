package runtime_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/segmentio/kafka-go"
)

// With kafka.auth on, the bus works as before through its superuser login,
// and an agency's credentials open only its own delivery topics.
func TestKafkaAuthOnTheDevBroker(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	var logs syncBuffer
	c := devConfig(t, t.TempDir())
	c.Kafka.Auth = true
	bus := startLogging(t, c, &logs)
	defer bus.Close(context.Background())
	people := citizens(t, bus.Store, 3)
	var recs []map[string]any
	for i, p := range people {
		recs = append(recs, map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(i, p)})
	}
	body, _ := json.Marshal(map[string]any{"records": recs})
	if code, raw := postAs(t, "http://"+bus.Addrs().API+"/v1/sources/civil_status/records", sourceToken(t, bus, "civil_status"), "application/json", body); code != 200 {
		t.Fatalf("push with auth on: %d %s", code, raw)
	}

	// The passwords issued at first start are in the operator log, once.
	passwords := map[string]string{}
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Msg, User, Password string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, "kafka credential issued") {
			passwords[l.User] = l.Password
		}
	}
	if passwords["vss"] == "" || passwords["gdt"] == "" {
		t.Fatalf("no credentials issued for the consumer agencies: %v", keys(passwords))
	}
	read := func(user, pass, topic string, timeout time.Duration) (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		d, err := kafkaio.Dialer(user, pass)
		if err != nil {
			return 0, err
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: bus.Addrs().Kafka, GroupID: user + ".test", Topic: topic, StartOffset: kafka.FirstOffset, Dialer: d, MaxWait: 100 * time.Millisecond})
		defer r.Close()
		n := 0
		for n < len(people) {
			if _, err := r.FetchMessage(ctx); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	}
	if n, err := read("vss", passwords["vss"], "deliver.vss.civil_status.birth_registration", 15*time.Second); err != nil || n != len(people) {
		t.Fatalf("vss reading its own delivery topic: %d %v", n, err)
	}
	if n, err := read("vss", passwords["vss"], "deliver.gdt.land.land_use_right", 2*time.Second); err == nil || n > 0 {
		t.Fatalf("vss read another agency's topic: %d %v", n, err)
	}
	if n, err := read("vss", passwords["vss"], "civil_status.birth_registration.v1", 2*time.Second); err == nil || n > 0 {
		t.Fatalf("vss read a canonical topic: %d %v", n, err)
	}
	if _, err := read("vss", "wrong-password", "deliver.vss.civil_status.birth_registration", 2*time.Second); err == nil {
		t.Fatal("a wrong password was accepted")
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
