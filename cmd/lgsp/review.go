package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/lgsp-bus/lgsp/internal/atomicfile"
	"io"
	"os"
	"time"

	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
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
	register(command{Name: "review", Summary: "the review queue of a reconciliation: list a source's items, export the clerks' decisions as NDJSON", Run: runReview})
}

// runReview is the `lgsp review` command.
func runReview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "export") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stderr, reviewUsage)
			return flag.ErrHelp
		}
		fmt.Fprint(stderr, reviewUsage)
		return errors.New("lgsp review: say list or export")
	}
	fs := flag.NewFlagSet("review "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reviewUsage); fs.PrintDefaults() }
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
	switch *status {
	case "", store.ReviewPending, store.ReviewAccepted, store.ReviewRejected:
	default:
		return fmt.Errorf("--status must be pending, accepted or rejected, got %q", *status)
	}
	var afterSeq int64
	if *after != "" {
		var err error
		if afterSeq, err = review.ParseID(*after); err != nil {
			return fmt.Errorf("--after: %w", err)
		}
	}
	if args[0] == "export" && *source == "" {
		return errors.New("lgsp review export: --source SOURCE is required")
	}
	st, err := runtime.OpenBusStore(ctx, *cfgPath, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	rs, ok := st.(store.ReviewStore)
	if !ok {
		return fmt.Errorf("the store (%T) has no review queue", st)
	}
	if args[0] == "list" {
		return reviewList(ctx, rs, *source, *status, afterSeq, *limit, stdout, stderr)
	}
	return reviewExport(ctx, rs, *source, *cursorPath, *out, stdout, stderr)
}

// listedItem is one line of `lgsp review list`.
type listedItem struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	RecordID    string          `json:"record_id"`
	Status      string          `json:"status"`
	PersonalID  string          `json:"personal_id"`
	Score       float64         `json:"score"`
	Probability float64         `json:"probability"`
	Reason      string          `json:"reason"`
	Explanation json.RawMessage `json:"explanation,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	DecidedBy   string          `json:"decided_by,omitempty"`
	DecidedAt   *time.Time      `json:"decided_at,omitempty"`
	Note        string          `json:"note,omitempty"`
}

func reviewList(ctx context.Context, rs store.ReviewStore, source, status string, after int64, limit int, stdout, stderr io.Writer) error {
	items, next, err := review.ListSource(ctx, rs, source, status, after, limit)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(stdout)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, it := range items {
		li := listedItem{ID: review.ID(it.Seq), Source: it.Source, RecordID: it.RecordID, Status: it.Status, PersonalID: it.PersonalID,
			Score: it.Score, Probability: it.Probability, Reason: it.Reason, Explanation: it.Explanation, CreatedAt: it.Created,
			DecidedBy: it.DecidedBy, Note: it.Note}
		if !it.Decided.IsZero() {
			li.DecidedAt = &it.Decided
		}
		if err := enc.Encode(li); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if len(items) == store.ReviewListLimit(limit) {
		fmt.Fprintf(stderr, "more items: --after %s\n", review.ID(next))
	}
	return nil
}

func reviewExport(ctx context.Context, rs store.ReviewStore, source, cursorPath, outPath string, stdout, stderr io.Writer) error {
	var cur review.Cursor
	if cursorPath != "" {
		f, err := os.Open(cursorPath)
		switch {
		case errors.Is(err, os.ErrNotExist): // a first export
		case err != nil:
			return err
		default:
			cur, err = review.ReadCursor(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", cursorPath, err)
			}
		}
	}
	w, file := stdout, (*os.File)(nil)
	if outPath != "" {
		var err error
		if file, err = os.OpenFile(outPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return err
		}
		defer file.Close()
		w = file
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	next, n, err := review.ExportDecisions(ctx, rs, source, cur, time.Now(), func(d review.Decision) error { return enc.Encode(d) })
	if err != nil {
		return err
	}
	// the decisions durable first, then the cursor that skips them
	if err := bw.Flush(); err != nil {
		return err
	}
	if file != nil {
		if err := file.Sync(); err != nil {
			return fmt.Errorf("writing %s: %w", outPath, err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", outPath, err)
		}
	}
	if cursorPath != "" {
		if err := atomicfile.Write(cursorPath, 0o600, func(w io.Writer) error { return review.WriteCursor(w, next) }); err != nil {
			return fmt.Errorf("saving the cursor (the decisions were written and will be exported again next time): %w", err)
		}
	}
	fmt.Fprintf(stderr, "%d decisions of %s exported\n", n, source)
	return nil
}
