// Package reconcilerun runs a reconciliation the way a ministry cleaning
// its data does (lgsp reconcile): a person file (CSV or NDJSON), or the
// current rows of a dataset the bus keeps, is linked against a population
// register (a snapshot file, or the register of a bus's store) with
// package linkage, and the results, a summary and optionally a report are
// written. The command only parses flags into Options.
package reconcilerun

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/schollz/progressbar/v3"
)

// Options are the settings of one run; the flags of lgsp reconcile
// document each.
type Options struct {
	Records, Dataset string // exactly one: a person file, or a dataset kept by the bus
	QueueSource      string // queue review outcomes under this source ("" = no)
	Format, Encoding string // of Records ("" = from the extension; "" = utf-8)
	MappingPath      string
	// PopulationMappingPath maps the columns of a --population file of
	// another shape (another ministry's file): see
	// linkage.ScanPopulationMapped ("" = PopulationColumns).
	PopulationMappingPath string
	Out                   string // results file ("" = <records or dataset>.results.ndjson)
	Population            string // population snapshot file ("" = the bus's register)
	PopulationFormat      string
	DataDir, Config       string // where the bus's store is
	Report                string // HTML report ("" = none)
	ReportJSON            string
	Truth                 string // ground truth file ("" = none)
	Progress              bool   // draw progress bars on stderr
	Batch, Sample         int
	// Cardinality, LinkProbability and ReviewProbability override the
	// dataset's settings in the catalog (--dataset) and the linker's
	// defaults ("" and 0: not given).
	Cardinality                        string
	LinkProbability, ReviewProbability float64
	// DateWithinDays overrides the mapping's date_within_days and the
	// dataset's (0: not given).
	DateWithinDays int
}

