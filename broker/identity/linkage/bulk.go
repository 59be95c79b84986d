package linkage

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lgsp-bus/lgsp/broker/identity"
)

// Mapping says which input columns hold which part of a person: it is
// configuration (JSON), so any ministry's file can be reconciled. Empty
// entries are not read. The name is either FullName or its parts (Surname,
// Middle, Given), joined in Vietnamese order.
type Mapping struct {
	RecordID   string `json:"record_id,omitempty"`
	PersonalID string `json:"personal_id,omitempty"`
	OldID      string `json:"old_id,omitempty"`
	FullName   string `json:"full_name,omitempty"`
	Surname    string `json:"surname,omitempty"`
	Middle     string `json:"middle_name,omitempty"`
	Given      string `json:"given_name,omitempty"`
	DOB        string `json:"dob,omitempty"`
	// DOBLayouts are Go time layouts tried in order when the date is not
	// YYYY-MM-DD, e.g. "02/01/2006".
	DOBLayouts []string `json:"dob_layouts,omitempty"`
	Sex        string   `json:"sex,omitempty"`
	Province   string   `json:"province_code,omitempty"`
}

// DefaultMapping is the mapping used without a mapping file: columns
// named record_id, personal_id, old_cmnd, full_name, dob, sex,
// province_code.
func DefaultMapping() Mapping {
	return Mapping{RecordID: "record_id", PersonalID: "personal_id", OldID: "old_cmnd", FullName: "full_name",
		DOB: "dob", Sex: "sex", Province: "province_code", DOBLayouts: []string{"02/01/2006", "2/1/2006", "20060102"}}
}

// ParseMapping reads a JSON mapping; unknown keys are an error.
func ParseMapping(r io.Reader) (Mapping, error) {
	var m Mapping
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("linkage: mapping: %w", err)
	}
	if m.FullName == "" && m.Given == "" {
		return m, errors.New("linkage: mapping names no name column (full_name or given_name)")
	}
	return m, nil
}

func (m Mapping) columns() []string {
	var out []string
	for _, c := range []string{m.RecordID, m.PersonalID, m.OldID, m.FullName, m.Surname, m.Middle, m.Given, m.DOB, m.Sex, m.Province} {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// Check fails, naming the column, when the mapping names a column the
// file does not have. The default mapping tolerates missing columns
// other than the name.
func (m Mapping) Check(header []string, strict bool) error {
	have := map[string]bool{}
	for _, h := range header {
		have[strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))] = true
	}
	for _, c := range m.columns() {
		if !have[c] && (strict || c == m.FullName) {
			return fmt.Errorf("linkage: the mapping names column %q, which the file does not have", c)
		}
	}
	return nil
}

// Record builds a record from a row (get returns a column's value).
func (m Mapping) Record(get func(col string) string) Record {
	g := func(c string) string {
		if c == "" {
			return ""
		}
		return strings.TrimSpace(get(c))
	}
	r := Record{ID: g(m.RecordID), PersonalID: g(m.PersonalID), OldID: g(m.OldID), Sex: g(m.Sex), Province: g(m.Province)}
	r.Name = g(m.FullName)
	if r.Name == "" {
		r.Name = strings.Join(strings.Fields(g(m.Surname)+" "+g(m.Middle)+" "+g(m.Given)), " ")
	}
	r.DOB = g(m.DOB)
	if r.DOB != "" && !isISODate(r.DOB) {
		for _, l := range m.DOBLayouts {
			if t, err := time.Parse(l, r.DOB); err == nil {
				r.DOB = t.Format("2006-01-02")
				break
			}
		}
	}
	return r
}

func isISODate(s string) bool {
	return len(s) == 10 && s[4] == '-' && s[7] == '-'
}

// Format of a person file.
type Format string

const (
	CSV    Format = "csv"
	NDJSON Format = "ndjson"
)

// BulkOptions configure Reconcile.
type BulkOptions struct {
	Format  Format
	Mapping *Mapping // nil: DefaultMapping, lenient about missing columns
	// BatchSize records are linked together (1:1 within a batch).
	BatchSize int
	// ConfirmWeight: a record whose number's holder differs in some field
	// is still verified (with the difference noted) when the other fields'
	// evidence reaches this many bits.
	ConfirmWeight float64
	Source        string      // names the file in review items
	Review        ReviewQueue // review outcomes are enqueued here when set
	Progress      func(records int)
}

