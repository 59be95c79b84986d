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
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"golang.org/x/text/unicode/norm"
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
	// DateWithinDays: dates of birth at most this many days apart agree
	// at the within_days level (0: the dataset's setting, else 7; see
	// Config.DateNearDays).
	DateWithinDays int    `json:"date_within_days,omitempty"`
	Sex            string `json:"sex,omitempty"`
	Province       string `json:"province_code,omitempty"`
	// IDFormat is the format of the personal_id column of a population
	// mapping (--population-mapping): "cccd" (the default: the 12-digit
	// personal number), "cmnd" (9 digits), "digits" (a number of any
	// length, such as a tax code; spaces, dots and dashes are dropped) or
	// "text" (any value, such as an insurance number). With any format
	// but cccd, or without a personal_id or a sex column, the population
	// is kept in its general form (PopulationOptions.General) and each
	// row is named by its id (or its record_id, or its row number). A
	// records mapping reads personal_id as a CCCD (or a CMND) only: map
	// another id of the records as an extra field with the comparison
	// "id".
	IDFormat string `json:"id_format,omitempty"`
	// Extra are more fields to compare, each with a comparison: an
	// address, a postcode, another id number, any text (see ExtraField
	// and Comparisons). The population must be built with the same list
	// (BuildPopulation with PopulationFields).
	Extra []ExtraField `json:"extra,omitempty"`
	// Blocking are blocking rules of one's own on the mapped fields,
	// besides the built-in ones (see BlockingRule), e.g.
	// [{"name":"postcode+surname","keys":["postcode","surname"]}].
	Blocking []BlockingRule `json:"blocking,omitempty"`
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
	if m.DateWithinDays < 0 || m.DateWithinDays > MaxDateNearDays {
		return m, fmt.Errorf("linkage: mapping: date_within_days %d: give 0 to %d (0: the default, 7)", m.DateWithinDays, MaxDateNearDays)
	}
	if _, ok := idFormats[strings.ToLower(m.IDFormat)]; !ok {
		return m, fmt.Errorf("linkage: mapping: id_format %q: use cccd (12 digits, the default), cmnd (9 digits), digits (a number of any length) or text (any value)", m.IDFormat)
	}
	if err := checkExtras(m.Extra); err != nil {
		return m, err
	}
	if err := m.CheckBlocking(); err != nil {
		return m, err
	}
	return m, nil
}

// ID formats (Mapping.IDFormat).
const (
	IDCCCD   = "cccd"
	IDCMND   = "cmnd"
	IDDigits = "digits"
	IDText   = "text"
)

var idFormats = map[string]bool{"": true, IDCCCD: true, IDCMND: true, IDDigits: true, IDText: true}

// idFormat is the mapping's id format, IDCCCD when not given.
func (m Mapping) idFormat() string {
	if f := strings.ToLower(m.IDFormat); f != "" {
		return f
	}
	return IDCCCD
}

// readID reads an id in format f: the id as kept, or ok false when the
// value is not one.
func readID(f, v string) (string, bool) {
	v = strings.TrimSpace(v)
	switch f {
	case IDText:
		return v, v != "" && utf8.ValidString(v)
	case IDDigits:
		d := digitsOnly(v)
		return d, d != ""
	case IDCMND:
		d := digitsOnly(v)
		if len(d) == 8 {
			d = "0" + d
		}
		return d, len(d) == 9
	}
	d := digitsOnly(v)
	if len(d) == 11 {
		d = "0" + d
	}
	return d, len(d) == 12
}

// PopulationFields are the extra fields the population must keep values
// of for this mapping (see BuildPopulation); none for a nil mapping.
func (m *Mapping) PopulationFields() []ExtraField {
	if m == nil {
		return nil
	}
	return m.Extra
}

// PopulationColumns are the population columns the extra fields read, in
// their order (see ScanPopulationRows); none for a nil mapping.
func (m *Mapping) PopulationColumns() []string {
	if m == nil {
		return nil
	}
	var out []string
	for _, f := range m.Extra {
		out = append(out, f.PopColumn())
	}
	return out
}