// linkConfig is the linker's configuration for a run: the defaults, then
// the dataset's catalog settings (nil for a file), then the run's flags.
func linkConfig(o Options, ds *schemas.Linkage, mapping *linkage.Mapping) (linkage.Config, error) {
	cfg := linkage.DefaultConfig()
	card, link, rev, near := o.Cardinality, o.LinkProbability, o.ReviewProbability, o.DateWithinDays
	if mapping != nil {
		near = cmp.Or(near, mapping.DateWithinDays)
	}
	if ds != nil {
		card = cmp.Or(card, ds.Cardinality)
		link = cmp.Or(link, ds.LinkProbability)
		rev = cmp.Or(rev, ds.ReviewProbability)
		near = cmp.Or(near, ds.DateWithinDays)
	}
	if near < 0 || near > linkage.MaxDateNearDays {
		return cfg, fmt.Errorf("--date-within-days %d: give 0 to %d (0: the default, 7)", near, linkage.MaxDateNearDays)
	}
	cfg.DateNearDays = near
	var err error
	if cfg.Cardinality, err = linkage.ParseCardinality(card); err != nil {
		return cfg, err
	}
	cfg.LinkProbability = cmp.Or(link, cfg.LinkProbability)
	cfg.ReviewProbability = cmp.Or(rev, cfg.ReviewProbability)
	if err := cfg.CheckThresholds(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// Run reconciles and prints the summary as JSON on stdout; progress and
// notes go to stderr.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) error {
	if (o.Records == "") == (o.Dataset == "") {
		return errors.New("give --records FILE or --dataset NAME (one of them)")
	}
	if o.Encoding == "" {
		o.Encoding = "utf-8"
	}
	if o.QueueSource != "" {
		if err := checkQueueSource(o.QueueSource); err != nil {
			return err
		}
	}
	f := linkage.NDJSON
	if o.Records != "" {
		var err error
		if f, err = fileFormat(o.Format, o.Records, "--format"); err != nil {
			return err
		}
	}
	enc, err := linkage.ParseEncoding(o.Encoding)
	if err != nil {
		return err
	}
	var mapping *linkage.Mapping
	if o.MappingPath != "" {
		mf, err := os.Open(o.MappingPath)
		if err != nil {
			return err
		}
		m, err := linkage.ParseMapping(mf)
		mf.Close()
		if err != nil {
			return fmt.Errorf("mapping %s: %w", o.MappingPath, err)
		}
		if f := strings.ToLower(m.IDFormat); f != "" && f != linkage.IDCCCD {
			return fmt.Errorf("mapping %s: id_format %q belongs in --population-mapping: the records' personal_id is read as a CCCD or CMND; compare another id of the records as an extra field with the comparison \"id\"", o.MappingPath, m.IDFormat)
		}
		mapping = &m
	}
	var popMapping *linkage.Mapping
	if o.PopulationMappingPath != "" {
		if o.Population == "" {
			return errors.New("--population-mapping maps the columns of a --population file: give --population FILE")
		}
		mf, err := os.Open(o.PopulationMappingPath)
		if err != nil {
			return err
		}
		m, err := linkage.ParseMapping(mf)
		mf.Close()
		if err != nil {
			return fmt.Errorf("population mapping %s: %w", o.PopulationMappingPath, err)
		}
		if len(m.Extra) > 0 {
			return fmt.Errorf("population mapping %s: extra fields belong in --mapping (each names its population_column)", o.PopulationMappingPath)
		}
		popMapping = &m
	}
	showBar := o.Progress
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	// the bus's store, when the register, the records or the review
	// queue are there
	var st store.Store
	if o.Population == "" || o.Dataset != "" || o.QueueSource != "" {
		var err error
		if st, err = runtime.OpenBusStore(ctx, o.Config, o.DataDir); err != nil {
			return err
		}
		defer st.Close()
	}
	var src recordSource
	var dsLinkage *schemas.Linkage
	if o.Dataset != "" {
		if src, mapping, dsLinkage, err = datasetSource(ctx, st, o.Dataset, mapping); err != nil {
			return err
		}
	} else {
		src = fileSource(o.Records, f, enc)
	}
	cfg, err := linkConfig(o, dsLinkage, mapping)
	if err != nil {
		return err
	}
	if o.Population == "" {
		if err := checkRegisterColumns(mapping); err != nil {
			return err
		}
	}

	// the records first: a mapping naming a missing column fails before
	// the population is loaded
	in, err := src.open(ctx)
	if err != nil {
		return err
	}
	sample, err := linkage.ReadSample(in, f, mapping, o.Sample)
	in.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", src.name, err)
	}
	total, err := src.count(ctx)
	if err != nil {
		return err
	}
	var truth map[string]string
	if o.Truth != "" {
		tf, err := fileFormat("", o.Truth, "")
		if err != nil {
			return err
		}
		t, err := os.Open(o.Truth)
		if err != nil {
			return err
		}
		truth, err = linkage.ReadTruth(t, tf)
		t.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.Truth, err)
		}
	}

	t0 := time.Now()
	var idx *identity.Index
	var pop *linkage.Population
	if o.Population != "" {
		idx, pop, err = loadPopulationFile(o.Population, o.PopulationFormat, popMapping, mapping, showBar, stderr, logf)
	} else {
		idx, pop, err = loadPopulationStore(ctx, st, mapping, logf)
	}
	if err != nil {
		return err
	}
	logf("population: %d citizens in %.1f s", pop.Len(), time.Since(t0).Seconds())
	logf("estimating the linkage model from %d records…", len(sample))
	var rules []linkage.BlockingRule
	if mapping != nil {
		rules = mapping.Blocking
	}
	if len(rules) == 0 && dsLinkage != nil {
		// the dataset's default rules from the catalog
		for _, r := range dsLinkage.Blocking {
			rules = append(rules, linkage.BlockingRule{Name: r.Name, Keys: r.Keys})
		}
	}
	linker, err := linkage.TrainWith(pop, sample, cfg, rules)
	if err != nil {
		return err
	}
	if in, err = src.open(ctx); err != nil {
		return err
	}
	defer in.Close()
	if o.Out == "" {
		o.Out = src.name + ".results.ndjson"
	}
	of, err := os.Create(o.Out)
	if err != nil {
		return err
	}
	defer of.Close()
	opt := linkage.BulkOptions{Format: f, Mapping: mapping, Source: filepath.Base(src.name), BatchSize: o.Batch, Truth: truth}
	if o.QueueSource != "" {
		opt.Source = o.QueueSource
		opt.Review = review.New(st.(store.ReviewStore))
	}
	var bar *progressbar.ProgressBar
	if showBar {
		bar = newBar(int64(max(total, 1)), stderr, progressbar.OptionSetDescription("reconciling"), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"), progressbar.OptionShowElapsedTimeOnFinish())
		opt.Progress = func(n int) {
			if int64(n) > bar.GetMax64() {
				bar.ChangeMax64(int64(n))
			}
			_ = bar.Set(n)
		}
	}
	sum, err := linkage.Reconcile(ctx, idx, linker, in, of, opt)
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
		return fmt.Errorf("writing %s: %w", o.Out, err)
	}
	logf("results in %s (%d records, %.0f records/s)", o.Out, sum.Records, float64(sum.Records)/sum.Elapsed.Seconds())
	if o.QueueSource != "" {
		logf("%d review outcomes are in the review queue under %q (records queued by an earlier run are not queued again)", sum.Outcomes[identity.Review], o.QueueSource)
	}
	if o.Report != "" || o.ReportJSON != "" {
		rep := linkage.NewReport("Reconciliation of "+filepath.Base(src.name), sum, cfg)
		if err := writeReport(rep, o.Report, o.ReportJSON); err != nil {
			return err
		}
		logf("report in %s", strings.Trim(o.Report+" "+jsonPathFor(o.Report, o.ReportJSON), " "))
	}
	e := json.NewEncoder(stdout)
	e.SetIndent("", "  ")
	rs := Summary{Records: sum.Records, Outcomes: sum.Outcomes, Confirmed: sum.Confirmed,
		Quality: sum.Quality, Seconds: round2(sum.Elapsed.Seconds()), Results: o.Out}
	if o.QueueSource != "" {
		rs.ReviewSource = o.QueueSource
	}
	return e.Encode(rs)
}

