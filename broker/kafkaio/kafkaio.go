// Package kafkaio owns how the bus talks to Kafka through
// github.com/segmentio/kafka-go: writer settings that are safe by default
// (acks from all in-sync replicas, murmur2 partitioning like the Java
// client), topic creation and a reachability check.
package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"
)

// WriterOptions tunes a writer; zero values take the defaults.
type WriterOptions struct {
	// BatchSize is the most messages per partition batch (default 1000).
	BatchSize int
	// BatchTimeout bounds how long a partial batch waits for more messages (default 5ms).
	BatchTimeout time.Duration
	// Async makes WriteMessages return once queued; Completion reports the outcome.
	Async bool
	// Completion is called for every batch written (Async only).
	Completion func(messages []kafka.Message, err error)
}

// NewWriter returns a writer for any topic (each message names its topic).
// RequiredAcks is RequireAll: kafka-go's default is no acks at all, which
// would let the bus acknowledge a source position for a lost record.
func NewWriter(cl Cluster, o WriterOptions) *kafka.Writer {
	if o.BatchSize == 0 {
		o.BatchSize = 1000
	}
	if o.BatchTimeout == 0 {
		o.BatchTimeout = 5 * time.Millisecond
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(cl.Brokers...),
		Transport:    cl.RoundTripper(),
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    o.BatchSize,
		BatchBytes:   4 << 20,
		BatchTimeout: o.BatchTimeout,
		WriteTimeout: 30 * time.Second,
		MaxAttempts:  10,
		Async:        o.Async,
		Completion:   o.Completion,
		// Topics are created up front with their partition counts; a typo in
		// a topic name must fail, not create a stray topic.
		AllowAutoTopicCreation: false,
	}
}

// Topic is a topic to create.
type Topic struct {
	Name       string
	Partitions int
	// Compacted keeps the last value per key (for state topics).
	Compacted bool
	// RetainForever never deletes messages (retention.ms and
	// retention.bytes -1), for records auditors rely on.
	RetainForever bool
}

// EnsureTopics creates the topics that do not exist yet.
func EnsureTopics(ctx context.Context, cl Cluster, topics []Topic, replication int) error {
	if replication <= 0 {
		replication = 1
	}
	client := cl.Client(15 * time.Second)
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		tc := kafka.TopicConfig{Topic: t.Name, NumPartitions: t.Partitions, ReplicationFactor: replication}
		if t.Compacted {
			tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}
		}
		if t.RetainForever {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: "retention.ms", ConfigValue: "-1"},
				kafka.ConfigEntry{ConfigName: "retention.bytes", ConfigValue: "-1"})
		}
		req.Topics = append(req.Topics, tc)
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("kafkaio: create topics (is Kafka reachable at %v?): %w", cl.Brokers, err)
	}
	var errs []error
	for name, e := range resp.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("topic %s: %w", name, e))
		}
	}
	return errors.Join(errs...)
}

// Ping checks that the cluster answers a metadata request.
func Ping(ctx context.Context, cl Cluster) error {
	client := cl.Client(5 * time.Second)
	_, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}})
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) {
			return fmt.Errorf("kafkaio: Kafka unreachable at %v: %w", cl.Brokers, err)
		}
		return fmt.Errorf("kafkaio: metadata: %w", err)
	}
	return nil
}

// GroupLag is how many messages of topics the consumer group has not
// committed yet: the sum over partitions of end offset minus committed
// offset (a partition with no commit counts from its first offset).
func GroupLag(ctx context.Context, cl Cluster, group string, topics []string) (int64, error) {
	ps, err := GroupPositions(ctx, cl, group, topics)
	if err != nil {
		return 0, err
	}
	var lag int64
	for _, p := range ps {
		lag += p.End - p.Next
	}
	return lag, nil
}