// Result is one output line of a bulk reconciliation.
type Result struct {
	RecordID    string               `json:"record_id"`
	Outcome     identity.Outcome     `json:"outcome"`
	PersonalID  string               `json:"personal_id,omitempty"`
	Score       float64              `json:"score"`
	Probability float64              `json:"probability,omitempty"`
	Fields      []identity.FieldDiff `json:"fields,omitempty"`
	Proposed    string               `json:"proposed,omitempty"`
	Explanation *Explanation         `json:"explanation,omitempty"`
	Reason      string               `json:"reason,omitempty"`
	ReviewID    string               `json:"review_id,omitempty"`
}

// Summary counts the outcomes of a bulk reconciliation and keeps the
// histogram of match weights (bucket i holds weights in [i-40, i-39)).
type Summary struct {
	Records   int                      `json:"records"`
	Outcomes  map[identity.Outcome]int `json:"outcomes"`
	Confirmed int                      `json:"mismatch_confirmed"` // strict mismatches verified by comparison
	Histogram [HistogramBins]int       `json:"weight_histogram"`
	Model     *Model                   `json:"model,omitempty"`
	Elapsed   time.Duration            `json:"elapsed_ns"`
}

// HistogramBins covers weights -40 … +40 bits.
const HistogramBins = 80

func (s *Summary) add(r Result) {
	s.Records++
	s.Outcomes[r.Outcome]++
	if r.Explanation != nil {
		b := int(math.Floor(r.Score)) + HistogramBins/2
		s.Histogram[min(max(b, 0), HistogramBins-1)]++
	}
}

// Reconcile reads a person file, decides every record against the index
// (records with a usable personal number) or the linker (the others, and
// those whose number is unknown or malformed) and writes one JSON line per
// record to w, in input order. A row that cannot be read still gets a line,
// with a reason. It fails at the start when the mapping names a missing
// column.
func Reconcile(ctx context.Context, idx *identity.Index, l *Linker, in io.Reader, w io.Writer, opt BulkOptions) (Summary, error) {
	start := time.Now()
	sum := Summary{Outcomes: map[identity.Outcome]int{}, Model: l.Model()}
	m, strict := DefaultMapping(), false
	if opt.Mapping != nil {
		m, strict = *opt.Mapping, true
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 50_000
	}
	if opt.ConfirmWeight == 0 {
		opt.ConfirmWeight = 10
	}
	rows, err := newRowReader(in, opt.Format)
	if err != nil {
		return sum, err
	}
	if h := rows.header(); h != nil {
		if err := m.Check(h, strict); err != nil {
			return sum, err
		}
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	line := 0
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		var recs []Record
		var bad []string // per record: "" or why the row is unreadable
		for len(recs) < opt.BatchSize {
			get, err := rows.next()
			if err == io.EOF {
				done = true
				break
			}
			line++
			if err != nil {
				recs = append(recs, Record{ID: "line:" + strconv.Itoa(line)})
				bad = append(bad, err.Error())
				continue
			}
			r := m.Record(get)
			if r.ID == "" {
				r.ID = "line:" + strconv.Itoa(line)
			}
			recs = append(recs, r)
			bad = append(bad, "")
		}
		results := reconcileBatch(idx, l, recs, bad, opt)
		if opt.Review != nil {
			var items []ReviewItem
			var at []int
			for k, r := range results {
				if r.Outcome == identity.Review {
					items = append(items, ReviewItem{Source: opt.Source, RecordID: r.RecordID, PersonalID: r.PersonalID,
						Score: r.Score, Probability: r.Probability, Explanation: r.Explanation, Reason: r.Reason})
					at = append(at, k)
				}
			}
			if len(items) > 0 {
				ids, err := opt.Review.Add(ctx, items...)
				if err != nil {
					return sum, err
				}
				for j, k := range at {
					results[k].ReviewID = ids[j]
				}
			}
		}
		for _, r := range results {
			sum.add(r)
			if r.Outcome == identity.Verified && r.Fields != nil {
				sum.Confirmed++
			}
			if err := enc.Encode(r); err != nil {
				return sum, err
			}
		}
		if opt.Progress != nil {
			opt.Progress(sum.Records)
		}
	}
	sum.Elapsed = time.Since(start)
	return sum, bw.Flush()
}