// Summary is what `lgsp reconcile` prints; the histogram and the
// model are in the report.
type Summary struct {
	Records   int                      `json:"records"`
	Outcomes  map[identity.Outcome]int `json:"outcomes"`
	Confirmed int                      `json:"mismatch_confirmed"`
	Quality   *linkage.Quality         `json:"quality,omitempty"`
	Seconds   float64                  `json:"elapsed_seconds"`
	Results   string                   `json:"results"`
	// ReviewSource is the review queue's source the review outcomes are
	// in, with --queue-review.
	ReviewSource string `json:"review_source,omitempty"`
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
// population from a snapshot file in one pass, keeping the values of the
// mapping's extra fields (nil mapping: none).
func loadPopulationFile(path, format string, popMapping, mapping *linkage.Mapping, showBar bool, stderr io.Writer, logf func(string, ...any)) (*identity.Index, *linkage.Population, error) {
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
		bar := newBar(fi.Size(), stderr, progressbar.OptionSetDescription("loading population"),
			progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true))
		pr := progressbar.NewReader(f, bar)
		r = &pr
		defer func() { _ = bar.Finish(); fmt.Fprintln(stderr) }()
	}
	// the packed register with its exact-number index, or another
	// ministry's file in the general form: no index (its ids are not the
	// register's numbers), every record is linked
	form := popMapping.GeneralPopulation()
	form.Extras = mapping.PopulationFields()
	var idx *identity.Index
	if !form.General {
		idx = identity.NewIndex(hint)
	} else {
		logf("population: ids kept as written (general form: another scheme than the 12-digit number, or no sex); every record is linked on its fields")
	}
	rejected := 0
	reasons := map[string]int{}
	var scan linkage.PopulationScan
	var scanErr error
	seq := iter.Seq2[store.Citizen, []string](func(yield func(store.Citizen, []string) bool) {
		scan, scanErr = linkage.ScanPopulationMapped(r, pf, popMapping, mapping.PopulationColumns(), func(c store.Citizen, extra []string) bool {
			if idx == nil {
				return yield(c, extra)
			}
			if err := idx.Add(c); err != nil {
				rejected++
				for _, why := range rejectReasons(err) {
					reasons[why]++
				}
				return true
			}
			return yield(c, extra)
		})
	})
	pop, err := linkage.BuildPopulationWith(seq, hint, form)
	if scanErr != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, scanErr)
	}
	if err != nil && pop == nil {
		return nil, nil, err
	}
	for why, n := range scan.Skipped {
		reasons[why] += n
		rejected += n
	}
	why := reasonList(scan.Unreadable, reasons)
	if scan.Unreadable > 0 || rejected > 0 {
		logf("population: %d of %d rows skipped (%s)", scan.Unreadable+rejected, scan.Rows, why)
	}
	if pop.Len() == 0 {
		return nil, nil, fmt.Errorf("%s: no usable citizen in the population file (%s); see --population-mapping for a file with other columns or layouts", path, cmp.Or(why, "no rows"))
	}
	return idx, pop, nil
}

// rejectReasons names what identity.Index.Add refused in a citizen, one
// reason per field, without the values (they are personal data).
func rejectReasons(err error) []string {
	var out []string
	for _, line := range strings.Split(strings.TrimPrefix(err.Error(), "identity: cannot index citizen: "), "\n") {
		switch {
		case strings.HasPrefix(line, "personal number"):
			out = append(out, "personal number not 12 digits")
		case strings.HasPrefix(line, "CMND"):
			out = append(out, "CMND not 9 digits")
		case strings.HasPrefix(line, "date of birth"):
			out = append(out, "date of birth missing or not read")
		case strings.HasPrefix(line, "sex"):
			out = append(out, "sex missing or not M/F")
		case strings.HasPrefix(line, "name"):
			out = append(out, "name empty or over 255 bytes")
		default:
			out = append(out, "other")
		}
	}
	return out
}

