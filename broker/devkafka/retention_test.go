package devkafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/segmentio/kafka-go"
)

// With a byte cap the broker drops a partition's oldest records (the log
// start moves, the end stays); without one it keeps them all.
func TestRetentionDropsOldest(t *testing.T) {
	for _, tc := range []struct {
		name      string
		capBytes  int64
		wantStart func(int64) bool
	}{
		{"capped", 2048, func(first int64) bool { return first > 0 }},
		{"kept", 0, func(first int64) bool { return first == 0 }},
		// Regression: time retention on by default dropped at once the
		// records whose (source event) timestamp was old.
		{"under the default cap, old events kept", config.Defaults().Kafka.EmbeddedRetentionBytes, func(first int64) bool { return first == 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			def := config.Defaults().Kafka
			b, err := devkafka.Start(devkafka.Options{DataDir: t.TempDir(), Retention: def.EmbeddedRetention, RetentionBytes: tc.capBytes, RetentionEvery: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			cl := kafkaio.Plain(b.Addr())
			if err := kafkaio.EnsureTopics(ctx, cl, []kafkaio.Topic{{Name: "t.ret", Partitions: 1}}, 1); err != nil {
				t.Fatal(err)
			}
			w := kafkaio.NewWriter(cl, kafkaio.WriterOptions{})
			defer w.Close()
			for i := 0; i < 40; i++ { // one batch each, ~1 KB
				if err := w.WriteMessages(ctx, kafka.Message{Topic: "t.ret", Value: make([]byte, 1000), Time: time.Unix(1_700_000_000, 0)}); err != nil {
					t.Fatal(err)
				}
			}
			b.ApplyRetention()
			res, err := cl.Client(5*time.Second).ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
				"t.ret": {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)}}})
			if err != nil {
				t.Fatal(err)
			}
			p := res.Topics["t.ret"][0]
			if p.LastOffset != 40 || !tc.wantStart(p.FirstOffset) {
				t.Fatalf("offsets %d..%d after retention (cap %d bytes)", p.FirstOffset, p.LastOffset, tc.capBytes)
			}
			fmt.Fprintf(t.Output(), "kept offsets %d..%d\n", p.FirstOffset, p.LastOffset)
		})
	}
}
