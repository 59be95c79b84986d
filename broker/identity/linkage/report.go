package linkage

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/identity"
)

// Report is what a bulk reconciliation found, as an operator reads it: the
// outcome counts, the histogram of match weights, the fitted model (m and u
// of every comparison level) and, when a ground truth was given, the
// quality of the decisions. WriteJSON and WriteHTML give the same figures.
type Report struct {
	Title             string         `json:"title"`
	Population        int            `json:"population"`
	Records           int            `json:"records"`
	Outcomes          []OutcomeCount `json:"outcomes"`
	MismatchConfirmed int            `json:"mismatch_confirmed"` // strict mismatches verified by comparison
	// Histogram of the match weight (bits) of the records decided by
	// comparison: the linked, reviewed or unmatched best candidate, and the
	// holder of a number whose fields differ. Empty bins at both ends are
	// left out.
	Histogram  []HistogramBin `json:"weight_histogram"`
	Thresholds Thresholds     `json:"thresholds"`
	Model      ReportModel    `json:"model"`
	Quality    *Quality       `json:"quality,omitempty"`
	Elapsed    float64        `json:"elapsed_seconds"`
}

// OutcomeCount is one outcome's count and share of the records.
type OutcomeCount struct {
	Outcome identity.Outcome `json:"outcome"`
	Count   int              `json:"count"`
	Share   float64          `json:"share"`
}

// HistogramBin counts the weights in [From, To).
type HistogramBin struct {
	From  int `json:"from"`
	To    int `json:"to"`
	Count int `json:"count"`
}

// Thresholds are the linker's decision thresholds and cardinality, and
// what other link thresholds would give on the records decided by linkage
// (Table: expected precision and recall from the model, measured ones with
// a ground truth), so that an office can set the review band by its
// clerks' capacity.
type Thresholds struct {
	Link        float64        `json:"link_probability"`
	Review      float64        `json:"review_probability"`
	Cardinality Cardinality    `json:"cardinality"`
	Table       []ThresholdRow `json:"table,omitempty"`
}

// ReportModel is the fitted model as reported (probabilities to six
// significant digits, weights to two decimals).
type ReportModel struct {
	PriorWeight float64            `json:"prior_weight"`
	MatchRate   float64            `json:"match_rate"`
	RandomPairs int                `json:"random_pairs"`
	Comparisons []ComparisonParams `json:"comparisons"`
	Sessions    []EMSession        `json:"em_sessions"`
	Blocking    []RuleCoverage     `json:"blocking,omitempty"`
}

// Outcomes in the order reports list them.
var reportOutcomes = []identity.Outcome{identity.Verified, identity.Mismatch, identity.Deceased, identity.NotFound,
	identity.InvalidID, identity.Linked, identity.Review, identity.Unmatched}

// NewReport builds the report of a summary (its Model must be set).
func NewReport(title string, sum Summary, cfg Config) Report {
	r := Report{Title: title, Records: sum.Records, MismatchConfirmed: sum.Confirmed, Quality: sum.Quality,
		Thresholds: Thresholds{Link: cfg.LinkProbability, Review: cfg.ReviewProbability, Cardinality: cmp.Or(cfg.Cardinality, OneToOne)},
		Elapsed:    round2(sum.Elapsed.Seconds())}
	if sum.Model != nil && sum.probs.records > 0 {
		r.Thresholds.Table = sum.probs.rows(sum.Model.MatchRate, cfg.LinkProbability, cfg.ReviewProbability)
	}
	for _, o := range reportOutcomes {
		n := sum.Outcomes[o]
		r.Outcomes = append(r.Outcomes, OutcomeCount{Outcome: o, Count: n, Share: round4(float64(n) / float64(max(sum.Records, 1)))})
	}
	lo, hi := 0, HistogramBins
	for lo < hi && sum.Histogram[lo] == 0 {
		lo++
	}
	for hi > lo && sum.Histogram[hi-1] == 0 {
		hi--
	}
	for b := lo; b < hi; b++ {
		r.Histogram = append(r.Histogram, HistogramBin{From: b - HistogramBins/2, To: b - HistogramBins/2 + 1, Count: sum.Histogram[b]})
	}
	if m := sum.Model; m != nil {
		r.Population = m.Population
		r.Model = ReportModel{PriorWeight: round2(m.PriorWeight), MatchRate: m.MatchRate, RandomPairs: m.RandomPairs, Sessions: m.Sessions, Blocking: m.Blocking}
		for _, c := range m.Comparisons {
			cp := ComparisonParams{Field: c.Field, Comparison: c.Comparison}
			for _, l := range c.Levels {
				cp.Levels = append(cp.Levels, LevelParams{Level: l.Level, M: sig6(l.M), U: sig6(l.U), Weight: round2(l.Weight)})
			}
			r.Model.Comparisons = append(r.Model.Comparisons, cp)
		}
	}
	return r
}