func (m Mapping) columns() []string {
	var out []string
	for _, c := range []string{m.RecordID, m.PersonalID, m.OldID, m.FullName, m.Surname, m.Middle, m.Given, m.DOB, m.Sex, m.Province} {
		if c != "" {
			out = append(out, c)
		}
	}
	for _, f := range m.Extra {
		out = append(out, f.Column)
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

// Record builds a record from a row (get returns a column's value). What
// cannot be used is left out and noted, so that the record's result says
// why: a date no layout reads, a sex or province code not understood, a
// name that is empty or not valid UTF-8 (a file in a legacy encoding). A
// personal or CMND number written with spaces, dots or dashes is read
// without them.
func (m Mapping) Record(get func(col string) string) Record {
	g := func(c string) string {
		if c == "" {
			return ""
		}
		return strings.TrimSpace(get(c))
	}
	r := Record{ID: g(m.RecordID), PersonalID: g(m.PersonalID), OldID: g(m.OldID), Sex: g(m.Sex), Province: g(m.Province)}
	if f := m.idFormat(); f != IDCCCD && r.PersonalID != "" {
		// a population's id of another scheme: kept as read, not a claim
		raw := r.PersonalID
		if id, ok := readID(f, raw); ok {
			r.PersonalID = id
		} else {
			r.notes = append(r.notes, fmt.Sprintf("id %q not in the format %s (ignored)", clip(raw), f))
			r.PersonalID, r.badID = "", true
		}
	}
	cccdID := m.idFormat() == IDCCCD
	if cccdID {
		r.PersonalID = r.note(digitsOnly(r.PersonalID), r.PersonalID, "personal number written with separators")
	}
	r.OldID = r.note(digitsOnly(r.OldID), r.OldID, "CMND number written with separators")
	// a spreadsheet that stored the number as a number dropped its leading
	// zero: every province code starts with 0
	if cccdID && len(r.PersonalID) == 11 && digitsOnly(r.PersonalID) == r.PersonalID {
		r.PersonalID = "0" + r.PersonalID
		r.notes = append(r.notes, "personal number of 11 digits: leading zero restored")
	}
	if len(r.OldID) == 8 && digitsOnly(r.OldID) == r.OldID {
		r.OldID = "0" + r.OldID
		r.notes = append(r.notes, "CMND number of 8 digits: leading zero restored")
	}
	if r.OldID != "" && len(r.OldID) != 9 {
		// not a CMND: said, not silently dropped
		r.notes = append(r.notes, fmt.Sprintf("CMND number of %d characters, not 9 digits (ignored)", len(r.OldID)))
		r.OldID, r.badID = "", true
	}
	if n := len(r.PersonalID); n > 0 && n != 12 && n != 9 && cccdID {
		r.badID = true // the register answers invalid_id (length); the record is linked on its other fields
	}
	r.Name = g(m.FullName)
	if r.Name == "" {
		r.Name = strings.Join(strings.Fields(g(m.Surname)+" "+g(m.Middle)+" "+g(m.Given)), " ")
	}
	switch {
	case r.Name == "":
		r.notes = append(r.notes, "no name")
	case !utf8.ValidString(r.Name):
		r.notes = append(r.notes, "name is not valid UTF-8 (a file in a legacy encoding such as TCVN3 or Windows-1258? see --encoding); unreadable letters ignored")
	case !norm.NFC.IsNormalString(r.Name):
		r.notes = append(r.notes, "name in decomposed Unicode (NFD), compared after normalising")
	}
	r.DOB = g(m.DOB)
	if r.DOB != "" && !isISODate(r.DOB) {
		raw := r.DOB
		r.DOB = ""
		for _, l := range m.DOBLayouts {
			if t, err := time.Parse(l, raw); err == nil {
				r.DOB = t.Format("2006-01-02")
				break
			}
		}
		if r.DOB == "" {
			r.notes = append(r.notes, fmt.Sprintf("date of birth %q not understood (ignored)", clip(raw)))
			r.badDOB = true
		}
	} else if r.DOB != "" {
		var s side
		if s.setDOB(r.DOB); !s.dobOK {
			r.notes = append(r.notes, fmt.Sprintf("date of birth %q not understood (ignored)", clip(r.DOB)))
			r.DOB, r.badDOB = "", true
		}
	}
	if r.Sex != "" && normSex(r.Sex) == "" {
		r.notes = append(r.notes, fmt.Sprintf("sex %q not understood (ignored)", clip(r.Sex)))
		r.Sex = ""
	}
	if r.Province != "" {
		var s side
		if s.setProvince(r.Province); s.prov == 0 {
			r.notes = append(r.notes, fmt.Sprintf("province code %q unknown (ignored)", clip(r.Province)))
			r.Province = ""
		}
	}
	if len(m.Extra) > 0 {
		r.Extra = make([]string, len(m.Extra))
		for k, f := range m.Extra {
			v := g(f.Column)
			if v != "" {
				if why := unusable(f, v); why != "" {
					r.notes = append(r.notes, fmt.Sprintf("%s %q %s (ignored)", f.Name, clip(v), why))
					v = ""
				}
			}
			r.Extra[k] = v
		}
	}
	return r
}

// unusable says why an extra field's value cannot be compared ("" when it
// can).
func unusable(f ExtraField, v string) string {
	if !utf8.ValidString(v) {
		return "is not valid UTF-8"
	}
	k, _ := parseKind(f.Comparison)
	switch k {
	case kindAddress:
		if ParseAddress(v).Empty() {
			return "not understood as an address"
		}
	case kindPostcode:
		if _, ok := packPostcode(v); !ok {
			return "is not a postcode (2 to 9 digits)"
		}
	case kindID:
		if normID(v) == "" {
			return "has no letter or digit"
		}
	}
	return ""
}

// note returns clean, noting why, when it differs from raw and is usable.
func (r *Record) note(clean, raw, why string) string {
	if clean != raw && clean != "" {
		r.notes = append(r.notes, why)
		return clean
	}
	return raw
}

// digitsOnly returns s without spaces, dots and dashes when what is left is
// all digits, else "".
func digitsOnly(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b = append(b, c)
		case c == ' ' || c == '.' || c == '-':
		default:
			return ""
		}
	}
	return string(b)
}