// reasonList writes the counts of skipped rows by reason, most first.
func reasonList(unreadable int, reasons map[string]int) string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range reasons {
		all = append(all, kv{k, n})
	}
	if unreadable > 0 {
		all = append(all, kv{"unreadable (not CSV / JSON)", unreadable})
	}
	slices.SortFunc(all, func(a, b kv) int { return cmp.Or(b.n-a.n, strings.Compare(a.k, b.k)) })
	var parts []string
	for _, e := range all {
		parts = append(parts, fmt.Sprintf("%d %s", e.n, e.k))
	}
	return strings.Join(parts, ", ")
}

// registerColumn is the one population column, beyond the fields every
// comparison uses, that a bus's register keeps (store.Citizen.Residence,
// from the population stream): the column a mapping's extra fields can
// name without --population.
const registerColumn = "residence"

// checkRegisterColumns fails, naming the first, when the mapping's extra
// fields compare with a population column the bus's register does not keep.
func checkRegisterColumns(mapping *linkage.Mapping) error {
	for _, f := range mapping.PopulationFields() {
		if f.PopColumn() != registerColumn {
			return fmt.Errorf("the mapping compares extra field %q with population column %q, which the bus's register does not keep (of the extra columns it keeps only %q): give --population FILE with that column, or compare with %q", f.Name, f.PopColumn(), registerColumn, registerColumn)
		}
	}
	return nil
}

// loadPopulationStore reads the register of a bus's store, keeping each
// citizen's residence for the mapping's extra fields (which must all
// compare with it: checkRegisterColumns).
func loadPopulationStore(ctx context.Context, st store.Store, mapping *linkage.Mapping, logf func(string, ...any)) (*identity.Index, *linkage.Population, error) {
	if err := checkRegisterColumns(mapping); err != nil {
		return nil, nil, err
	}
	extras := mapping.PopulationFields()
	n, err := st.CountCitizens(ctx)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("the population register in the store is empty (start the bus once, or give --population FILE)")
	}
	logf("loading %d citizens from the store…", n)
	var idx *identity.Index
	var scanErr error
	errStop := errors.New("stop")
	// every extra field reads the residence; BuildPopulation keeps the
	// values, not the slice, so one slice serves every citizen
	values := make([]string, len(extras))
	seq := iter.Seq2[store.Citizen, []string](func(yield func(store.Citizen, []string) bool) {
		idx, _, scanErr = identity.LoadIndex(ctx, st, func(c store.Citizen) error {
			for k := range values {
				values[k] = c.Residence
			}
			if !yield(c, values) {
				return errStop
			}
			return nil
		})
	})
	pop, err := linkage.BuildPopulation(seq, int(n), extras)
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
		if err := atomicfile.Write(htmlPath, 0o644, func(w io.Writer) error { return rep.WriteHTML(w) }); err != nil {
			return err
		}
	}
	if p := jsonPathFor(htmlPath, jsonPath); p != "" {
		return atomicfile.Write(p, 0o644, func(w io.Writer) error { return rep.WriteJSON(w) })
	}
	return nil
}

// newBar is a progress bar on w whose clock starts now: call it when the
// work it shows begins. Its first frame is drawn one throttle period
// (200 ms) later, or when the work is done, so the rate and the ETA are
// measured over real time from the start. Left to itself the library
// starts the clock at the first frame, which it draws at once, so that
// frame divides the work done before it by a few microseconds.
func newBar(total int64, w io.Writer, opts ...progressbar.Option) *progressbar.ProgressBar {
	opts = append([]progressbar.Option{progressbar.OptionSetWriter(w), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30), progressbar.OptionThrottle(BarThrottle)}, opts...)
	bar := progressbar.NewOptions64(total, opts...)
	bar.Reset() // start, last frame and rate window: now
	return bar
}

// BarThrottle is the least time between two frames of a progress bar.
const BarThrottle = 200 * time.Millisecond

// recordSource is where the records to reconcile come from: a person file
// or a dataset's current state in the bus's store. open is called twice,
// for the sample the model is estimated from and for the whole run.
type recordSource struct {
	name  string // the file, or the dataset; names the results file
	open  func(ctx context.Context) (io.ReadCloser, error)
	count func(ctx context.Context) (int, error)
}

