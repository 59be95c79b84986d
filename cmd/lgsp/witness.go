package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit/witness"
)

// runAuditWitness runs a witness of one bus's access log (see package
// witness): it polls the bus's checkpoint, cosigns the consistent ones and
// serves its newest at GET /checkpoint.
func runAuditWitness(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit witness", flag.ContinueOnError)
	fs.SetOutput(stderr)
	busURL := fs.String("bus", "", "API base URL of the bus (its /v1/audit/checkpoint and proofs need no login); required")
	state := fs.String("state", "", "state dir: the witness key, the pinned bus key and cosigned.jsonl; required")
	listen := fs.String("listen", "", "host:port to serve GET /checkpoint, /public-key and /metrics on (empty: do not serve)")
	busKey := fs.String("bus-key", "", "the bus's checkpoint public key (hex, from /v1/audit/public-key); default: pinned at first use")
	every := fs.Duration("every", 30*time.Second, "how often to poll the bus")
	once := fs.Bool("once", false, "poll once and exit (non-zero when a checkpoint is refused)")
	brokers := fs.String("kafka-brokers", "", "comma-separated Kafka brokers to also read the checkpoints topic from")
	topic := fs.String("checkpoints-topic", witness.DefaultTopic, "the checkpoints topic (with --kafka-brokers)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *busURL == "" || *state == "" {
		return errors.New("usage: lgsp audit witness --bus URL --state DIR [--listen ADDR] [--bus-key HEX] [--every 30s] [--once] [--kafka-brokers LIST]")
	}
	err := witness.Watch(ctx, witness.WatchOptions{Bus: *busURL, State: *state, Listen: *listen, BusKey: *busKey, Every: *every, Once: *once, Brokers: *brokers, Topic: *topic}, stdout, stderr)
	if errors.Is(err, witness.ErrRefused) {
		return errSilent // alerted
	}
	return err
}
