package witness

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/segmentio/kafka-go"
)

// DefaultTopic is the topic the bus publishes its checkpoints to.
const DefaultTopic = "audit.checkpoints"

// Topic is the checkpoints topic to create: one partition, so the
// checkpoints keep their order, and nothing is ever deleted.
func Topic(name string) kafkaio.Topic {
	return kafkaio.Topic{Name: name, Partitions: 1, RetainForever: true}
}

// Publisher writes the bus's checkpoints to the checkpoints topic, keyed
// by the bus's public key (hex), the value a Signed.
type Publisher struct {
	w     *kafka.Writer
	topic string
	pub   ed25519.PublicKey
}

// NewPublisher writes to topic on cl; Close it after the last checkpoint.
func NewPublisher(cl kafkaio.Cluster, topic string, pub ed25519.PublicKey) *Publisher {
	w := kafkaio.NewWriter(cl, kafkaio.WriterOptions{BatchSize: 1})
	w.MaxAttempts, w.WriteTimeout = 3, 10*time.Second // a checkpoint is retried by the next one
	return &Publisher{w: w, topic: topic, pub: pub}
}

// Publish writes cp and waits for Kafka to acknowledge it.
func (p *Publisher) Publish(ctx context.Context, cp audit.Checkpoint) error {
	v, err := json.Marshal(FromCheckpoint(p.pub, cp))
	if err != nil {
		return err
	}
	if err := p.w.WriteMessages(ctx, kafka.Message{Topic: p.topic, Key: []byte(hex.EncodeToString(p.pub)), Value: v}); err != nil {
		return fmt.Errorf("witness: publish checkpoint of %d entries to %s: %w", cp.Size, p.topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (p *Publisher) Close() error { return p.w.Close() }

// topicWindow is how many of the last messages LatestOnTopic reads at a
// time, going back until one is a checkpoint of the bus.
const topicWindow = 512

// LatestOnTopic returns the largest checkpoint signed by pub among the last
// messages of the topic that carry one (ok false: none on the topic). Other
// messages (other logs, garbage) are skipped: anyone who can write to the
// topic could add them, but none can forge the bus's signature.
func LatestOnTopic(ctx context.Context, cl kafkaio.Cluster, topic string, pub ed25519.PublicKey) (cp audit.Checkpoint, ok bool, err error) {
	client := cl.Client(15 * time.Second)
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(0), kafka.LastOffsetOf(0)},
	}})
	if err != nil {
		return cp, false, fmt.Errorf("witness: read the offsets of %s: %w", topic, err)
	}
	var first, end int64 = -1, -1
	for _, p := range offs.Topics[topic] {
		if p.Partition != 0 {
			continue
		}
		if p.Error != nil {
			return cp, false, fmt.Errorf("witness: read the offsets of %s: %w", topic, p.Error)
		}
		first, end = p.FirstOffset, p.LastOffset
	}
	if first < 0 {
		return cp, false, fmt.Errorf("witness: topic %s has no partition 0", topic)
	}
	key := hex.EncodeToString(pub)
	for end > first {
		from := max(first, end-topicWindow)
		err := readRange(ctx, client, topic, from, end, func(k, v []byte) {
			if string(k) != key {
				return
			}
			var s Signed
			if json.Unmarshal(v, &s) != nil {
				return
			}
			c, err := s.Checkpoint(pub)
			if err != nil {
				return
			}
			if !ok || c.Size > cp.Size {
				cp, ok = c, true
			}
		})
		if err != nil || ok {
			return cp, ok, err
		}
		end = from
	}
	return cp, false, nil
}

// readRange hands each message of partition 0 with offset in [from, end)
// to fn.
func readRange(ctx context.Context, client *kafka.Client, topic string, from, end int64, fn func(k, v []byte)) error {
	for off := from; off < end; {
		resp, err := client.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: off, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: time.Second})
		if err != nil {
			return fmt.Errorf("witness: read %s at offset %d: %w", topic, off, err)
		}
		if resp.Error != nil {
			return fmt.Errorf("witness: read %s at offset %d: %w", topic, off, resp.Error)
		}
		next := off
		for {
			r, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("witness: read %s at offset %d: %w", topic, next, err)
			}
			if r.Offset < off || r.Offset >= end {
				continue
			}
			k, _ := readBytes(r.Key)
			v, _ := readBytes(r.Value)
			fn(k, v)
			next = r.Offset + 1
		}
		if next == off { // nothing at or after off below end: compacted gap or end
			return nil
		}
		off = next
	}
	return nil
}

func readBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	return io.ReadAll(b)
}
