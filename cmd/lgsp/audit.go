package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/runtime"
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
	cfg := config.Defaults()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if cfg.Store.Driver == "sqlite" && cfg.Store.URL == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "lgsp.db")); err != nil {
			return fmt.Errorf("no embedded store in %s (pass --data-dir or --config): %w", cfg.DataDir, err)
		}
	}
	var pub ed25519.PublicKey
	if *pubHex != "" {
		k, err := hex.DecodeString(*pubHex)
		if err != nil || len(k) != ed25519.PublicKeySize {
			return errors.New("--public-key must be 64 hex characters")
		}
		pub = k
	} else {
		if cfg.Audit.SigningKey == "" {
			if _, err := os.Stat(runtime.SigningKeyPath(cfg.DataDir)); err != nil {
				return fmt.Errorf("no signing key in %s; pass --public-key: %w", cfg.DataDir, err)
			}
		}
		var err error
		if pub, err = runtime.AuditPublicKey(cfg); err != nil {
			return err
		}
	}
	st, err := runtime.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	known, err := witnessedCheckpoints(ctx, cfg, pub, witnesses, *topic, stderr)
	if err != nil {
		return err
	}
	rep, err := audit.VerifyLogWith(ctx, st, pub, known)
	if err != nil {
		return err
	}
	if rep.FirstBad != 0 || rep.Problem != "" {
		fmt.Fprintf(stdout, "TAMPERED: first bad entry %d: %s\n(%d entries before it verified; the store was not changed)\n", rep.FirstBad, rep.Problem, rep.Entries)
		return errSilent
	}
	if rep.SearchFilterProblem != "" {
		fmt.Fprintf(stdout, "SEARCH FILTER ALTERED: %s\n(the %d entries verified; delete that bucket's row of audit_bucket_filters and the bus rebuilds it at its next start)\n", rep.SearchFilterProblem, rep.Entries)
		return errSilent
	}
	if rep.WitnessProblem != "" {
		fmt.Fprintf(stdout, "TAMPERED: %s\n(%d entries in the store chain and verify by themselves; the store was not changed: restore the database from a backup taken after that checkpoint)\n", rep.WitnessProblem, rep.Entries)
		return errSilent
	}
	fmt.Fprintf(stdout, "audit log OK: %d entries, %d signed checkpoints\n", rep.Entries, rep.Checkpoints)
	if w := rep.Witnessed; w != nil {
		fmt.Fprintf(stdout, "consistent with the checkpoint of %d entries witnessed by %s\n", w.Size, w.From)
	} else if len(known) == 0 {
		fmt.Fprintln(stdout, "no witnessed checkpoint checked (pass --witness or --checkpoints-topic): a log cut together with its checkpoints would go unnoticed")
	}
	if rep.Latest != nil {
		fmt.Fprintf(stdout, "latest checkpoint: entry %d covers entries 1..%d, root %s\n", rep.Latest.Seq, rep.Latest.Size, hex.EncodeToString(rep.Latest.Root))
		if after := rep.Entries - rep.Latest.Seq; after > 0 {
			fmt.Fprintf(stdout, "%d entries after it are hash-chained and will be covered by the next checkpoint\n", after)
		}
	} else if rep.Entries > 0 {
		fmt.Fprintln(stdout, "no checkpoint yet: entries are hash-chained only")
	}
	return nil
}

// witnessedCheckpoints gathers the checkpoints held outside the store:
// each witness's newest and the newest on the checkpoints topic.
func witnessedCheckpoints(ctx context.Context, cfg config.Config, pub ed25519.PublicKey, witnesses []string, topic string, stderr io.Writer) ([]audit.Known, error) {
	var known []audit.Known
	for _, u := range witnesses {
		cp, err := witness.Fetch(ctx, nil, u, pub, nil)
		switch {
		case errors.Is(err, witness.ErrNoCheckpoint):
			fmt.Fprintf(stderr, "witness %s has cosigned no checkpoint yet\n", u)
		case err != nil:
			return nil, fmt.Errorf("witness %s: %w", u, err)
		default:
			known = append(known, audit.Known{Checkpoint: cp, From: "witness " + u})
		}
	}
	if topic == "" && len(cfg.Kafka.Brokers) > 0 {
		topic = cfg.Audit.CheckpointsTopic
	}
	if topic != "" {
		if len(cfg.Kafka.Brokers) == 0 {
			return nil, errors.New("--checkpoints-topic needs kafka.brokers in the config (--config)")
		}
		cl := kafkaio.Cluster{Brokers: cfg.Kafka.Brokers, User: cfg.Kafka.User, Password: cfg.Kafka.Password}
		cp, ok, err := witness.LatestOnTopic(ctx, cl, topic, pub)
		if err != nil {
			return nil, err
		}
		if ok {
			known = append(known, audit.Known{Checkpoint: cp, From: "kafka topic " + topic})
		}
	}
	return known, nil
}