// reconcileBatch decides one batch: numbers first, then the linkage of the
// records left without a usable one.
func reconcileBatch(idx *identity.Index, l *Linker, recs []Record, bad []string, opt BulkOptions) []Result {
	out := make([]Result, len(recs))
	var link []Record
	var linkAt []int
	parallel(len(recs), func(lo, hi int) {
		for k := lo; k < hi; k++ {
			out[k] = decideNumber(idx, l, recs[k], bad[k], opt)
		}
	})
	for k, r := range out {
		if r.Outcome == "" || r.Outcome == identity.NotFound || r.Outcome == identity.InvalidID {
			if bad[k] == "" {
				link = append(link, recs[k])
				linkAt = append(linkAt, k)
			}
		}
	}
	ds := l.LinkBatch(link)
	for j, d := range ds {
		k := linkAt[j]
		prev := out[k]
		if prev.Outcome != "" && d.Outcome == identity.Unmatched {
			continue // keep not_found / invalid_id: nobody fits the rest either
		}
		res := Result{RecordID: recs[k].ID, Outcome: d.Outcome, PersonalID: d.PersonalID, Score: d.Score,
			Probability: d.Probability, Explanation: d.Explanation, Reason: d.Reason, Proposed: prev.Proposed}
		if d.Deceased {
			res.Reason = strings.TrimPrefix(res.Reason+"; the citizen is recorded as deceased", "; ")
		}
		if prev.Outcome != "" {
			res.Reason = strings.TrimSuffix("the personal number is "+string(prev.Outcome)+"; matched on the other fields; "+res.Reason, "; ")
		}
		out[k] = res
	}
	return out
}

// decideNumber reconciles a record that has a personal (or CMND) number;
// Outcome is "" when it has none.
func decideNumber(idx *identity.Index, l *Linker, rec Record, bad string, opt BulkOptions) Result {
	res := Result{RecordID: rec.ID}
	if bad != "" {
		res.Outcome, res.Reason = identity.Unmatched, "unreadable row: "+bad
		return res
	}
	id := strings.TrimSpace(rec.PersonalID)
	if id == "" {
		return res
	}
	if !utf8.ValidString(rec.Name) {
		res.Reason = "name is not valid UTF-8 (legacy encoding?)"
	}
	claim := identity.Claim{ID: id, Name: rec.Name, DOB: rec.DOB, Sex: normSex(rec.Sex)}
	r := identity.Reconcile(idx, claim)
	res.Outcome, res.Fields, res.Proposed = r.Outcome, r.Fields, r.Proposed
	if r.Outcome == identity.Verified || r.Outcome == identity.Deceased || r.Outcome == identity.Mismatch {
		res.PersonalID = id
		if len(id) == 9 {
			if c, ok := idx.LookupOld(id); ok {
				res.PersonalID = c.ID
			}
		}
	}
	if r.Outcome == identity.Mismatch {
		c, ok := idx.Lookup(res.PersonalID)
		if ok {
			w, ex := l.Compare(rec, c)
			ev := w - ex.Prior // the evidence of the fields, without the population prior
			res.Score, res.Explanation = round2(ev), ex
			if ev >= opt.ConfirmWeight {
				res.Outcome = identity.Verified
				res.Reason = "same person: the differences are slips (see fields)"
			} else {
				res.Reason = "the fields do not support the number's holder"
			}
		}
	}
	return res
}

func normSex(s string) string {
	var x side
	x.setSex(s)
	if x.sex == 0 {
		return ""
	}
	return string(x.sex)
}

// rowReader yields rows as column getters.
type rowReader interface {
	header() []string
	next() (func(string) string, error)
}

func newRowReader(in io.Reader, f Format) (rowReader, error) {
	switch f {
	case CSV, "":
		cr := csv.NewReader(in)
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		cr.ReuseRecord = false
		h, err := cr.Read()
		if err != nil {
			return nil, fmt.Errorf("linkage: reading the CSV header: %w", err)
		}
		col := map[string]int{}
		for i, c := range h {
			col[strings.TrimSpace(strings.TrimPrefix(c, "\uFEFF"))] = i
		}
		return &csvRows{r: cr, h: h, col: col}, nil
	case NDJSON:
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		return &jsonRows{sc: sc}, nil
	}
	return nil, fmt.Errorf("linkage: unknown format %q (csv or ndjson)", f)
}

type csvRows struct {
	r   *csv.Reader
	h   []string
	col map[string]int
}

func (c *csvRows) header() []string { return c.h }

func (c *csvRows) next() (func(string) string, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, err
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, err
	}
	return func(name string) string {
		if i, ok := c.col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}, nil
}

type jsonRows struct{ sc *bufio.Scanner }

func (j *jsonRows) header() []string { return nil }

func (j *jsonRows) next() (func(string) string, error) {
	for {
		if !j.sc.Scan() {
			if err := j.sc.Err(); err != nil {
				return nil, err
			}
			return nil, io.EOF
		}
		line := strings.TrimSpace(j.sc.Text())
		if line == "" {
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		return func(name string) string {
			switch v := obj[name].(type) {
			case string:
				return v
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			case bool:
				return strconv.FormatBool(v)
			}
			return ""
		}, nil
	}
}
