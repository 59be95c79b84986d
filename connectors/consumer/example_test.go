package consumer_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/lgsp-bus/lgsp/connectors/consumer"
	"github.com/segmentio/kafka-go"
)

// An agency's minimal program: Vietnam Social Security reads the birth
// registrations its agreement releases and issues a health insurance card
// for each child. Nothing is committed until the card is issued; a failure
// is retried; a duplicate delivery is skipped; a message that cannot be
// read is logged and set aside without stopping the stream.
func ExampleConsumer() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	c, err := consumer.New(consumer.Config{
		Brokers:     []string{"127.0.0.1:9092"},
		GroupID:     "vss-card-issuer",
		Agency:      "vss",
		Datasets:    []string{"civil_status.birth_registration"}, // → deliver.vss.civil_status.birth_registration
		RegistryURL: "http://127.0.0.1:8081",
		// In production, with the credentials the bus operator issued:
		RegistryToken: os.Getenv("LGSP_API_TOKEN"), // the agency's API token
		Username:      os.Getenv("LGSP_KAFKA_USER"),
		Password:      os.Getenv("LGSP_KAFKA_PASSWORD"),
	},
		consumer.WithLogger(logger),
		consumer.WithOnBadMessage(func(ctx context.Context, m kafka.Message, err error) {
			// Keep it for a person to look at: a file, a table, a ticket.
			logger.Error("set aside", "topic", m.Topic, "offset", m.Offset, "error", err)
		}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = c.Run(ctx, func(ctx context.Context, e consumer.Event) error {
		if e.Op == "d" {
			return nil // a cancelled registration: nothing to issue
		}
		child := e.After // only the fields agreement e.Agreement releases
		if e.Identity != "verified" {
			// Not a matter of retrying: a person must check the identity.
			return consumer.Permanent(errors.New("identity " + e.Identity))
		}
		// Issue the card idempotently, keyed by (e.Source, e.ID): delivery
		// is at-least-once, and the dedupe window does not survive a restart.
		return issueCard(ctx, e.Source+" "+e.ID, child)
	})
	if err != nil {
		log.Fatal(err)
	}
}

func issueCard(ctx context.Context, idempotencyKey string, child map[string]any) error { return nil }
