package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/bench"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/connectors"
	// Adapters register themselves by name.
	_ "github.com/lgsp-bus/lgsp/connectors/files"
	_ "github.com/lgsp-bus/lgsp/connectors/pgcdc"
	_ "github.com/lgsp-bus/lgsp/connectors/pgpoll"
	_ "github.com/lgsp-bus/lgsp/examples/synthetic"
)

const usage = `usage: lgsp <command> [flags]

commands:
  dev      run the whole bus on embedded parts (Kafka-protocol broker, SQLite)
  serve    run the bus against Kafka and PostgreSQL (--config FILE, LGSP_* env)
  bench    measure the ingest pipeline against a bare Kafka producer
  connector list   list the registered connector adapters
  connector spec NAME       an adapter's documented config
  connector test NAME --config FILE     check a configured connector against its source (exit 1 on failure)
  connector delete NAME --config FILE   release what a removed connector holds in its source (slot, publication)
  policy check [DIR]        lint agreement files (file and line of every problem)
  policy diff OLD NEW       which agency gains or loses which fields, before applying
  reconcile --records FILE --population FILE --out FILE   reconcile a person file (CSV/NDJSON) against a population (file, or a bus's register)
  review list|export        the review queue of a reconciliation: a source's items, and the clerks' decisions as NDJSON
  gen      write a synthetic population, a corrupted ministry extract and its ground truth
  citizen-token NUMBER      mint a citizen's token for /v1/citizen/accesses (dev stand-in for the e-ID sign-in)
  cert issue|list|revoke    agencies' client certificates for mutual TLS (api.tls.enabled)
  audit verify     re-check the whole access log (hash chain, Merkle roots, signatures)
  health URL       exit 0 if URL answers 200 (container health checks)

Run 'lgsp <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "dev":
		err = runBus(ctx, runtime.Dev, args[1:], stdout, stderr)
	case "serve":
		err = runBus(ctx, runtime.Serve, args[1:], stdout, stderr)
	case "bench":
		err = runBench(ctx, args[1:], stdout)
	case "connector":
		if len(args) > 1 && (args[1] == "test" || args[1] == "delete") {
			err = runConnectorLive(ctx, args[1:], stdout, stderr)
			break
		}
		err = runConnector(args[1:], stdout)
	case "health":
		err = runHealth(ctx, args[1:], stdout)
	case "audit":
		err = runAudit(ctx, args[1:], stdout, stderr)
	case "policy":
		err = runPolicy(args[1:], stdout)
	case "reconcile":
		err = runReconcile(ctx, args[1:], stdout, stderr)
	case "review":
		err = runReview(ctx, args[1:], stdout, stderr)
	case "gen":
		err = runGen(ctx, args[1:], stdout, stderr)
	case "citizen-token":
		err = runCitizenToken(args[1:], stdout, stderr)
	case "cert":
		err = runCert(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "lgsp: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errTampered) || errors.Is(err, errFindings) || errors.Is(err, errRefused) {
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "lgsp %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func runBus(ctx context.Context, mode runtime.Mode, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(string(mode), flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	if mode == runtime.Serve {
		var err error
		if cfg, err = config.Load(cfgPath); err != nil {
			return err
		}
	} else if err := config.ApplyEnv(&cfg); err != nil {
		return err
	}
	set := func(f string, apply func()) {
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name == f {
				apply()
			}
		})
	}
	set("data-dir", func() { cfg.DataDir = *dataDir })
	set("api-addr", func() { cfg.API.Addr = *apiAddr })
	set("registry-addr", func() { cfg.Registry.Addr = *regAddr })
	set("kafka-port", func() { cfg.Kafka.EmbeddedPort = *kafkaPort })
	set("population", func() { cfg.Synthetic.Population = *population })
	set("rate", func() { cfg.Synthetic.RatePerSecond = *rate })
	set("limit", func() { cfg.Synthetic.Limit = *limit })
	set("log-level", func() { cfg.Log.Level = *logLevel })
	if err := cfg.Validate(string(mode)); err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level(cfg.Log.Level)}))
	bus, err := runtime.Start(ctx, runtime.Options{Mode: mode, Config: cfg, Logger: logger, Status: stdout})
	if err != nil {
		return err
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping: draining in-flight records and saving positions…")
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus.Close(closeCtx)
	fmt.Fprintln(stdout, "stopped cleanly")
	return nil
}

func level(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(s)))
	return l
}

func runBench(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("n", 200_000, "records to push through each path")
	runs := fs.Int("runs", 3, "repetitions; the median is reported")
	dataset := fs.String("dataset", "land.land_use_right", "dataset pushed: land.land_use_right (JSON Schema) or tax.taxpayer (Avro)")
	source := fs.String("source", "push", "push: records handed to the pipeline; postgres: a land registry table of -n rows snapshotted and streamed by the postgres-cdc connector")
	pgURL := fs.String("postgres-url", os.Getenv("LGSP_TEST_POSTGRES_URL"), "PostgreSQL with wal_level=logical, for -source postgres")
	updates := fs.Int("updates", 0, "rows updated after the snapshot, for -source postgres (default n/10)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *source == "postgres" {
		if *updates == 0 {
			*updates = max(*n/10, 1)
		}
		res, err := bench.RunCDC(ctx, bench.CDCOptions{PostgresURL: *pgURL, Rows: *n, Updates: *updates, Progress: stdout})
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, res)
		return nil
	} else if *source != "push" {
		return fmt.Errorf("bench: -source must be push or postgres, got %q", *source)
	}
	res, err := bench.Run(ctx, bench.Options{Records: *n, Runs: *runs, Dataset: *dataset, Progress: stdout})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res)
	return nil
}

func runConnector(args []string, stdout io.Writer) error {
	switch {
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
	return errors.New("usage: lgsp connector list | lgsp connector spec NAME")
}

func runHealth(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: lgsp health URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", args[0], resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

func runCitizenToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("citizen-token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "lgsp-data", "data dir holding citizen-token.key")
	ttl := fs.Duration("ttl", time.Hour, "validity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: lgsp citizen-token [--data-dir DIR] [--ttl 1h] PERSONAL_NUMBER")
	}
	cfg := config.Defaults()
	cfg.DataDir = *dataDir
	if err := config.ApplyEnv(&cfg); err != nil {
		return err
	}
	v, err := runtime.CitizenVerifier(cfg)
	if err != nil {
		return err
	}
	tok, err := v.Mint(fs.Arg(0), *ttl)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, tok)
	return nil
}
