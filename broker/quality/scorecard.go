package quality

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/schemas"
)

// Viewer is who reads or acts: the operator sees every source, an agency
// only the sources it owns (policies.Agency.Sources). Personal numbers are
// shown only to the owner of the source.
type Viewer struct {
	Name     string // as the audit log names the caller
	Operator bool
	Sources  []string
}

// Owns reports whether v owns source (the operator owns none: it sees
// every source, but not their personal numbers).
func (v Viewer) Owns(source string) bool { return slices.Contains(v.Sources, source) }

// May reports whether v may see and act on the items of source.
func (v Viewer) May(source string) bool { return v.Operator || v.Owns(source) }

// sources is the store's source filter for v: nil (all) for the operator.
func (v Viewer) sources(asked string) []string {
	switch {
	case asked != "" && v.May(asked):
		return []string{asked}
	case asked != "":
		return []string{}
	case v.Operator:
		return nil
	case v.Sources == nil:
		return []string{}
	}
	return v.Sources
}

// Query selects a scorecard: days FromDay…ToDay (Quality.Day numbers),
// one source and one dataset when not "".
type Query struct {
	Source, Dataset string
	FromDay, ToDay  int64
}

// MaxDays is the longest period a scorecard covers.
const MaxDays = 366

// Counts are the scorecard counters in the API's words.
type Counts struct {
	Received       int64 `json:"received"`
	Valid          int64 `json:"valid"`
	Duplicates     int64 `json:"duplicates"`
	Verified       int64 `json:"verified"`
	Mismatch       int64 `json:"mismatch"`
	NotFound       int64 `json:"not_found"`
	InvalidID      int64 `json:"invalid_id"`
	Linked         int64 `json:"linked"`
	Review         int64 `json:"review"`
	Deceased       int64 `json:"deceased"`
	Unmatched      int64 `json:"unmatched"`
	DeceasedActive int64 `json:"deceased_active"`
	Unreflected    int64 `json:"unreflected"`
}

func countsOf(c store.QualityCounts) Counts {
	return Counts{c.Received, c.Valid, c.Duplicates, c.Verified, c.Mismatch, c.NotFound, c.InvalidID, c.Linked, c.Review,
		c.Deceased, c.Unmatched, c.DeceasedActive, c.Unreflected}
}

// Indicators are the four measures of Project 06, each 0…1, null when the
// period has no record to measure (formulas in the README, "Data quality
// and redrive").
type Indicators struct {
	Correct    *float64 `json:"correct"`
	Sufficient *float64 `json:"sufficient"`
	Clean      *float64 `json:"clean"`
	Alive      *float64 `json:"alive"`
}

func ratio(num, den int64) *float64 {
	if den <= 0 {
		return nil
	}
	r := float64(max(num, 0)) / float64(den)
	r = min(r, 1)
	return &r
}

// indicators computes correct, clean and alive from c; sufficient needs
// the field counts (see completeness).
func indicators(c store.QualityCounts) Indicators {
	checked := c.Verified + c.Mismatch + c.NotFound + c.InvalidID + c.Linked + c.Review + c.Deceased + c.Unmatched
	unchecked := max(c.Valid-checked, 0) // datasets about no person: nothing to check
	return Indicators{
		Correct: ratio(c.Verified+unchecked, c.Received),
		Clean:   ratio(c.Valid-c.Duplicates-c.Mismatch, c.Received),
		Alive:   ratio(c.Valid-c.Deceased-c.DeceasedActive-c.Unreflected, c.Valid),
	}
}

// DatasetCard is the scorecard of one source and dataset over the period.
type DatasetCard struct {
	Source  string `json:"source"`
	Dataset string `json:"dataset"`
	Counts
	Indicators Indicators `json:"indicators"`
	// Completeness is, per field of the schema, the share of valid
	// records that carry it.
	Completeness map[string]float64 `json:"completeness"`
	// MismatchFields counts identity mismatches per field (name, dob, sex).
	MismatchFields map[string]int64 `json:"mismatch_fields"`
	// LastSeen is when the source last sent a record of the dataset, and
	// SinceLastChangeSeconds how long ago that was.
	LastSeen               *time.Time `json:"last_seen,omitempty"`
	SinceLastChangeSeconds *int64     `json:"since_last_change_seconds,omitempty"`
}

// DayPoint is one day of the trend, every selected dataset together.
type DayPoint struct {
	Date string `json:"date"`
	Counts
	Indicators Indicators `json:"indicators"`
}

// Reason is one of the top rejection reasons.
type Reason struct {
	Source  string `json:"source"`
	Dataset string `json:"dataset"`
	Kind    string `json:"kind"`
	Path    string `json:"path"`
	Example string `json:"example"`
	Count   int64  `json:"count"`
}

// Scorecard is the answer of GET /v1/quality.
type Scorecard struct {
	From     string        `json:"from"`
	To       string        `json:"to"`
	Total    DatasetCard   `json:"total"`
	Datasets []DatasetCard `json:"datasets"`
	Reasons  []Reason      `json:"top_reasons"`
	Trend    []DayPoint    `json:"trend"`
}

