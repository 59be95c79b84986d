package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
)

// runAuditWitness runs a witness of one bus's access log (see package
// witness): it polls the bus's checkpoint, cosigns the consistent ones and
// serves its newest at GET /checkpoint.
func runAuditWitness(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit witness", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	bus := witness.Bus{URL: *busURL}
	var key []byte
	if *busKey != "" {
		k, err := witness.ParseKey(*busKey)
		if err != nil {
			return fmt.Errorf("--bus-key: %w", err)
		}
		key = k
	}
	w, err := witness.Open(*state, key)
	if errors.Is(err, witness.ErrNoBusKey) {
		// Trust on first use: pin the key the bus publishes now.
		if key, err = bus.PublicKey(ctx); err != nil {
			return fmt.Errorf("fetch the bus key to pin (or pass --bus-key): %w", err)
		}
		fmt.Fprintf(stdout, "pinned the bus key %x (from %s)\n", key, *busURL)
		w, err = witness.Open(*state, key)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "witness key %x; witnessing the log of bus key %x\n", w.PublicKey(), w.BusKey())
	var extra func(context.Context) (audit.Checkpoint, bool, error)
	if *brokers != "" {
		cl := kafkaio.Plain(strings.Split(*brokers, ",")...)
		extra = func(ctx context.Context) (audit.Checkpoint, bool, error) {
			return witness.LatestOnTopic(ctx, cl, *topic, w.BusKey())
		}
	}
	poll := func() error {
		n, err := w.PollOnce(ctx, bus, extra)
		if c, ok := w.Latest(); ok && n > 0 {
			fmt.Fprintf(stdout, "cosigned the checkpoint of %d entries, root %s\n", c.Checkpoint.Size, c.Checkpoint.Root)
		}
		if errors.Is(err, witness.ErrRefused) {
			fmt.Fprintf(stderr, "ALERT: %v\n", err)
			return errSilent
		}
		if err != nil {
			fmt.Fprintf(stderr, "poll failed (retrying): %v\n", err)
		}
		return nil
	}
	if *once {
		return poll()
	}
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		fmt.Fprintf(stdout, "serving the newest cosigned checkpoint at http://%s/checkpoint\n", ln.Addr())
	}
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		_ = poll() // a refusal is alerted and counted; the witness keeps watching
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
