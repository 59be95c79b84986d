package witness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
)

// WatchOptions configure Watch; the flags of lgsp audit witness document them.
type WatchOptions struct {
	Bus, State, Listen, BusKey string
	Every                      time.Duration
	Once                       bool
	Brokers, Topic             string // comma-separated brokers to also read the checkpoints topic from
}

// errRefusedOnce ends a single poll (Once) that refused a checkpoint.
var errRefusedOnce = fmt.Errorf("%w (alerted above)", ErrRefused)

// Watch runs a witness of one bus's access log: it pins the bus key on
// first use, polls the bus's checkpoint every o.Every, cosigns the
// consistent ones, alerts on stderr on a refusal and keeps watching, and
// serves its newest at GET /checkpoint when o.Listen is set. With o.Once
// it polls once and returns an error wrapping ErrRefused on a refusal.
func Watch(ctx context.Context, o WatchOptions, stdout, stderr io.Writer) error {
	bus := Bus{URL: o.Bus}
	var key []byte
	if o.BusKey != "" {
		k, err := ParseKey(o.BusKey)
		if err != nil {
			return fmt.Errorf("--bus-key: %w", err)
		}
		key = k
	}
	w, err := Open(o.State, key)
	if errors.Is(err, ErrNoBusKey) {
		// Trust on first use: pin the key the bus publishes now.
		if key, err = bus.PublicKey(ctx); err != nil {
			return fmt.Errorf("fetch the bus key to pin (or pass --bus-key): %w", err)
		}
		fmt.Fprintf(stdout, "pinned the bus key %x (from %s)\n", key, o.Bus)
		w, err = Open(o.State, key)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "witness key %x; witnessing the log of bus key %x\n", w.PublicKey(), w.BusKey())
	var extra func(context.Context) (audit.Checkpoint, bool, error)
	if o.Brokers != "" {
		cl := kafkaio.Plain(strings.Split(o.Brokers, ",")...)
		extra = func(ctx context.Context) (audit.Checkpoint, bool, error) {
			return LatestOnTopic(ctx, cl, o.Topic, w.BusKey())
		}
	}
	poll := func() error {
		n, err := w.PollOnce(ctx, bus, extra)
		if c, ok := w.Latest(); ok && n > 0 {
			fmt.Fprintf(stdout, "cosigned the checkpoint of %d entries, root %s\n", c.Checkpoint.Size, c.Checkpoint.Root)
		}
		if errors.Is(err, ErrRefused) {
			fmt.Fprintf(stderr, "ALERT: %v\n", err)
			return errRefusedOnce
		}
		if err != nil {
			fmt.Fprintf(stderr, "poll failed (retrying): %v\n", err)
		}
		return nil
	}
	if o.Once {
		return poll()
	}
	if o.Listen != "" {
		ln, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		fmt.Fprintf(stdout, "serving the newest cosigned checkpoint at http://%s/checkpoint\n", ln.Addr())
	}
	t := time.NewTicker(o.Every)
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
