// Package devkafka owns the embedded Kafka-protocol broker of `lgsp dev`: an
// in-process github.com/twmb/franz-go/pkg/kfake cluster persisted under the
// data dir, reachable by any Kafka client (kcat, kafka-go, librdkafka) on a
// loopback port.
package devkafka

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Options configures the embedded broker.
type Options struct {
	// DataDir holds the broker's segments and state; reopening the same dir
	// resumes topics, offsets and committed consumer-group offsets.
	DataDir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// Partitions is the default partition count of auto-created topics.
	Partitions int
}

// Start opens (or reopens) the broker.
func Start(o Options) (*Broker, error) {
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("devkafka: create data dir: %w", err)
	}
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(o.Port),
		kfake.ClusterID("lgsp-dev"),
		kfake.DataDir(filepath.Clean(o.DataDir)),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(o.Partitions),
	)
	if err != nil {
		return nil, fmt.Errorf("devkafka: start embedded broker on port %d (is another process using it? pass another --kafka-port): %w", o.Port, err)
	}
	addrs := c.ListenAddrs()
	return &Broker{cluster: c, addr: addrs[0]}, nil
}

// Addr is the bootstrap address, "127.0.0.1:9092".
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker and flushes its state to the data dir.
func (b *Broker) Close() { b.cluster.Close() }
