// Package auditcheck re-checks a bus's whole access log from beside it
// (lgsp audit verify): the hash chain, the Merkle roots and signatures of
// the checkpoints, the search filters, and consistency with the checkpoints
// held outside the store (witnesses, the checkpoints topic).
package auditcheck

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/runtime"
)

// ErrTampered is returned, after the finding is printed, when the log
// fails verification.
var ErrTampered = errors.New("the audit log failed verification")

// Options say which bus's log to check and against what.
type Options struct {
	DataDir, ConfigPath string   // where the bus's store and keys are
	PublicKey           string   // checkpoint public key (hex); "": derived from the bus's signing key
	Witnesses           []string // base URLs of witnesses
	Topic               string   // checkpoints topic ("": audit.checkpoints_topic when the config names brokers)
}

// Run verifies and prints the findings on stdout (notes on stderr).
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	cfg := config.Defaults()
	if o.ConfigPath != "" {
		var err error
		if cfg, err = config.Load(o.ConfigPath); err != nil {
			return err
		}
	}
	if o.DataDir != "" {
		cfg.DataDir = o.DataDir
	}
	if cfg.Store.Driver == "sqlite" && cfg.Store.URL == "" {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, "lgsp.db")); err != nil {
			return fmt.Errorf("no embedded store in %s (pass --data-dir or --config): %w", cfg.DataDir, err)
		}
	}
	var pub ed25519.PublicKey
	if o.PublicKey != "" {
		k, err := hex.DecodeString(o.PublicKey)
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
	known, err := witnessedCheckpoints(ctx, cfg, pub, o.Witnesses, o.Topic, stderr)
	if err != nil {
		return err
	}
	rep, err := audit.VerifyLogWith(ctx, st, pub, known)
	if err != nil {
		return err
	}
	if rep.FirstBad != 0 || rep.Problem != "" {
		fmt.Fprintf(stdout, "TAMPERED: first bad entry %d: %s\n(%d entries before it verified; the store was not changed)\n", rep.FirstBad, rep.Problem, rep.Entries)
		return ErrTampered
	}
	if rep.SearchFilterProblem != "" {
		fmt.Fprintf(stdout, "SEARCH FILTER ALTERED: %s\n(the %d entries verified; delete that bucket's row of audit_bucket_filters and the bus rebuilds it at its next start)\n", rep.SearchFilterProblem, rep.Entries)
		return ErrTampered
	}
	if rep.WitnessProblem != "" {
		fmt.Fprintf(stdout, "TAMPERED: %s\n(%d entries in the store chain and verify by themselves; the store was not changed: restore the database from a backup taken after that checkpoint)\n", rep.WitnessProblem, rep.Entries)
		return ErrTampered
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
