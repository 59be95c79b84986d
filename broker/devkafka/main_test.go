package devkafka_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/segmentio/kafka-go"
)

// lgsp kafka on port 0 prints the address it really listens on, serves
// any Kafka client there (create a topic, produce, consume), and returns
// nil once its context is done.
func TestMainServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		err := devkafka.Main(ctx, []string{"--data-dir", t.TempDir(), "--port", "0", "--partitions", "2"}, outW, &stderr)
		outW.Close()
		done <- err
	}()
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("lgsp kafka printed no address: %v (stderr %q)", err, stderr.String())
	}
	go io.Copy(io.Discard, outR) //nolint:errcheck // drain anything printed later
	addr := regexp.MustCompile(`127\.0\.0\.1:(\d+)`).FindString(line)
	if addr == "" || strings.HasSuffix(addr, ":0") {
		t.Fatalf("lgsp kafka did not print its real address: %q", line)
	}

	const topic = "cluster.try"
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	resp, err := c.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}}})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if e := resp.Errors[topic]; e != nil {
		t.Fatalf("create topic: %v", e)
	}
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("hello")}); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	m, err := r.ReadMessage(ctx)
	r.Close()
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	if string(m.Key) != "k" || string(m.Value) != "hello" {
		t.Fatalf("consumed %q=%q, want k=hello", m.Key, m.Value)
	}

	// An auto-created topic gets --partitions partitions.
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.CreateTopics(kafka.TopicConfig{Topic: "cluster.auto", NumPartitions: -1, ReplicationFactor: -1}); err != nil {
		t.Fatalf("create with broker defaults: %v", err)
	}
	parts, err := conn.ReadPartitions("cluster.auto")
	if err != nil || len(parts) != 2 {
		t.Fatalf("topic with the broker's default: %d partitions (%v), want --partitions 2", len(parts), err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Main after cancel: %v, want nil", err)
	}
}

// Bad flags are refused with a message naming the flag, before anything starts.
func TestMainRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--port", "70000"}, "--port"},
		{[]string{"--partitions", "0"}, "--partitions"},
		{[]string{"extra"}, "no arguments"},
		{[]string{"--nope"}, "not defined"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := devkafka.Main(context.Background(), append([]string{"--data-dir", t.TempDir()}, tt.args...), io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
			t.Errorf("%v: err %v, stderr %q; want an error naming %q", tt.args, err, stderr.String(), tt.want)
		}
	}
}
