package devkafka

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// Usage is the usage line of `lgsp kafka`.
const Usage = "usage: lgsp kafka [--data-dir DIR] [--port 9092] [--partitions 3]\n"

// Main runs `lgsp kafka`: the embedded broker alone, open to any local
// client (no SASL), so that several `lgsp serve` instances on one machine
// can share it as their Kafka (examples/cluster). It prints the bootstrap
// address and serves until ctx is done, then flushes its state to the
// data dir and returns nil.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage); fs.PrintDefaults() }
	dataDir := fs.String("data-dir", "lgsp-kafka", "where the broker keeps topics, offsets and consumer groups; reopening it resumes them")
	port := fs.Int("port", 9092, "port on 127.0.0.1 (0 picks a free one; the address is printed)")
	partitions := fs.Int("partitions", 3, "default partition count of auto-created topics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("lgsp kafka takes no arguments, got %q\n%s", fs.Args(), Usage)
	}
	if *port < 0 || *port > 65535 {
		return fmt.Errorf("--port must be a port number (0 to 65535), got %d", *port)
	}
	if *partitions < 1 {
		return fmt.Errorf("--partitions must be at least 1, got %d", *partitions)
	}
	b, err := Start(Options{DataDir: *dataDir, Port: *port, Partitions: *partitions})
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "lgsp kafka: embedded broker on %s (data in %s, no authentication: loopback only); stop with Ctrl-C\n", b.Addr(), *dataDir)
	<-ctx.Done()
	return nil
}
