package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit/auditcheck"
	"github.com/lgsp-bus/lgsp/broker/audit/witness"
)

const auditUsage = `usage: lgsp audit verify [--data-dir DIR | --config FILE] [--public-key HEX] [--witness URL]... [--checkpoints-topic NAME]
       lgsp audit witness --bus URL --state DIR [--listen ADDR] [--bus-key HEX] [--every 30s] [--once] [--kafka-brokers LIST]`

func init() {
	register(command{Name: "audit", Summary: "re-check the whole access log (verify), or witness a bus's checkpoints (witness)", Usage: auditUsage, Run: runAudit})
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "witness" {
		return runAuditWitness(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "verify" {
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "data dir of an embedded (dev) bus (default ./lgsp-data)")
	cfgPath := fs.String("config", "", "config file of a bus on PostgreSQL (as for lgsp serve)")
	pubHex := fs.String("public-key", "", "checkpoint public key (hex) as published at /v1/audit/public-key; default: derived from the bus's signing key")
	var witnesses []string
	fs.Func("witness", "base URL of an `lgsp audit witness`; the store must reach its newest cosigned checkpoint with the same root (repeatable)", func(u string) error {
		witnesses = append(witnesses, u)
		return nil
	})
	topic := fs.String("checkpoints-topic", "", "Kafka topic of the published checkpoints, read with the config's kafka.brokers (default: audit.checkpoints_topic when the config names brokers)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	err := auditcheck.Run(ctx, auditcheck.Options{DataDir: *dataDir, ConfigPath: *cfgPath, PublicKey: *pubHex, Witnesses: witnesses, Topic: *topic}, stdout, stderr)
	if errors.Is(err, auditcheck.ErrTampered) {
		return errSilent // the finding is printed
	}
	return err
}

// runAuditWitness runs a witness of one bus's access log (see package
// witness): it polls the bus's checkpoint, cosigns the consistent ones and
// serves its newest at GET /checkpoint.
func runAuditWitness(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("audit witness", stderr, "")
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
