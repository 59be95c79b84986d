package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/runtime"
)

const reviewUsage = `usage: lgsp review list   [--source SOURCE] [--status pending|accepted|rejected] [--after ID] [--limit N] (--data-dir DIR | --config FILE)
       lgsp review export --source SOURCE [--cursor FILE] [--out FILE] (--data-dir DIR | --config FILE)

The review queue of the identity linkage, in the bus's store (the bus may
be running). Clerks decide items with the operator token at
/v1/operator/review; these commands are the ministry's side.

list writes the items as NDJSON, oldest first; when there are more, the
--after to pass for the next page goes to stderr.

export writes the decided items of SOURCE as NDJSON (review_id, record_id,
status, personal_id: the number to apply, "" when rejected, candidate,
decided_by, decided_at, note). With --cursor, only those not exported by an
earlier run with the same cursor file, which is then updated once the
output is written: decisions are exported at least once (a run that fails
halfway exports its part again), record_id tells them apart. --out is
appended to.

`

func init() {
	register(command{Name: "review", Summary: "the review queue of a reconciliation: list a source's items, export the clerks' decisions as NDJSON", Usage: reviewUsage, Run: runReview})
}

// runReview is the `lgsp review` command.
func runReview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "export") {
		fmt.Fprint(stderr, reviewUsage)
		return errors.New("lgsp review: say list or export")
	}
	fs := newFlags("review "+args[0], stderr, reviewUsage)
	source := fs.String("source", "", "the source the items were queued under (lgsp reconcile --queue-review SOURCE, or a dataset for streamed records)")
	dataDir := fs.String("data-dir", "lgsp-data", "data dir of an embedded bus")
	cfgPath := fs.String("config", "", "config file of a bus on PostgreSQL")
	status := fs.String("status", "", "list: only items with this status (pending, accepted, rejected)")
	after := fs.String("after", "", "list: items after this id (the cursor printed by the previous page)")
	limit := fs.Int("limit", 100, "list: at most this many items (up to 1000)")
	cursorPath := fs.String("cursor", "", "export: cursor file; read if it exists, and rewritten after the export")
	out := fs.String("out", "", "export: append the decisions to this file (default: stdout)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("lgsp review %s: unexpected argument %q", args[0], fs.Arg(0))
	}
	st, err := runtime.OpenBusStore(ctx, *cfgPath, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "list" {
		return review.WriteList(ctx, st, *source, *status, *after, *limit, stdout, stderr)
	}
	return review.ExportFile(ctx, st, *source, *cursorPath, *out, stdout, stderr)
}
