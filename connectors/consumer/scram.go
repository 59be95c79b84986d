package consumer

import (
	"fmt"

	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// newSCRAM is the SCRAM-SHA-512 login the bus issues agencies' Kafka
// credentials for, from kafka-go's own sasl/scram client.
func newSCRAM(user, pass string) (sasl.Mechanism, error) {
	m, err := scram.Mechanism(scram.SHA512, user, pass)
	if err != nil {
		return nil, fmt.Errorf("consumer: SCRAM login for %s: %w", user, err)
	}
	return m, nil
}
