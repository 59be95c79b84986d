package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/connectors"
)

// runConnectorLive runs `lgsp connector test|delete NAME --config FILE`
// against a connector of the bus's config: test calls the adapter's
// TestConnection, delete its OnDelete (connectors.Test, connectors.Delete).
func runConnectorLive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb := args[0]
	fs := flag.NewFlagSet("connector "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file of the bus (as for lgsp serve); the connector is one of its connectors")
	// NAME may come before or after the flags.
	rest, name := args[1:], ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if name == "" && fs.NArg() == 1 {
		name = fs.Arg(0)
	} else if fs.NArg() != 0 {
		name = ""
	}
	if name == "" || *cfgPath == "" {
		return fmt.Errorf("usage: lgsp connector %s NAME --config FILE", verb)
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	var cc *config.Connector
	for i := range cfg.Connectors {
		if cfg.Connectors[i].Name == name {
			cc = &cfg.Connectors[i]
		}
	}
	if cc == nil {
		return fmt.Errorf("no connector %q in %s", name, *cfgPath)
	}
	spec, ok := connectors.Lookup(cc.Adapter)
	if !ok {
		return fmt.Errorf("connector %s: no adapter %q ('lgsp connector list' shows them)", name, cc.Adapter)
	}
	env := connectors.NewEnv(name, slog.New(slog.NewTextHandler(stderr, nil)))
	if verb == "delete" {
		err := connectors.Delete(ctx, spec, env, cc.Config)
		if errors.Is(err, connectors.ErrNotSupported) {
			fmt.Fprintf(stdout, "OK: %s (%s) holds nothing in its source system\n", name, cc.Adapter)
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "OK: %s released what it held in its source system; remove it from the config (its stored position stays until reset)\n", name)
		return nil
	}
	tested, err := connectors.Test(ctx, spec, env, cc.Config)
	if err != nil {
		return err
	}
	if !tested {
		fmt.Fprintf(stdout, "OK: %s config is valid (adapter %s has no connection test)\n", name, cc.Adapter)
		return nil
	}
	fmt.Fprintf(stdout, "OK: %s\n", name)
	return nil
}