// clip shortens a value quoted in a reason (it comes from the input).
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) > 32 {
		s = string([]rune(s)[:32]) + "…"
	}
	return s
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
	// Truth, when set, is the ground truth (record id → personal number,
	// "" = not in the register, see ReadTruth): the summary then has the
	// quality of the decisions.
	Truth map[string]string
	// Progress is called with the number of records decided so far, from
	// the reconciling goroutines (never two calls at once).
	Progress func(records int)
}

// Result is one output line of a bulk reconciliation: the outcome, the
// citizen (the verified holder of the number, or the linked or proposed
// candidate; "" when none), the match weight in bits and its explanation
// field by field (null when the number alone decided), and the reason in
// words, which also says what of the input could not be used.
type Result struct {
	RecordID    string               `json:"record_id"`
	Outcome     identity.Outcome     `json:"outcome"`
	PersonalID  string               `json:"personal_id"`
	Score       float64              `json:"score"`
	Probability float64              `json:"probability,omitempty"`
	Fields      []identity.FieldDiff `json:"fields,omitempty"`
	Proposed    string               `json:"proposed,omitempty"`
	Explanation *Explanation         `json:"explanation"`
	Reason      string               `json:"reason"`
	ReviewID    string               `json:"review_id,omitempty"`
	// byLink: decided by linkage; best is then the probability of the
	// best candidate, cand that candidate (for the threshold table)
	byLink bool
	best   float64
	some   float64 // the probability that the record is somebody (Decision.somebody)
	cand   string
}

