package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/schollz/progressbar/v3"
)

const reconcileUsage = `usage: lgsp reconcile --records FILE (--population FILE | --data-dir DIR | --config FILE)
                     [--out FILE] [--mapping FILE] [--report FILE.html] [--truth FILE] [flags]

Reconciles a ministry's person file (CSV with a header, or NDJSON) against
the population register, as a ministry cleaning its data would: records
with a personal (or old CMND) number are verified; the others, and those
whose number is unknown or malformed, are linked by Fellegi–Sunter scoring
with a model estimated from the file itself. One NDJSON line per record
(record_id, outcome, personal_id, score, explanation, reason) goes to --out;
a summary goes to stdout. Without --mapping, the columns record_id,
personal_id, old_cmnd, full_name, dob, sex, province_code are read.

`

// runReconcile is the `lgsp reconcile` command.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, reconcileUsage); fs.PrintDefaults() }
	var records, out string
	fs.StringVar(&records, "records", "", "person file to reconcile (CSV with a header, or NDJSON)")
	fs.StringVar(&records, "input", "", "same as --records")
	format := fs.String("format", "", "format of --records: csv or ndjson (default: from the extension)")
	encoding := fs.String("encoding", "utf-8", "character encoding of --records: utf-8, windows-1258 or tcvn3")
	mappingPath := fs.String("mapping", "", "JSON field mapping: which columns hold id, name (or its parts), dob (and its layouts), sex, province, old id")
	fs.StringVar(&out, "out", "", "results file, NDJSON (default: <records>.results.ndjson)")
	fs.StringVar(&out, "output", "", "same as --out")
	popPath := fs.String("population", "", "population snapshot (CSV/NDJSON: personal_id, old_cmnd, full_name, dob, sex, birth_province, deceased); default: the register of the bus in --data-dir / --config")
	popFormat := fs.String("population-format", "", "format of --population: csv or ndjson (default: from the extension)")
	dataDir := fs.String("data-dir", "lgsp-data", "data dir of an embedded bus whose population register to use (without --population)")
	cfgPath := fs.String("config", "", "config file of a bus on PostgreSQL whose register to use (without --population)")
	reportPath := fs.String("report", "", "write an HTML report here (outcomes, match-weight histogram, m/u per comparison level), and its figures as JSON next to it")
	reportJSON := fs.String("report-json", "", "where to write the report's JSON (default: --report with the extension .json)")
	truthPath := fs.String("truth", "", "ground truth (record_id, personal_id; as written by lgsp gen): adds precision and recall to the summary and report")
	progress := fs.Bool("progress", false, "show the progress bar even when stderr is not a terminal")
	batch := fs.Int("batch", 50_000, "records linked together (each citizen is linked at most once per batch)")
	sampleN := fs.Int("sample", 20_000, "records read first to estimate the linkage model")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if records == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("lgsp reconcile: --records FILE is required")
	}
	f, err := fileFormat(*format, records, "--format")
	if err != nil {
		return err
	}
	enc, err := linkage.ParseEncoding(*encoding)
	if err != nil {
		return err
	}
	var mapping *linkage.Mapping
	if *mappingPath != "" {
		mf, err := os.Open(*mappingPath)
		if err != nil {
			return err
		}
		m, err := linkage.ParseMapping(mf)
		mf.Close()
		if err != nil {
			return fmt.Errorf("mapping %s: %w", *mappingPath, err)
		}
		mapping = &m
	}
	showBar := *progress || isTerminal(stderr)
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	// the records first: a mapping naming a missing column fails before
	// the population is loaded
	in, err := os.Open(records)
	if err != nil {
		return err
	}
	defer in.Close()
	sample, err := linkage.ReadSample(enc.Decode(in), f, mapping, *sampleN)
	if err != nil {
		return fmt.Errorf("%s: %w", records, err)
	}
	total, err := countRecords(in, f)
	if err != nil {
		return err
	}
	var truth map[string]string
	if *truthPath != "" {
		tf, err := fileFormat("", *truthPath, "")
		if err != nil {
			return err
		}
		t, err := os.Open(*truthPath)
		if err != nil {
			return err
		}
		truth, err = linkage.ReadTruth(t, tf)
		t.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *truthPath, err)
		}
	}

	t0 := time.Now()
	var idx *identity.Index
	var pop *linkage.Population
	if *popPath != "" {
		idx, pop, err = loadPopulationFile(*popPath, *popFormat, showBar, stderr, logf)
	} else {
		idx, pop, err = loadPopulationStore(ctx, *cfgPath, *dataDir, logf)
	}
	if err != nil {
		return err
	}
	logf("population: %d citizens in %.1f s", pop.Len(), time.Since(t0).Seconds())
	logf("estimating the linkage model from %d records…", len(sample))
	cfg := linkage.DefaultConfig()
	linker := linkage.Train(pop, sample, cfg)
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if out == "" {
		out = records + ".results.ndjson"
	}
	of, err := os.Create(out)
	if err != nil {
		return err
	}
	defer of.Close()
	opt := linkage.BulkOptions{Format: f, Mapping: mapping, Source: filepath.Base(records), BatchSize: *batch, Truth: truth}
	var bar *progressbar.ProgressBar
	if showBar {
		bar = progressbar.NewOptions64(int64(max(total, 1)), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("reconciling"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"), progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowElapsedTimeOnFinish())
		opt.Progress = func(n int) {
			if int64(n) > bar.GetMax64() {
				bar.ChangeMax64(int64(n))
			}
			_ = bar.Set(n)
		}
	}
	sum, err := linkage.Reconcile(ctx, idx, linker, enc.Decode(in), of, opt)
	if bar != nil {
		bar.ChangeMax64(int64(max(sum.Records, 1)))
		_ = bar.Set(sum.Records)
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	if err := of.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	logf("results in %s (%d records, %.0f records/s)", out, sum.Records, float64(sum.Records)/sum.Elapsed.Seconds())
	if *reportPath != "" || *reportJSON != "" {
		rep := linkage.NewReport("Reconciliation of "+filepath.Base(records), sum, cfg)
		if err := writeReport(rep, *reportPath, *reportJSON); err != nil {
			return err
		}
		logf("report in %s", strings.Trim(*reportPath+" "+jsonPathFor(*reportPath, *reportJSON), " "))
	}
	e := json.NewEncoder(stdout)
	e.SetIndent("", "  ")
	return e.Encode(reconcileSummary{Records: sum.Records, Outcomes: sum.Outcomes, Confirmed: sum.Confirmed,
		Quality: sum.Quality, Seconds: round2(sum.Elapsed.Seconds()), Results: out})
}

// reconcileSummary is what `lgsp reconcile` prints; the histogram and the
// model are in the report.
type reconcileSummary struct {
	Records   int                      `json:"records"`
	Outcomes  map[identity.Outcome]int `json:"outcomes"`
	Confirmed int                      `json:"mismatch_confirmed"`
	Quality   *linkage.Quality         `json:"quality,omitempty"`
	Seconds   float64                  `json:"elapsed_seconds"`
	Results   string                   `json:"results"`
}

func round2(x float64) float64 { return float64(int64(x*100+0.5)) / 100 }

// fileFormat is the explicit format, or the one of the file's extension
// (.ndjson, .jsonl: NDJSON; anything else CSV).
func fileFormat(explicit, path, flagName string) (linkage.Format, error) {
	f := linkage.Format(strings.ToLower(explicit))
	if f == "" {
		f = linkage.CSV
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".ndjson" || ext == ".jsonl" {
			f = linkage.NDJSON
		}
	}
	if f != linkage.CSV && f != linkage.NDJSON {
		return "", fmt.Errorf("%s must be csv or ndjson, got %q", flagName, explicit)
	}
	return f, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// countRecords counts the lines of a file (less the CSV header) for the
// progress bar's total and rewinds it.
func countRecords(f *os.File, format linkage.Format) (int, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	buf := make([]byte, 1<<20)
	n, last := 0, byte('\n')
	for {
		k, err := f.Read(buf)
		if k > 0 {
			n += bytes.Count(buf[:k], []byte{'\n'})
			last = buf[k-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++
	}
	if format == linkage.CSV && n > 0 {
		n--
	}
	_, err := f.Seek(0, io.SeekStart)
	return n, err
}

// loadPopulationFile builds the exact-lookup index and the linkage
// population from a snapshot file in one pass.
func loadPopulationFile(path, format string, showBar bool, stderr io.Writer, logf func(string, ...any)) (*identity.Index, *linkage.Population, error) {
	pf, err := fileFormat(format, path, "--population-format")
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	hint := int(fi.Size()/70) + 16 // ~70 bytes a row
	var r io.Reader = f
	if showBar {
		bar := progressbar.NewOptions64(fi.Size(), progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("loading population"),
			progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionShowCount())
		pr := progressbar.NewReader(f, bar)
		r = &pr
		defer func() { _ = bar.Finish(); fmt.Fprintln(stderr) }()
	}
	idx := identity.NewIndex(hint)
	rejected := 0
	var scan linkage.PopulationScan
	var scanErr error
	seq := iter.Seq[store.Citizen](func(yield func(store.Citizen) bool) {
		scan, scanErr = linkage.ScanPopulation(r, pf, func(c store.Citizen) bool {
			if idx.Add(c) != nil {
				rejected++
				return true
			}
			return yield(c)
		})
	})
	pop, err := linkage.NewPopulation(seq, hint)
	if scanErr != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, scanErr)
	}
	if err != nil && pop == nil {
		return nil, nil, err
	}
	if scan.Unreadable > 0 || rejected > 0 {
		logf("population: %d of %d rows skipped (%d unreadable, %d malformed: number, date, sex or name)", scan.Unreadable+rejected, scan.Rows, scan.Unreadable, rejected)
	}
	if pop.Len() == 0 {
		return nil, nil, fmt.Errorf("%s: no usable citizen in the population file", path)
	}
	return idx, pop, nil
}

// loadPopulationStore reads the register of a bus's store.
func loadPopulationStore(ctx context.Context, cfgPath, dataDir string, logf func(string, ...any)) (*identity.Index, *linkage.Population, error) {
	cfg := config.Defaults()
	if cfgPath != "" {
		var err error
		if cfg, err = config.Load(cfgPath); err != nil {
			return nil, nil, err
		}
	} else {
		cfg.DataDir = dataDir
	}
	st, err := runtime.OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	n, err := st.CountCitizens(ctx)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("the population register in the store is empty (start the bus once, or give --population FILE)")
	}
	logf("loading %d citizens from the store…", n)
	idx := identity.NewIndex(int(n))
	var scanErr error
	errStop := errors.New("stop")
	seq := iter.Seq[store.Citizen](func(yield func(store.Citizen) bool) {
		scanErr = st.ScanCitizens(ctx, func(c store.Citizen) error {
			if idx.Add(c) != nil {
				return nil
			}
			if !yield(c) {
				return errStop
			}
			return nil
		})
	})
	pop, err := linkage.NewPopulation(seq, int(n))
	if scanErr != nil && !errors.Is(scanErr, errStop) {
		return nil, nil, scanErr
	}
	if err != nil && pop == nil {
		return nil, nil, err
	}
	return idx, pop, nil
}

func jsonPathFor(html, explicit string) string {
	if explicit != "" || html == "" {
		return explicit
	}
	return strings.TrimSuffix(html, filepath.Ext(html)) + ".json"
}

// writeReport writes the HTML report and its JSON.
func writeReport(rep linkage.Report, htmlPath, jsonPath string) error {
	if htmlPath != "" {
		if err := writeFile(htmlPath, func(w io.Writer) error { return rep.WriteHTML(w) }); err != nil {
			return err
		}
	}
	if p := jsonPathFor(htmlPath, jsonPath); p != "" {
		return writeFile(p, func(w io.Writer) error { return rep.WriteJSON(w) })
	}
	return nil
}
