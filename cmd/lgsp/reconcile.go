package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/lgsp-bus/lgsp/broker/identity/linkage/reconcilerun"
	"golang.org/x/term"
)

func init() {
	register(command{Name: "reconcile", Summary: "reconcile a person file (CSV/NDJSON) or a dataset against a population (file, or a bus's register)", Run: runReconcile})
}

const reconcileUsage = `usage: lgsp reconcile (--records FILE | --dataset NAME) (--population FILE | --data-dir DIR | --config FILE)
                     [--out FILE] [--mapping FILE] [--queue-review SOURCE] [--report FILE.html] [--truth FILE] [flags]

Reconciles a ministry's person file (CSV with a header, or NDJSON), or the
current rows of a dataset kept by the bus (--dataset, mapped by the
dataset's identity fields in schemas/catalog.yaml unless --mapping says
otherwise; record_id is the entity key), against the population register,
as a ministry cleaning its data would: records with a personal (or old
CMND) number are verified; the others, and those whose number is unknown
or malformed, are linked by Fellegi–Sunter scoring with a model estimated
from the records themselves. One NDJSON line per record (record_id,
outcome, personal_id, score, explanation, reason) goes to --out; a summary
goes to stdout. Without --mapping, the columns record_id, personal_id,
old_cmnd, full_name, dob, sex, province_code are read. Against the bus's
register (no --population), the mapping's extra fields can compare with
its residence column only.

With --queue-review SOURCE, every review outcome is also queued in the
bus's review queue (the store of --data-dir or --config; the bus may be
running) under SOURCE, once per record however often the run is repeated;
clerks decide at /v1/operator/review and 'lgsp review export --source
SOURCE' hands the decisions back.

`

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("reconcile", stderr, reconcileUsage)
	var o reconcilerun.Options
	fs.StringVar(&o.Records, "records", "", "person file to reconcile (CSV with a header, or NDJSON)")
	fs.StringVar(&o.Records, "input", "", "same as --records")
	fs.StringVar(&o.Dataset, "dataset", "", "instead of --records: reconcile the current rows of this dataset kept in the bus's store (--data-dir or --config)")
	fs.StringVar(&o.QueueSource, "queue-review", "", "queue every review outcome in the bus's review queue (--data-dir or --config) under this source name")
	fs.StringVar(&o.Format, "format", "", "format of --records: csv or ndjson (default: from the extension)")
	fs.StringVar(&o.Encoding, "encoding", "utf-8", "character encoding of --records: utf-8, windows-1258 or tcvn3")
	fs.StringVar(&o.MappingPath, "mapping", "", "JSON field mapping: which columns hold id, name (or its parts), dob (and its layouts), sex, province, old id; extra fields to compare; blocking rules of one's own")
	fs.StringVar(&o.Out, "out", "", "results file, NDJSON (default: <records or dataset>.results.ndjson)")
	fs.StringVar(&o.Out, "output", "", "same as --out")
	fs.StringVar(&o.Population, "population", "", "population snapshot (CSV/NDJSON: personal_id, old_cmnd, full_name, dob, sex, birth_province, deceased); default: the register of the bus in --data-dir / --config")
	fs.StringVar(&o.PopulationMappingPath, "population-mapping", "", "JSON mapping of the --population file's columns when they are not the register's (another ministry's file): personal_id (12 digits), full_name or its parts, dob and dob_layouts, sex, province_code, old_id; same format as --mapping")
	fs.StringVar(&o.PopulationFormat, "population-format", "", "format of --population: csv or ndjson (default: from the extension)")
	fs.StringVar(&o.DataDir, "data-dir", "lgsp-data", "data dir of an embedded bus: its population register (without --population), its datasets (--dataset), its review queue (--queue-review)")
	fs.StringVar(&o.Config, "config", "", "config file of a bus on PostgreSQL: its register, datasets and review queue, as --data-dir")
	fs.StringVar(&o.Report, "report", "", "write an HTML report here (outcomes, match-weight histogram, m/u per comparison level), and its figures as JSON next to it")
	fs.StringVar(&o.ReportJSON, "report-json", "", "where to write the report's JSON (default: --report with the extension .json)")
	fs.StringVar(&o.Truth, "truth", "", "ground truth (record_id, personal_id; as written by lgsp gen): adds precision and recall to the summary and report")
	progress := fs.Bool("progress", false, "show the progress bar even when stderr is not a terminal")
	fs.IntVar(&o.Batch, "batch", 50_000, "records linked together (one_to_one: each citizen is linked at most once per batch)")
	fs.StringVar(&o.Cardinality, "cardinality", "", "one_to_one (a person appears once: a register) or many_to_one (a person may appear in several records: a transactional file); default: the dataset's in schemas/catalog.yaml, else one_to_one")
	fs.Float64Var(&o.LinkProbability, "link-probability", 0, "link a record when its best candidate's probability is at least this (default: the dataset's, else 0.9); the report shows the expected precision and recall at each threshold")
	fs.IntVar(&o.DateWithinDays, "date-within-days", 0, "dates of birth at most this many days apart agree at the within_days level (default: the mapping's date_within_days, else the dataset's, else 7)")
	fs.Float64Var(&o.ReviewProbability, "review-probability", 0, "send a record to review when its best candidate's probability is at least this and below --link-probability (default: the dataset's, else 0.05)")
	fs.IntVar(&o.Sample, "sample", 20_000, "records read first to estimate the linkage model")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (o.Records == "") == (o.Dataset == "") || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("lgsp reconcile: give --records FILE or --dataset NAME (one of them)")
	}
	f, isFile := stderr.(*os.File)
	o.Progress = *progress || isFile && term.IsTerminal(int(f.Fd()))
	return reconcilerun.Run(ctx, o, stdout, stderr)
}