// fileSource reads a person file in its encoding.
func fileSource(path string, f linkage.Format, enc linkage.Encoding) recordSource {
	return recordSource{
		name: path,
		open: func(context.Context) (io.ReadCloser, error) {
			in, err := os.Open(path)
			if err != nil {
				return nil, err
			}
			return struct {
				io.Reader
				io.Closer
			}{enc.Decode(in), in}, nil
		},
		count: func(context.Context) (int, error) {
			in, err := os.Open(path)
			if err != nil {
				return 0, err
			}
			defer in.Close()
			return countRecords(in, f)
		},
	}
}

// datasetKeyColumn holds a dataset row's entity key in the NDJSON the
// dataset is read as: a name no schema field can have in Avro, and none
// of the catalog's JSON Schemas uses.
const datasetKeyColumn = "@key"

// datasetSource reads the current rows of a dataset from the store, as
// NDJSON objects with the entity key added, and the mapping to read them
// with: the one given (record_id defaults to the entity key), or the
// dataset's identity fields from the catalog.
func datasetSource(ctx context.Context, st store.Store, name string, given *linkage.Mapping) (recordSource, *linkage.Mapping, *schemas.Linkage, error) {
	cat, err := schemas.Load()
	if err != nil {
		return recordSource{}, nil, nil, err
	}
	d, ok := cat.Dataset(name)
	if !ok {
		var names []string
		for _, d := range cat.Datasets() {
			names = append(names, d.Name)
		}
		return recordSource{}, nil, nil, fmt.Errorf("unknown dataset %q: the catalog (schemas/catalog.yaml) has %s", name, strings.Join(names, ", "))
	}
	var m linkage.Mapping
	switch {
	case given != nil:
		m = *given
	case d.Identity.Name == "":
		return recordSource{}, nil, nil, fmt.Errorf("dataset %s names no person to reconcile (no identity name in schemas/catalog.yaml); give --mapping with the fields that hold the name and the date of birth", name)
	default:
		m = linkage.Mapping{PersonalID: d.Identity.ID, FullName: d.Identity.Name, DOB: d.Identity.DOB, Sex: d.Identity.Sex}
	}
	if m.RecordID == "" {
		m.RecordID = datasetKeyColumn
	}
	sc, ok := st.(store.StateScanner)
	if !ok {
		return recordSource{}, nil, nil, fmt.Errorf("the store (%T) cannot list a dataset's rows", st)
	}
	n, err := sc.CountState(ctx, name)
	if err != nil {
		return recordSource{}, nil, nil, err
	}
	if n == 0 {
		return recordSource{}, nil, nil, fmt.Errorf("dataset %s has no rows in the store: the bus keeps a dataset's current rows once its source has published some (see GET /v1/connectors)", name)
	}
	src := recordSource{
		name:  name,
		open:  func(ctx context.Context) (io.ReadCloser, error) { return streamState(ctx, sc, name), nil },
		count: func(ctx context.Context) (int, error) { n, err := sc.CountState(ctx, name); return int(n), err },
	}
	return src, &m, &d.Linkage, nil
}

// streamState writes a dataset's rows as NDJSON into a pipe, from a
// goroutine that Close stops and waits for.
func streamState(ctx context.Context, sc store.StateScanner, dataset string) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		bw := bufio.NewWriterSize(pw, 256<<10)
		err := sc.ScanState(ctx, dataset, func(r store.StateRow) error {
			var row map[string]any
			if err := json.Unmarshal(r.Row, &row); err != nil || row == nil {
				return fmt.Errorf("row %q of %s in the store is not a JSON object (%v)", r.Key, dataset, err)
			}
			row[datasetKeyColumn] = r.Key
			b, err := json.Marshal(row)
			if err != nil {
				return err
			}
			bw.Write(b)
			return bw.WriteByte('\n')
		})
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return &stateReader{PipeReader: pr, done: done}
}

type stateReader struct {
	*io.PipeReader
	done chan struct{}
}

func (r *stateReader) Close() error {
	err := r.PipeReader.Close() // the writer's next write fails: the scan stops
	<-r.done
	return err
}

// checkQueueSource refuses a review source the bus itself queues under: the
// pipeline queues streamed records under their dataset's name.
func checkQueueSource(source string) error {
	cat, err := schemas.Load()
	if err != nil {
		return err
	}
	if _, ok := cat.Dataset(source); ok {
		return fmt.Errorf("--queue-review %q: the bus queues the records it streams under the dataset's name; choose a source of your own, e.g. %q", source, "reconcile-"+source)
	}
	return nil
}
