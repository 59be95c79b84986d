package kafkaio

import (
	"time"

	"github.com/segmentio/kafka-go"
)

// Cluster is how the bus reaches Kafka: the bootstrap brokers and, when the
// cluster requires it, the SASL/SCRAM-SHA-512 login.
type Cluster struct {
	Brokers  []string
	User     string // empty: no authentication
	Password string
}

// Plain is a cluster without authentication.
func Plain(brokers ...string) Cluster { return Cluster{Brokers: brokers} }

// RoundTripper is the transport for writers and clients: nil (kafka-go's
// default) without a login. It returns an interface so a nil transport
// stays a nil interface.
func (c Cluster) RoundTripper() kafka.RoundTripper {
	if c.User == "" {
		return nil
	}
	t, err := Transport(c.User, c.Password)
	if err != nil {
		return nil
	}
	return t
}

// Dialer is the dialer for readers (nil: kafka-go's default).
func (c Cluster) Dialer() *kafka.Dialer {
	if c.User == "" {
		return nil
	}
	d, err := Dialer(c.User, c.Password)
	if err != nil {
		return nil
	}
	return d
}

// Client is an admin/metadata client.
func (c Cluster) Client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(c.Brokers...), Timeout: timeout, Transport: c.RoundTripper()}
}
