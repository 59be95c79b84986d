package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/schemas"
)

const qualityUsage = `usage: lgsp quality [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--source SOURCE] [--dataset DATASET] [--json] (--data-dir DIR | --config FILE)

The data-quality scorecard kept in the bus's store (the bus may be
running): per source and dataset, records received, valid, reconciled by
outcome, duplicates, the indicators correct, sufficient, clean and alive,
and the top rejection reasons. Days are Vietnam days; the default period
is the last 30 days. --json prints what GET /v1/quality answers, with the
daily trend.

`

func init() {
	register(command{Name: "quality", Summary: "print the data-quality scorecard of the sources (correct, sufficient, clean, alive) and the top rejection reasons", Usage: qualityUsage, Run: runQuality})
}

// runQuality is the `lgsp quality` command.
func runQuality(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quality", stderr, qualityUsage)
	dataDir := fs.String("data-dir", "lgsp-data", "data dir of an embedded bus")
	cfgPath := fs.String("config", "", "config file of a bus on PostgreSQL")
	from := fs.String("from", "", "first day (default: 29 days before --to)")
	to := fs.String("to", "", "last day (default: today)")
	source := fs.String("source", "", "only this source")
	dataset := fs.String("dataset", "", "only this dataset")
	asJSON := fs.Bool("json", false, "print the scorecard as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("lgsp quality: unexpected argument %q", fs.Arg(0))
	}
	cat, err := schemas.Load()
	if err != nil {
		return err
	}
	st, err := runtime.OpenBusStore(ctx, *cfgPath, *dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	q, err := quality.New(quality.Config{Store: st, Catalog: cat})
	if err != nil {
		return err
	}
	qq := quality.Query{Source: *source, Dataset: *dataset}
	if qq.FromDay, qq.ToDay, err = q.Period(*from, *to, time.Now()); err != nil {
		return fmt.Errorf("--%w", err) // the flag's name
	}
	sc, err := q.Scorecard(ctx, quality.Viewer{Name: "cli", Operator: true}, qq)
	if err != nil {
		return fmt.Errorf("lgsp quality: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(sc)
	}
	return quality.WriteTable(stdout, sc)
}