func sig6(x float64) float64 {
	if x == 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return x
	}
	p := math.Pow(10, 5-math.Floor(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// Quality compares the decisions with a ground truth (record → the
// personal number of the citizen it describes, "" for someone not in the
// register), as written by `lgsp gen`.
type Quality struct {
	Records         int     `json:"records"` // results that have a ground truth
	InRegister      int     `json:"in_register"`
	Identified      int     `json:"identified"` // verified or linked to a citizen
	IdentifiedRight int     `json:"identified_right"`
	Precision       float64 `json:"precision"` // of identified
	Recall          float64 `json:"recall"`    // identified right / in register
	// Records in the register that had no usable number (decided by
	// linkage), and how linkage did on them.
	ToLink      int     `json:"to_link"`
	Linked      int     `json:"linked"`
	LinkedRight int     `json:"linked_right"`
	LinkPrec    float64 `json:"link_precision"`
	LinkRecall  float64 `json:"link_recall"`
	Review      int     `json:"review"`
	ReviewRight int     `json:"review_right"` // the proposed candidate is the citizen
}

func (q *Quality) add(r Result, truth string) {
	q.Records++
	if truth != "" {
		q.InRegister++
	}
	switch r.Outcome {
	case identity.Verified, identity.Linked, identity.Deceased:
		q.Identified++
		if r.PersonalID == truth && truth != "" {
			q.IdentifiedRight++
		}
	}
	switch r.Outcome {
	case identity.Linked, identity.Review, identity.Unmatched, identity.NotFound, identity.InvalidID:
		if truth != "" {
			q.ToLink++
		}
	}
	switch r.Outcome {
	case identity.Linked:
		q.Linked++
		if r.PersonalID == truth {
			q.LinkedRight++
		}
	case identity.Review:
		q.Review++
		if r.PersonalID == truth {
			q.ReviewRight++
		}
	}
}

func (q *Quality) finish() {
	q.Precision = round4(float64(q.IdentifiedRight) / float64(max(q.Identified, 1)))
	q.Recall = round4(float64(q.IdentifiedRight) / float64(max(q.InRegister, 1)))
	q.LinkPrec = round4(float64(q.LinkedRight) / float64(max(q.Linked, 1)))
	q.LinkRecall = round4(float64(q.LinkedRight) / float64(max(q.ToLink, 1)))
}

// ReadTruth reads a ground-truth file (CSV with a header, or NDJSON) with
// the columns record_id and personal_id (empty: not in the register).
func ReadTruth(in io.Reader, f Format) (map[string]string, error) {
	rows, err := newRowReader(in, f)
	if err != nil {
		return nil, err
	}
	if h := rows.header(); h != nil {
		if err := (Mapping{RecordID: "record_id", PersonalID: "personal_id"}).Check(h, true); err != nil {
			return nil, fmt.Errorf("truth file: %w", err)
		}
	}
	out := map[string]string{}
	for {
		get, err := rows.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("truth file, row %d: %w", len(out)+1, err)
		}
		out[strings.TrimSpace(get("record_id"))] = strings.TrimSpace(get("personal_id"))
	}
}

// WriteHTML writes the report as one self-contained HTML page: inline SVG
// charts (outcomes, weight histogram, m and u of every comparison level)
// with the same figures in tables; no script, no external resource.
func (r Report) WriteHTML(w io.Writer) error {
	return reportPage.Execute(w, struct {
		Report
		OutcomeChart, HistogramChart template.HTML
		ModelCharts                  []template.HTML
	}{r, outcomeChart(r.Outcomes), histogramChart(r.Histogram), modelCharts(r.Model.Comparisons)})
}

var reportPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct": func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) },
	"g":   func(x float64) string { return fmt.Sprintf("%.4g", x) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
svg{display:block;margin:.5em 0}.note{color:#555;font-size:.9em}
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{.Records}} records reconciled against a register of {{.Population}} citizens in {{.Elapsed}} s.
A record is <b>linked</b> at probability ≥ {{.Thresholds.Link}}, sent to <b>review</b> at ≥ {{.Thresholds.Review}};
cardinality {{.Thresholds.Cardinality}}.</p>
{{with .Thresholds.Table}}
<h2>Choosing the thresholds</h2>
<p class="note">Of the records decided by linkage: how many a link threshold would link, with the precision and recall the
model expects (mean probability of those linked; their summed probability over the expected number of these records in the
register, each record's probability of being one of its candidates){{if (index . 0).Precision}} and those measured against the
ground truth{{end}}. The model sees only the people some blocking rule proposes: a person no rule finds counts as nobody, so the
expected recall is of the people the blocking finds and reads above the true one by the share the blocking misses (see the
blocking rules below). Records between the review and the link
threshold go to review: pick the review threshold whose extra records your clerks can handle
(--link-probability, --review-probability).</p>
<table id="thresholds"><tr><th>probability ≥</th><th>linked</th><th>expected precision</th><th>expected recall</th>{{if (index . 0).Precision}}<th>precision</th><th>recall</th>{{end}}</tr>
{{range .}}<tr><td>{{.Probability}}</td><td>{{.Linked}}</td><td>{{.ExpectedPrecision}}</td><td>{{.ExpectedRecall}}</td>{{if .Precision}}<td>{{.Precision}}</td><td>{{.Recall}}</td>{{end}}</tr>
{{end}}</table>
{{end}}

<h2>Outcomes</h2>
{{.OutcomeChart}}
<table id="outcomes"><tr><th>outcome</th><th>records</th><th>share</th></tr>
{{range .Outcomes}}<tr><td>{{.Outcome}}</td><td>{{.Count}}</td><td>{{pct .Share}}</td></tr>
{{end}}</table>
<p>Strict mismatches recognised as the same person (verified with a note): {{.MismatchConfirmed}}.</p>
{{with .Quality}}
<h2>Against the ground truth</h2>
<table id="quality"><tr><th>measure</th><th>value</th></tr>
<tr><td>records with a ground truth</td><td>{{.Records}}</td></tr>
<tr><td>in the register</td><td>{{.InRegister}}</td></tr>
<tr><td>identified (verified or linked), right</td><td>{{.Identified}}, {{.IdentifiedRight}}</td></tr>
<tr><td>precision, recall of identified</td><td>{{.Precision}}, {{.Recall}}</td></tr>
<tr><td>in the register without a usable number</td><td>{{.ToLink}}</td></tr>
<tr><td>linked, right</td><td>{{.Linked}}, {{.LinkedRight}}</td></tr>
<tr><td>precision, recall of linked</td><td>{{.LinkPrec}}, {{.LinkRecall}}</td></tr>
<tr><td>review, the candidate is the person</td><td>{{.Review}}, {{.ReviewRight}}</td></tr>
</table>
{{end}}
<h2>Match weights</h2>
<p class="note">Match weight (bits, log2 odds with the prior) of the candidate each comparison-decided record got.</p>
{{.HistogramChart}}
<table id="histogram"><tr><th>weight from</th><th>to</th><th>records</th></tr>
{{range .Histogram}}{{if .Count}}<tr><td>{{.From}}</td><td>{{.To}}</td><td>{{.Count}}</td></tr>
{{end}}{{end}}</table>

<h2>Estimated model</h2>
<p class="note">m = P(level | same person), estimated by expectation–maximisation; u = P(level | different people), from {{.Model.RandomPairs}} random pairs of citizens;
weight = log2(m/u). Prior weight {{.Model.PriorWeight}} bits; estimated share of records in the register {{.Model.MatchRate}}.</p>
{{range .ModelCharts}}{{.}}{{end}}
<table id="model"><tr><th>comparison</th><th>level</th><th>m</th><th>u</th><th>weight</th></tr>
{{range .Model.Comparisons}}{{$f := .Field}}{{if .Comparison}}{{$f = printf "%s (%s)" .Field .Comparison}}{{end}}{{range .Levels}}<tr><td>{{$f}}</td><td>{{.Level}}</td><td>{{g .M}}</td><td>{{g .U}}</td><td>{{.Weight}}</td></tr>
{{end}}{{end}}</table>
<table id="sessions"><tr><th>EM session (blocking rule)</th><th>pairs</th><th>records</th><th>expected matches</th><th>iterations</th><th>estimated</th></tr>
{{range .Model.Sessions}}<tr><td>{{.Rule}}</td><td>{{.Pairs}}</td><td>{{.Records}}</td><td>{{.Matches}}</td><td>{{.Iterations}}</td><td>{{range .Estimated}}{{.}} {{end}}</td></tr>
{{end}}</table>
{{with .Model.Blocking}}
<h2>Blocking rules</h2>
<p class="note">The share of the true pairs (each training record's best candidate, counted with its probability) that each rule's
block holds, and the share only that rule holds: what dropping it would lose. Pairs no rule finds are not seen.</p>
<table id="blocking"><tr><th>rule</th><th>share of true pairs</th><th>found by this rule only</th></tr>
{{range .}}<tr><td>{{.Rule}}</td><td>{{pct .Share}}</td><td>{{pct .Only}}</td></tr>
{{end}}</table>
{{end}}
</body></html>
`))

const svgFont = `font-family="system-ui,sans-serif" font-size="12"`

// outcomeChart is a horizontal bar per outcome.
func outcomeChart(os []OutcomeCount) template.HTML {
	const left, width, row = 110, 520, 22
	most := 1
	for _, o := range os {
		most = max(most, o.Count)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="outcome-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="records per outcome" %s>`, left+width+120, row*len(os)+10, svgFont)
	for i, o := range os {
		y := 5 + i*row
		wd := float64(width) * float64(o.Count) / float64(most)
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+15, html.EscapeString(string(o.Outcome)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s: %d</title></rect>`, left, y+2, wd, row-6, outcomeColour(o.Outcome), html.EscapeString(string(o.Outcome)), o.Count)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d">%d (%.1f%%)</text>`, float64(left)+wd+6, y+15, o.Count, 100*o.Share)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func outcomeColour(o identity.Outcome) string {
	switch o {
	case identity.Verified, identity.Linked:
		return "#2e7d32"
	case identity.Review:
		return "#f9a825"
	case identity.Mismatch, identity.Deceased:
		return "#6d4c41"
	}
	return "#c62828"
}

// histogramChart is a column per weight bin, with the axis in bits.
func histogramChart(bins []HistogramBin) template.HTML {
	const left, bottom, height, width = 50, 30, 220, 800
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="histogram-chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="histogram of match weights" %s>`, left+width+20, height+bottom+10, svgFont)
	if len(bins) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="40">no record was decided by comparison</text></svg>`, left)
		return template.HTML(b.String())
	}
	lo, hi := bins[0].From, bins[len(bins)-1].To
	most := 1
	for _, h := range bins {
		most = max(most, h.Count)
	}
	bw := float64(width) / float64(hi-lo)
	x := func(v int) float64 { return float64(left) + float64(v-lo)*bw }
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#888"/>`, left, height+5, left+width, height+5)
	for _, h := range bins {
		ht := float64(height) * float64(h.Count) / float64(most)
		colour := "#1565c0"
		if h.From < 0 {
			colour = "#c62828"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>[%d, %d): %d</title></rect>`, x(h.From)+0.5, float64(height+5)-ht, math.Max(bw-1, 0.5), ht, colour, h.From, h.To, h.Count)
	}
	step := 5
	if hi-lo > 50 {
		step = 10
	}
	for v := (lo/step - 1) * step; v <= hi; v += step {
		if v < lo {
			continue
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`, x(v), height+22, v)
	}
	fmt.Fprintf(&b, `<text x="%d" y="14">%d</text><text x="%d" y="%d" text-anchor="end">bits</text>`, 4, most, left+width, height+bottom+6)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// modelCharts draws, per comparison, m and u of each level on a log scale
// (10^-6 … 1) with the weight written next to them.
func modelCharts(cs []ComparisonParams) []template.HTML {
	const left, width, row = 130, 480, 30
	var out []template.HTML
	x := func(p float64) float64 {
		return float64(width) * (math.Log10(math.Max(p, 1e-6)) + 6) / 6
	}
	for _, c := range cs {
		var b strings.Builder
		h := row*len(c.Levels) + 40
		fmt.Fprintf(&b, `<svg class="model-chart" id="model-%s" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="m and u of %s" %s>`, html.EscapeString(c.Field), left+width+90, h, html.EscapeString(c.Field), svgFont)
		fmt.Fprintf(&b, `<text x="0" y="14" font-weight="bold">%s</text><text x="%d" y="14"><tspan fill="#1565c0">■ m</tspan> <tspan fill="#ef6c00">■ u</tspan> (log scale) weight</text>`, html.EscapeString(c.Field), left)
		for i, l := range c.Levels {
			y := 24 + i*row
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+16, html.EscapeString(l.Level))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="10" fill="#1565c0"><title>m=%.4g</title></rect>`, left, y+2, x(l.M), l.M)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="10" fill="#ef6c00"><title>u=%.4g</title></rect>`, left, y+14, x(l.U), l.U)
			fmt.Fprintf(&b, `<text x="%d" y="%d">%+.2f</text>`, left+width+8, y+16, l.Weight)
		}
		for e := -6; e <= 0; e++ {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#777">1e%d</text>`, float64(left)+x(math.Pow(10, float64(e))), h-2, e)
		}
		b.WriteString(`</svg>`)
		out = append(out, template.HTML(b.String()))
	}
	return out
}
