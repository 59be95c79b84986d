package devkafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/segmentio/kafka-go"
)

// A real kafka-go client produces to and consumes from the embedded broker,
// and the data and committed offsets survive a restart on the same data dir.
func TestKafkaGoRoundTripSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	b, err := devkafka.Start(devkafka.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	brokers := []string{b.Addr()}
	if err := kafkaio.EnsureTopics(ctx, kafkaio.Plain(brokers...), []kafkaio.Topic{{Name: "t.one.v1", Partitions: 2}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := kafkaio.EnsureTopics(ctx, kafkaio.Plain(brokers...), []kafkaio.Topic{{Name: "t.one.v1", Partitions: 2}}, 1); err != nil {
		t.Fatalf("creating an existing topic must be a no-op: %v", err)
	}
	w := kafkaio.NewWriter(kafkaio.Plain(brokers...), kafkaio.WriterOptions{})
	var msgs []kafka.Message
	for i := 0; i < 10; i++ {
		msgs = append(msgs, kafka.Message{Topic: "t.one.v1", Key: []byte(fmt.Sprint(i % 3)), Value: []byte(fmt.Sprint(i))})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	read := func(n int) []string {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "g", Topic: "t.one.v1", MaxWait: 100 * time.Millisecond})
		defer r.Close()
		var got []string
		for len(got) < n {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("after %d: %v", len(got), err)
			}
			got = append(got, string(m.Value))
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		return got
	}
	if got := read(5); len(got) != 5 {
		t.Fatal(got)
	}
	b.Close()

	b2, err := devkafka.Start(devkafka.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	brokers = []string{b2.Addr()}
	if got := read(5); len(got) != 5 {
		t.Fatalf("after restart the group should resume and read the 5 remaining: %v", got)
	}
}
