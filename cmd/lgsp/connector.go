package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/connectors"
	// Adapters register themselves by name; the synthetic one is
	// registered by connectors/synthetic (bus.go).
	_ "github.com/lgsp-bus/lgsp/connectors/files"
	_ "github.com/lgsp-bus/lgsp/connectors/pgcdc"
	_ "github.com/lgsp-bus/lgsp/connectors/pgpoll"
)

const connectorUsage = `usage: lgsp connector list                        the registered connector adapters
       lgsp connector spec NAME                   an adapter's documented config
       lgsp connector test NAME --config FILE     check a configured connector against its source (exit 1 on failure)
       lgsp connector delete NAME --config FILE   release what a removed connector holds in its source (slot, publication)`

func init() {
	register(command{Name: "connector", Summary: "connector adapters (list, spec NAME) and configured connectors (test NAME, delete NAME)", Usage: connectorUsage, HelpAnywhere: true, Run: runConnector})
}

func runConnector(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && (args[0] == "test" || args[0] == "delete"):
		// NAME and --config FILE in either order.
		var name, cfgPath string
		for i := 1; i < len(args); i++ {
			if a := strings.TrimLeft(args[i], "-"); a == "config" && i+1 < len(args) {
				cfgPath, i = args[i+1], i+1
			} else if name == "" && !strings.HasPrefix(args[i], "-") {
				name = args[i]
			} else {
				name = ""
				break
			}
		}
		if name == "" || cfgPath == "" {
			return fmt.Errorf("usage: lgsp connector %s NAME --config FILE", args[0])
		}
		cfg, err := config.Load(cfgPath)
		if err != nil {
			return err
		}
		msg, err := runtime.OperateConnector(ctx, cfg, args[0], name, slog.New(slog.NewTextHandler(stderr, nil)))
		if err == nil {
			fmt.Fprintln(stdout, msg)
		}
		return err
	case len(args) == 1 && args[0] == "list":
		_, err := fmt.Fprint(stdout, connectors.FormatAdapterList())
		return err
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
