package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/audit/auditcheck"
)

const auditUsage = `usage: lgsp audit verify [--data-dir DIR | --config FILE] [--public-key HEX] [--witness URL]... [--checkpoints-topic NAME]
       lgsp audit witness --bus URL --state DIR [--listen ADDR] [--bus-key HEX] [--every 30s] [--once] [--kafka-brokers LIST]`

func init() {
	register(command{Name: "audit", Summary: "re-check the whole access log (verify), or witness a bus's checkpoints (witness)", Usage: auditUsage, Run: runAudit})
}

// urls is a repeatable flag.
type urls []string

func (u *urls) String() string     { return strings.Join(*u, ",") }
func (u *urls) Set(v string) error { *u = append(*u, v); return nil }

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
	var witnesses urls
	fs.Var(&witnesses, "witness", "base URL of an `lgsp audit witness`; the store must reach its newest cosigned checkpoint with the same root (repeatable)")
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
