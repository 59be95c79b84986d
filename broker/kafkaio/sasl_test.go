package kafkaio

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The SCRAM-SHA-512 client logs in to a real Kafka-protocol broker through
// a Dialer, a Transport (Client and Writer) and a Reader, and a wrong
// password is refused.
func TestSCRAMAgainstBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(SASLMechanismName, "bus=1,x", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]

	tests := []struct {
		name, user, pass string
		ok               bool
	}{
		{"right password (user name with = and , escaped)", "bus=1,x", "s3cret", true},
		{"wrong password", "bus=1,x", "s3cret!", false},
		{"unknown user", "nobody", "s3cret", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Dialer(tc.user, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := d.DialContext(ctx, "tcp", addr)
			if tc.ok != (err == nil) {
				t.Fatalf("dial: ok=%v, got %v", tc.ok, err)
			}
			if err == nil {
				conn.Close()
			} else if !errors.Is(err, kafka.SASLAuthenticationFailed) {
				t.Fatalf("want %v, got %v", kafka.SASLAuthenticationFailed, err)
			}
		})
	}

	tr, err := Transport("bus=1,x", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr}
	if _, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "t", NumPartitions: 1, ReplicationFactor: 1}}}); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(Plain(addr), WriterOptions{})
	w.Transport = tr
	if err := w.WriteMessages(ctx, kafka.Message{Topic: "t", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	d, _ := Dialer("bus=1,x", "s3cret")
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: "g", Topic: "t", Dialer: d, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil || string(m.Value) != "v" {
		t.Fatalf("read %q %v", m.Value, err)
	}
}
