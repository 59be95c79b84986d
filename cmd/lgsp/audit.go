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

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
)

// errTampered makes `lgsp audit verify` exit non-zero without a second message.
var errTampered = errors.New("the audit log failed verification")

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("usage: lgsp audit verify [--data-dir DIR | --config FILE] [--public-key HEX]")
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "data dir of an embedded (dev) bus (default ./lgsp-data)")
	cfgPath := fs.String("config", "", "config file of a bus on PostgreSQL (as for lgsp serve)")
	pubHex := fs.String("public-key", "", "checkpoint public key (hex) as published at /v1/audit/public-key; default: derived from the bus's signing key")
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
	rep, err := audit.VerifyLog(ctx, st, pub)
	if err != nil {
		return err
	}
	if rep.FirstBad != 0 || rep.Problem != "" {
		fmt.Fprintf(stdout, "TAMPERED: first bad entry %d: %s\n(%d entries before it verified; the store was not changed)\n", rep.FirstBad, rep.Problem, rep.Entries)
		return errTampered
	}
	if rep.SearchFilterProblem != "" {
		fmt.Fprintf(stdout, "SEARCH FILTER ALTERED: %s\n(the %d entries verified; delete that bucket's row of audit_bucket_filters and the bus rebuilds it at its next start)\n", rep.SearchFilterProblem, rep.Entries)
		return errTampered
	}
	fmt.Fprintf(stdout, "audit log OK: %d entries, %d signed checkpoints\n", rep.Entries, rep.Checkpoints)
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
