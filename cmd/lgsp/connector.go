package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lgsp-bus/lgsp/connectors"
	// Adapters register themselves by name; the synthetic one is
	// registered by examples/synthetic (bus.go).
	_ "github.com/lgsp-bus/lgsp/connectors/files"
	_ "github.com/lgsp-bus/lgsp/connectors/pgcdc"
	_ "github.com/lgsp-bus/lgsp/connectors/pgpoll"
)

const connectorUsage = `usage: lgsp connector list                        the registered connector adapters
       lgsp connector spec NAME                   an adapter's documented config
       lgsp connector test NAME --config FILE     check a configured connector against its source (exit 1 on failure)
       lgsp connector delete NAME --config FILE   release what a removed connector holds in its source (slot, publication)`

func init() {
	register(command{Name: "connector", Summary: "connector adapters (list, spec NAME) and configured connectors (test NAME, delete NAME)", Usage: connectorUsage, Run: runConnector})
}

func runConnector(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && (args[0] == "test" || args[0] == "delete"):
		return runConnectorLive(ctx, args, stdout, stderr)
	case len(args) == 1 && args[0] == "list":
		for _, s := range connectors.Adapters() {
			fmt.Fprintf(stdout, "%-16s %s\n", s.Name, s.Summary)
		}
		return nil
	case len(args) == 2 && args[0] == "spec":
		s, ok := connectors.Lookup(args[1])
		if !ok {
			return fmt.Errorf("no adapter %q; 'lgsp connector list' shows the registered ones", args[1])
		}
		fmt.Fprint(stdout, s.FormatConfigDoc())
		return nil
	}
	return errors.New(connectorUsage)
}
