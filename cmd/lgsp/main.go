// Command lgsp is the LGSP bus: `lgsp dev` runs it on embedded parts,
// `lgsp serve --config FILE` against Kafka and PostgreSQL, `lgsp bench`
// measures it. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