// Scorecard computes the scorecard of q as v may see it.
func (q *Quality) Scorecard(ctx context.Context, v Viewer, qq Query) (Scorecard, error) {
	if qq.ToDay < qq.FromDay {
		return Scorecard{}, &BadInput{Field: "from", Problem: "from is after to"}
	}
	if qq.ToDay-qq.FromDay >= MaxDays {
		return Scorecard{}, &BadInput{Field: "from", Problem: fmt.Sprintf("a scorecard covers at most %d days", MaxDays)}
	}
	sq := store.QualityQuery{Sources: v.sources(qq.Source), Dataset: qq.Dataset, FromDay: qq.FromDay, ToDay: qq.ToDay}
	rows, err := q.cfg.Store.QualityDays(ctx, sq)
	if err != nil {
		return Scorecard{}, err
	}
	fields, err := q.cfg.Store.QualityFields(ctx, sq)
	if err != nil {
		return Scorecard{}, err
	}
	reasons, err := q.cfg.Store.QualityReasons(ctx, sq, 10)
	if err != nil {
		return Scorecard{}, err
	}
	now := q.cfg.Now()
	sc := Scorecard{From: q.DayStart(qq.FromDay).Format(time.DateOnly), To: q.DayStart(qq.ToDay).Format(time.DateOnly),
		Datasets: []DatasetCard{}, Reasons: []Reason{}, Trend: []DayPoint{}}
	type dk struct{ source, dataset string }
	sums := map[dk]*store.QualityCounts{}
	days := map[int64]*store.QualityCounts{}
	var total store.QualityCounts
	for _, r := range rows {
		k := dk{r.Source, r.Dataset}
		if sums[k] == nil {
			sums[k] = &store.QualityCounts{}
		}
		sums[k].Add(r.QualityCounts)
		if days[r.Day] == nil {
			days[r.Day] = &store.QualityCounts{}
		}
		days[r.Day].Add(r.QualityCounts)
		total.Add(r.QualityCounts)
	}
	present := map[dk]map[string]int64{}
	mismatch := map[dk]map[string]int64{}
	for _, f := range fields {
		k := dk{f.Source, f.Dataset}
		m := present
		if f.Kind == FieldMismatch {
			m = mismatch
		}
		if m[k] == nil {
			m[k] = map[string]int64{}
		}
		m[k][f.Field] += f.N
	}
	var sufficientSum, sufficientN float64
	for k, c := range sums {
		card := q.card(k.source, k.dataset, *c, present[k], mismatch[k], now)
		if card.Indicators.Sufficient != nil {
			sufficientSum += *card.Indicators.Sufficient * float64(c.Valid)
			sufficientN += float64(c.Valid)
		}
		sc.Datasets = append(sc.Datasets, card)
	}
	sort.Slice(sc.Datasets, func(i, j int) bool {
		a, b := sc.Datasets[i], sc.Datasets[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Dataset < b.Dataset
	})
	sc.Total = DatasetCard{Counts: countsOf(total), Indicators: indicators(total), Completeness: map[string]float64{}, MismatchFields: map[string]int64{}}
	if sufficientN > 0 {
		s := sufficientSum / sufficientN // weighted by each dataset's valid records
		sc.Total.Indicators.Sufficient = &s
	}
	for _, c := range sc.Datasets {
		for f, n := range c.MismatchFields {
			sc.Total.MismatchFields[f] += n
		}
	}
	if !total.LastSeen.IsZero() {
		sc.Total.LastSeen = &total.LastSeen
	}
	for d := qq.FromDay; d <= qq.ToDay; d++ {
		c := days[d]
		if c == nil {
			c = &store.QualityCounts{}
		}
		sc.Trend = append(sc.Trend, DayPoint{Date: q.DayStart(d).Format(time.DateOnly), Counts: countsOf(*c), Indicators: indicators(*c)})
	}
	for _, r := range reasons {
		ex := r.Example
		if !v.Owns(r.Source) {
			ex = Mask(ex)
		}
		sc.Reasons = append(sc.Reasons, Reason{Source: r.Source, Dataset: r.Dataset, Kind: r.Kind, Path: r.Path, Example: ex, Count: r.N})
	}
	return sc, nil
}

func (q *Quality) card(source, ds string, c store.QualityCounts, present, mismatch map[string]int64, now time.Time) DatasetCard {
	card := DatasetCard{Source: source, Dataset: ds, Counts: countsOf(c), Indicators: indicators(c),
		Completeness: map[string]float64{}, MismatchFields: map[string]int64{}}
	for f, n := range mismatch {
		card.MismatchFields[f] = n
	}
	if d, ok := q.datasets[ds]; ok && c.Valid > 0 && len(d.fields) > 0 {
		var sum float64
		for _, f := range d.fields {
			r := float64(present[f]) / float64(c.Valid)
			card.Completeness[f] = min(r, 1)
			sum += min(r, 1)
		}
		s := sum / float64(len(d.fields))
		card.Indicators.Sufficient = &s
	}
	if !c.LastSeen.IsZero() {
		ls := c.LastSeen
		since := int64(now.Sub(ls).Seconds())
		card.LastSeen, card.SinceLastChangeSeconds = &ls, &since
	}
	return card
}

// SchemaFields are the top-level fields of a dataset's row schema (JSON
// Schema properties, Avro record fields), sorted.
func SchemaFields(d schemas.Dataset) []string {
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Fields     []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if json.Unmarshal([]byte(d.Schema), &doc) != nil {
		return nil
	}
	var out []string
	for name := range doc.Properties {
		out = append(out, name)
	}
	for _, f := range doc.Fields {
		out = append(out, f.Name)
	}
	sort.Strings(out)
	return out
}

// digitRun is a maximal run of digits.
var digitRun = regexp.MustCompile(`[0-9]+`)

// Mask hides personal numbers (a run of exactly 9 or 12 digits: a CMND or
// a CCCD) in s but for their last three digits: what someone who does not
// own a source sees of its records.
func Mask(s string) string {
	return digitRun.ReplaceAllStringFunc(s, func(m string) string {
		if len(m) != 9 && len(m) != 12 {
			return m
		}
		return strings.Repeat("*", len(m)-3) + m[len(m)-3:]
	})
}
