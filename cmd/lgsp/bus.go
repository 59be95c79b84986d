package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/bench"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
	"github.com/lgsp-bus/lgsp/examples/ministries"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
)

func init() {
	register(command{Name: "dev", Summary: "run the whole bus on embedded parts (Kafka-protocol broker, SQLite)",
		Run: func(ctx context.Context, a []string, o, e io.Writer) error { return runBus(ctx, runtime.Dev, a, o, e) }})
	register(command{Name: "serve", Summary: "run the bus against Kafka and PostgreSQL (--config FILE, LGSP_* env)",
		Run: func(ctx context.Context, a []string, o, e io.Writer) error {
			return runBus(ctx, runtime.Serve, a, o, e)
		}})
	register(command{Name: "bench", Summary: "measure the ingest pipeline against a minimal parse + validate + produce program, or end to end with -e2e", Run: runBench})
	register(command{Name: "citizen-token", Summary: "mint a citizen's token for /v1/citizen/accesses (dev stand-in for the e-ID sign-in)", Run: runCitizenToken})
	register(command{Name: "health", Summary: "exit 0 if URL answers 200 (container health checks)", Usage: "usage: lgsp health URL", Run: runHealth})
}

func runBus(ctx context.Context, mode runtime.Mode, args []string, stdout, stderr io.Writer) error {
	fs := newFlags(string(mode), stderr, "")
	var cfgPath string
	cfg := config.Defaults()
	if mode == runtime.Serve {
		fs.StringVar(&cfgPath, "config", "", "YAML config file (every setting also has an LGSP_* environment variable)")
	}
	dataDir := fs.String("data-dir", "", "data directory (default ./lgsp-data)")
	apiAddr := fs.String("api-addr", "", "REST API listen address (default :8080)")
	regAddr := fs.String("registry-addr", "", "schema registry listen address (default :8081)")
	kafkaPort := fs.Int("kafka-port", -1, "embedded Kafka port (dev, default 9092)")
	population := fs.Int("population", 0, "synthetic citizens (default 100000)")
	rate := fs.Float64("rate", -1, "synthetic records per second per ministry (default 20, 0 = unlimited)")
	limit := fs.Uint64("limit", 0, "stop each synthetic ministry stream after this many records (0 = unbounded)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if mode == runtime.Serve {
		cfg, err = config.Load(cfgPath)
	} else {
		err = config.ApplyEnv(&cfg)
	}
	if err != nil {
		return err
	}
	override := map[string]func(){ // only the flags given override the config
		"data-dir":      func() { cfg.DataDir = *dataDir },
		"api-addr":      func() { cfg.API.Addr = *apiAddr },
		"registry-addr": func() { cfg.Registry.Addr = *regAddr },
		"kafka-port":    func() { cfg.Kafka.EmbeddedPort = *kafkaPort },
		"population":    func() { cfg.Synthetic.Population = *population },
		"rate":          func() { cfg.Synthetic.RatePerSecond = *rate },
		"limit":         func() { cfg.Synthetic.Limit = *limit },
		"log-level":     func() { cfg.Log.Level = *logLevel },
	}
	fs.Visit(func(f *flag.Flag) {
		if set := override[f.Name]; set != nil { // --config is not one
			set()
		}
	})
	if err := cfg.Validate(string(mode)); err != nil {
		return err
	}
	return runtime.Run(ctx, plug.Synthetic(runtime.Options{Mode: mode, Config: cfg, Logger: cfg.Log.Logger(stderr), Status: stdout}))
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", stderr, "")
	var p bench.Plan
	brokers := p.Flags(fs)
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p.Brokers = strings.FieldsFunc(*brokers, func(r rune) bool { return r == ',' })
	p.Progress, p.Citizen, p.Load, p.Logger = stdout, synthetic.RegisteredCitizen, bench.LoadCommand("bench", "-load"), config.Log{Level: "warn"}.Logger(stderr)
	p.Land = func() (bench.LandRegistry, error) {
		land, err := ministries.Load("land")
		return bench.LandRegistry{SchemaSQL: land.SchemaSQL, Adapter: land.Connector.Adapter, Config: land.Connector.Config}, err
	}
	res, err := p.Run(ctx)
	switch {
	case err == nil && *asJSON:
		return json.NewEncoder(stdout).Encode(res)
	case err == nil:
		fmt.Fprintln(stdout, res)
	}
	return err
}

func runHealth(ctx context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: lgsp health URL")
	}
	err := runtime.CheckHealth(ctx, args[0])
	if err == nil {
		fmt.Fprintln(stdout, "ok")
	}
	return err
}

func runCitizenToken(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("citizen-token", stderr, "")
	dataDir := fs.String("data-dir", "lgsp-data", "data dir holding citizen-token.key")
	ttl := fs.Duration("ttl", time.Hour, "validity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: lgsp citizen-token [--data-dir DIR] [--ttl 1h] PERSONAL_NUMBER")
	}
	tok, err := runtime.MintCitizenToken(*dataDir, fs.Arg(0), *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
