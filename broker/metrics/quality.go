package metrics

import (
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Quality is the data-quality metrics (broker/quality). A nil *Quality
// records nothing.
type Quality struct {
	records    *prometheus.CounterVec
	items      prometheus.Counter
	dropped    prometheus.Counter
	redrive    *prometheus.CounterVec
	indicators *prometheus.GaugeVec
}

// NewQuality registers the quality metrics with reg.
func NewQuality(reg *prometheus.Registry) *Quality {
	q := &Quality{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_quality_records_total",
			Help: "Records counted by the data-quality scorecards, per source, dataset and class (received, valid, duplicate, or an identity outcome)."},
			[]string{"source", "dataset", "class"}),
		items: prometheus.NewCounter(prometheus.CounterOpts{Name: "lgsp_quality_items_created_total",
			Help: "Dead-lettered or unreconciled records, and alive findings, kept as redrive items."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "lgsp_quality_items_dropped_total",
			Help: "Redrive items not kept because the store was behind for too long."}),
		redrive: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_quality_redrive_total",
			Help: "Actions on redrive items, per source and result (resubmitted, accepted, rejected, discarded, rechecked)."}, []string{"source", "result"}),
		indicators: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lgsp_quality_indicator_ratio",
			Help: "Today's data-quality indicators (correct, sufficient, clean, alive) per source and dataset, 0 to 1."},
			[]string{"source", "dataset", "indicator"}),
	}
	if reg != nil {
		reg.MustRegister(q.records, q.items, q.dropped, q.redrive, q.indicators)
	}
	return q
}

// Counted adds a flushed set of scorecard counters.
func (q *Quality) Counted(source, dataset string, c store.QualityCounts) {
	if q == nil {
		return
	}
	for _, x := range []struct {
		class string
		n     int64
	}{{"received", c.Received}, {"valid", c.Valid}, {"duplicate", c.Duplicates}, {"verified", c.Verified}, {"mismatch", c.Mismatch},
		{"not_found", c.NotFound}, {"invalid_id", c.InvalidID}, {"linked", c.Linked}, {"review", c.Review}, {"deceased", c.Deceased},
		{"unmatched", c.Unmatched}, {"deceased_active", c.DeceasedActive}, {"unreflected", c.Unreflected}} {
		if x.n > 0 {
			q.records.WithLabelValues(source, dataset, x.class).Add(float64(x.n))
		}
	}
}

// ItemsCreated counts new redrive items.
func (q *Quality) ItemsCreated(n int) {
	if q != nil {
		q.items.Add(float64(n))
	}
}

// ItemsDropped counts items not kept.
func (q *Quality) ItemsDropped(n int) {
	if q != nil {
		q.dropped.Add(float64(n))
	}
}

// Redrive counts an action on an item.
func (q *Quality) Redrive(source, result string) {
	if q != nil {
		q.redrive.WithLabelValues(source, result).Inc()
	}
}

// Indicators sets today's indicators of a dataset; nil ones (no records)
// are left out.
func (q *Quality) Indicators(source, dataset string, correct, sufficient, clean, alive *float64) {
	if q == nil {
		return
	}
	for _, x := range []struct {
		name string
		v    *float64
	}{{"correct", correct}, {"sufficient", sufficient}, {"clean", clean}, {"alive", alive}} {
		if x.v != nil {
			q.indicators.WithLabelValues(source, dataset, x.name).Set(*x.v)
		}
	}
}