// Summary counts the outcomes of a bulk reconciliation and keeps the
// histogram of match weights (bucket i holds weights in [i-40, i-39)).
type Summary struct {
	Records   int                      `json:"records"`
	Outcomes  map[identity.Outcome]int `json:"outcomes"`
	Confirmed int                      `json:"mismatch_confirmed"` // strict mismatches verified by comparison
	Histogram [HistogramBins]int       `json:"weight_histogram"`
	Model     *Model                   `json:"model,omitempty"`
	Quality   *Quality                 `json:"quality,omitempty"` // with BulkOptions.Truth
	Elapsed   time.Duration            `json:"elapsed_ns"`
	// probs tallies the records decided by linkage by their best
	// candidate's probability (Report.Thresholds).
	probs probTally
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
// column. A nil idx (a population in the general form, whose ids are not
// the register's numbers) sends every record to the linker, which weighs
// a record's number against a candidate's like its other fields.
func Reconcile(ctx context.Context, idx *identity.Index, l *Linker, in io.Reader, w io.Writer, opt BulkOptions) (Summary, error) {
	start := time.Now()
	sum := Summary{Outcomes: map[identity.Outcome]int{}, Model: l.Model()}
	m, strict := DefaultMapping(), false
	if opt.Mapping != nil {
		m, strict = *opt.Mapping, true
	}
	if opt.Truth != nil {
		sum.Quality = &Quality{}
		sum.probs.truth = true
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 50_000
	}
	if opt.ConfirmWeight == 0 {
		opt.ConfirmWeight = 10
	}
	if len(m.Extra) > 0 && !sameExtras(m.Extra, l.pop.extras) {
		return sum, fmt.Errorf("linkage: the mapping's extra fields %s are not those the population was built with, %s: build it with the mapping's PopulationFields", extraList(m.Extra), extraList(l.pop.extras))
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
	// progress within a batch: records are counted as they are decided,
	// on the linking goroutines; a report is skipped when one is running
	var done atomic.Int64
	var pmu sync.Mutex
	tick := func(n int) {
		v := done.Add(int64(n))
		if opt.Progress != nil && pmu.TryLock() {
			opt.Progress(int(v))
			pmu.Unlock()
		}
	}
	line := 0
	for eof := false; !eof; {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		var recs []Record
		var bad []string // per record: "" or why the row is unreadable
		for len(recs) < opt.BatchSize {
			get, err := rows.next()
			if err == io.EOF {
				eof = true
				break
			}
			line++
			if err != nil {
				if !isRowError(err) {
					return sum, fmt.Errorf("linkage: reading records: %w", err)
				}
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
		results := reconcileBatch(idx, l, recs, bad, opt, tick)
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
			tr, known := opt.Truth[r.RecordID]
			if sum.Quality != nil && known {
				sum.Quality.add(r, tr)
			}
			if r.byLink {
				sum.probs.add(r.best, r.some, known && tr != "" && r.cand == tr, known && tr != "")
			}
			if r.Outcome == identity.Verified && r.Fields != nil {
				sum.Confirmed++
			}
			r.Explanation = r.Explanation.withoutValues() // the values are for the review queue's clerk only
			if err := enc.Encode(r); err != nil {
				return sum, err
			}
		}
		if opt.Progress != nil {
			pmu.Lock()
			opt.Progress(sum.Records)
			pmu.Unlock()
		}
		done.Store(int64(sum.Records))
	}
	sum.Elapsed = time.Since(start)
	if sum.Quality != nil {
		sum.Quality.finish()
	}
	return sum, bw.Flush()
}

// reconcileBatch decides one batch: numbers first, then the linkage of the
// records left without a usable one. tick counts records as they are
// decided.
func reconcileBatch(idx *identity.Index, l *Linker, recs []Record, bad []string, opt BulkOptions, tick func(int)) []Result {
	out := make([]Result, len(recs))
	var link []Record
	var linkAt []int
	parallel(len(recs), func(lo, hi int) {
		// the numbers of the chunk are looked up together (see
		// identity.ReconcileBatch), then each record is finished alone
		claims := make([]identity.Claim, 0, hi-lo)
		at := make([]int, 0, hi-lo)
		for k := lo; k < hi && idx != nil; k++ {
			if c, ok := claimOf(recs[k], bad[k]); ok {
				claims = append(claims, c)
				at = append(at, k)
			}
		}
		rs := make([]identity.Result, len(claims))
		identity.ReconcileBatch(idx, claims, rs)
		j := 0
		for k := lo; k < hi; k++ {
			if j < len(at) && at[j] == k {
				out[k] = finishNumber(idx, l, recs[k], claims[j], rs[j], opt)
				j++
			} else {
				out[k] = decideNumber(idx, l, recs[k], bad[k], opt)
			}
		}
	})
	for k, r := range out {
		if (r.Outcome == "" || r.Outcome == identity.NotFound || r.Outcome == identity.InvalidID) && bad[k] == "" {
			link = append(link, recs[k])
			linkAt = append(linkAt, k)
		}
	}
	tick(len(recs) - len(link))
	ds := l.linkBatch(link, tick)
	for j, d := range ds {
		k := linkAt[j]
		prev := out[k]
		if prev.Outcome != "" && d.Outcome == identity.Unmatched {
			out[k].byLink, out[k].best, out[k].some = true, d.Probability, d.somebody
			continue // keep not_found / invalid_id: nobody fits the rest either
		}
		res := Result{RecordID: recs[k].ID, Outcome: d.Outcome, PersonalID: d.PersonalID, Score: d.Score,
			Probability: d.Probability, Explanation: d.Explanation, Reason: d.Reason, Proposed: prev.Proposed,
			byLink: true, best: d.Probability, some: d.somebody, cand: d.PersonalID}
		if d.Deceased {
			res.Reason = joinReason(res.Reason, "the citizen is recorded as deceased")
		}
		if prev.Outcome != "" {
			res.Reason = joinReason(prev.Reason+"; matched on the other fields", res.Reason)
		}
		out[k] = res
	}
	for k := range out {
		if n := recs[k].notes; len(n) > 0 {
			out[k].Reason = joinReason(out[k].Reason, "input: "+strings.Join(n, "; "))
		}
	}
	return out
}

func joinReason(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// decideNumber reconciles a record that has a personal (or CMND) number;
// Outcome is "" when it has none.
func decideNumber(idx *identity.Index, l *Linker, rec Record, bad string, opt BulkOptions) Result {
	res := Result{RecordID: rec.ID}
	if bad != "" {
		res.Outcome, res.Reason = identity.Unmatched, "unreadable row: "+bad
		return res
	}
	claim, ok := claimOf(rec, bad)
	if !ok || idx == nil {
		return res
	}
	return finishNumber(idx, l, rec, claim, identity.Reconcile(idx, claim), opt)
}

// claimOf is the identity a readable record with a number claims.
func claimOf(rec Record, bad string) (identity.Claim, bool) {
	id := strings.TrimSpace(rec.PersonalID)
	if id == "" || bad != "" {
		return identity.Claim{}, false
	}
	return identity.Claim{ID: id, Name: rec.Name, DOB: rec.DOB, Sex: normSex(rec.Sex)}, true
}

// finishNumber turns the register's answer r for a record's claim into
// its result: the holder, the reason, and for a strict mismatch the
// comparison that may still recognise the same person.
func finishNumber(idx *identity.Index, l *Linker, rec Record, claim identity.Claim, r identity.Result, opt BulkOptions) Result {
	id := claim.ID
	res := Result{RecordID: rec.ID}
	res.Outcome, res.Fields, res.Proposed = r.Outcome, r.Fields, r.Proposed
	if r.Outcome == identity.Verified || r.Outcome == identity.Deceased || r.Outcome == identity.Mismatch {
		res.PersonalID = id
		if len(id) == 9 {
			if c, ok := idx.LookupOld(id); ok {
				res.PersonalID = c.ID
			}
		}
	}
	switch r.Outcome {
	case identity.Verified:
		res.Reason = "number found; the given fields agree with the register"
	case identity.Deceased:
		res.Reason = "number found; the citizen is recorded as deceased"
	case identity.NotFound:
		res.Reason = "no citizen has this number"
		if r.Proposed != "" {
			res.Reason += "; a number one digit away belongs to someone with the same name and date of birth (proposed, not applied)"
		}
	case identity.InvalidID:
		var parts []string
		for _, f := range r.Fields {
			parts = append(parts, f.Kind)
		}
		res.Reason = "the personal number is invalid (" + strings.Join(parts, ", ") + ")"
	}
	if len(id) == 9 && res.PersonalID != "" {
		res.Reason += "; an old CMND number was given, personal_id is its holder's number"
	}
	if r.Outcome == identity.Mismatch {
		res.Reason = "the fields do not support the number's holder"
		c, ok := idx.Lookup(res.PersonalID)
		if ok {
			w, ex := l.Compare(rec, c)
			ev := w - ex.Prior // the evidence of the fields, without the population prior
			res.Score, res.Explanation = round2(ev), ex
			if ev >= opt.ConfirmWeight {
				res.Outcome = identity.Verified
				res.Reason = "same person: the differences are slips (see fields)"
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

// rowError is a row that cannot be read (bad CSV quoting, a line that is
// not a JSON object): the row is reported and reading goes on. Any other
// error of a rowReader ends the file.
type rowError struct{ err error }

func (e *rowError) Error() string { return e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

func isRowError(err error) bool {
	var re *rowError
	return errors.As(err, &re)
}

func (c *csvRows) next() (func(string) string, error) {
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, err
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, &rowError{err}
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

type jsonRows struct {
	sc   *bufio.Scanner
	seen map[string]bool // keys met so far, when tracked (see ReadSample)
}

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
			return nil, &rowError{fmt.Errorf("not a JSON object: %v", err)}
		}
		if j.seen != nil {
			for k := range obj {
				j.seen[k] = true
			}
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
