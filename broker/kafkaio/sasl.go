package kafkaio

import (
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASLMechanismName is the only SASL mechanism the bus issues credentials
// for (see broker/kafkaauth): SCRAM-SHA-512, so no password crosses the wire.
const SASLMechanismName = "SCRAM-SHA-512"

// Mechanism returns the SCRAM-SHA-512 login of user for kafka-go, using
// kafka-go's own sasl/scram client.
func Mechanism(user, pass string) (sasl.Mechanism, error) {
	if user == "" || pass == "" {
		return nil, errors.New("kafkaio: SASL user and password are both required (take them from the bus's kafka credentials file or ask the bus operator)")
	}
	m, err := scram.Mechanism(scram.SHA512, user, pass)
	if err != nil {
		return nil, fmt.Errorf("kafkaio: SCRAM login for %s: %w", user, err)
	}
	return m, nil
}

// Transport returns a kafka-go transport that logs in as user with
// SCRAM-SHA-512 on every connection. Use it as the Transport of a
// kafka.Writer or kafka.Client:
//
//	tr, err := kafkaio.Transport(user, pass)
//	w := kafkaio.NewWriter(brokers, kafkaio.WriterOptions{})
//	w.Transport = tr
//	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
//
// Call CloseIdleConnections when done with it.
func Transport(user, pass string) (*kafka.Transport, error) {
	m, err := Mechanism(user, pass)
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{
		DialTimeout: 5 * time.Second,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: 6 * time.Second,
		SASL:        m,
	}, nil
}

// Dialer returns a kafka-go dialer that logs in as user with SCRAM-SHA-512.
// Use it as the Dialer of a kafka.ReaderConfig (readers do not take a
// Transport):
//
//	d, err := kafkaio.Dialer(user, pass)
//	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "vss.cards", Topic: "deliver.vss...", Dialer: d})
func Dialer(user, pass string) (*kafka.Dialer, error) {
	m, err := Mechanism(user, pass)
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{
		Timeout:       10 * time.Second,
		DualStack:     true,
		SASLMechanism: m,
	}, nil
}
