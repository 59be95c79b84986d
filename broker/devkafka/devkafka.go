// Package devkafka owns the embedded Kafka-protocol broker of `lgsp dev`: an
// in-process github.com/twmb/franz-go/pkg/kfake cluster persisted under the
// data dir, reachable by any Kafka client (kcat, kafka-go, librdkafka) on a
// loopback port.
//
// With [Options.Auth] set the broker authenticates every connection with
// SASL/SCRAM-SHA-512 and checks every request against ACLs (see
// broker/kafkaauth); without it, as in tests and plain `lgsp dev`, it is
// open to any local client.
package devkafka

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	auth    *kafkaauth.Config
	// stop ends the retention loop, which closes stopped.
	stop, stopped chan struct{}
	closeOnce     sync.Once
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
	// Auth, when set, turns on SASL/SCRAM-SHA-512 and ACLs: the bus logs in
	// as Auth.Superuser (which bypasses ACLs), each agency and source as its
	// own user with only the ACLs of its [kafkaauth.Principal]; anonymous
	// clients and wrong passwords are refused. Build it with
	// kafkaauth.Store.Config. Nil keeps the broker open.
	Auth *kafkaauth.Config
	// Retention drops a partition's records older than this (0: keep
	// everything), by each record's own timestamp (CreateTime, as Kafka),
	// and RetentionBytes its oldest records past this many bytes (0: no
	// cap), so a dev bus left running does not fill the disk. Checked
	// every RetentionEvery (default a tenth of Retention, between 1s and
	// 1 min; 1 min with RetentionBytes alone).
	Retention      time.Duration
	RetentionBytes int64
	RetentionEvery time.Duration
}

// Start opens (or reopens) the broker.
func Start(o Options) (*Broker, error) {
	if o.Partitions <= 0 {
		o.Partitions = 3
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("devkafka: create data dir: %w", err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(o.Port),
		kfake.ClusterID("lgsp-dev"),
		kfake.DataDir(filepath.Clean(o.DataDir)),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(o.Partitions),
	}
	if o.Auth != nil {
		if err := prepareAuth(o); err != nil {
			return nil, err
		}
		opts = append(opts,
			kfake.EnableSASL(),
			kfake.EnableACLs(),
			kfake.Superuser(kafkaauth.Mechanism, o.Auth.Superuser.User, o.Auth.Superuser.Password),
			// librdkafka and KafkaJS clients need the SASL answers of a
			// real broker (saslcompat.go).
			kfake.ListenFn(saslCompatListen),
		)
	}
	// Always explicit: kfake's own default is Kafka's 7 days by timestamp.
	ms, bytes := int64(-1), int64(-1)
	if o.Retention > 0 {
		ms = o.Retention.Milliseconds()
	}
	if o.RetentionBytes > 0 {
		bytes = o.RetentionBytes
	}
	opts = append(opts, kfake.BrokerConfigs(map[string]string{"log.retention.ms": fmt.Sprint(ms), "log.retention.bytes": fmt.Sprint(bytes)}))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("devkafka: start embedded broker on port %d (is another process using it? pick another port): %w", o.Port, err)
	}
	addrs := c.ListenAddrs()
	b := &Broker{cluster: c, addr: addrs[0], auth: o.Auth, stop: make(chan struct{}), stopped: make(chan struct{})}
	if o.Retention > 0 || o.RetentionBytes > 0 {
		every := o.RetentionEvery
		if every <= 0 {
			every = time.Minute
			if o.Retention > 0 {
				every = min(max(o.Retention/10, time.Second), time.Minute)
			}
		}
		go b.retain(every)
	} else {
		close(b.stopped)
	}
	return b, nil
}

// retain applies the retention every period: kfake checks broker-wide
// retention only for topics with their own retention settings, which the
// bus's topics do not have.
func (b *Broker) retain(every time.Duration) {
	defer close(b.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.cluster.ApplyRetention()
		}
	}
}

// ApplyRetention drops what Options.Retention and RetentionBytes no
// longer keep, now rather than at the next periodic check.
func (b *Broker) ApplyRetention() { b.cluster.ApplyRetention() }

// prepareAuth writes the users and ACLs of o.Auth into the broker's state
// before it serves anyone. kfake seeds users and ACLs from its options only
// into a new data dir and otherwise reloads what it persisted, so a
// changed registry, a rotated password or a data dir first used without
// auth would not take effect. Instead the state is opened once on an
// in-memory network that no other process can reach, with SASL and ACLs
// off, reconciled with kafkaauth.Apply like any Kafka cluster, and closed;
// Start then reopens it with SASL and ACLs on.
func prepareAuth(o Options) error {
	if o.Auth.Superuser.User == "" || o.Auth.Superuser.Password == "" {
		return fmt.Errorf("devkafka: Auth needs the bus superuser (build it with kafkaauth.Store.Config)")
	}
	var vn kfake.VirtualNetwork
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.ListenFn(vn.Listen),
		kfake.ClusterID("lgsp-dev"),
		kfake.DataDir(filepath.Clean(o.DataDir)),
		kfake.DefaultNumPartitions(o.Partitions),
	)
	if err != nil {
		return fmt.Errorf("devkafka: open %s to set up Kafka users (is another bus using this data dir?): %w", o.DataDir, err)
	}
	defer c.Close()
	tr := &kafka.Transport{Dial: vn.DialContext}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...), Transport: tr, Timeout: 15 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafkaauth.Apply(ctx, client, o.Auth); err != nil {
		return fmt.Errorf("devkafka: set up Kafka users and ACLs: %w", err)
	}
	return nil
}

// ApplyAuth brings the running broker's users and ACLs to cfg (after an
// agency, agreement or credential change), logging in as the bus
// superuser. The broker must have been started with Auth.
func (b *Broker) ApplyAuth(ctx context.Context, cfg *kafkaauth.Config) error {
	if b.auth == nil {
		return fmt.Errorf("devkafka: the broker runs without auth; start it with Options.Auth to manage users")
	}
	tr, err := kafkaio.Transport(b.auth.Superuser.User, b.auth.Superuser.Password)
	if err != nil {
		return err
	}
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(b.addr), Transport: tr, Timeout: 15 * time.Second}
	if err := kafkaauth.Apply(ctx, client, cfg); err != nil {
		return fmt.Errorf("devkafka: %w", err)
	}
	return nil
}

// Addr is the bootstrap address, "127.0.0.1:9092".
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker and flushes its state to the data dir.
func (b *Broker) Close() {
	b.closeOnce.Do(func() { close(b.stop) })
	<-b.stopped
	b.cluster.Close()
}
