// Package metrics owns the bus's Prometheus metrics and the in-process
// counters behind the dev mode's one-line live status.
package metrics

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics implements the pipeline and delivery observers.
type Metrics struct {
	Registry *prometheus.Registry

	in, out, dlq  *prometheus.CounterVec
	reconciled    *prometheus.CounterVec
	delivered     *prometheus.CounterVec
	latency       prometheus.Histogram
	lag           prometheus.GaugeFunc
	totIn, totOut atomic.Uint64
	totDLQ, totDv atomic.Uint64

	mu       sync.Mutex
	outcomes map[string]uint64

	flow *flow // per dataset and agency, with live rates (flow.go)
}

// New registers the bus metrics; lag reports the delivery consumer lag.
func New(lag func() float64) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), outcomes: map[string]uint64{}, flow: newFlow()}
	m.in = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_records_in_total", Help: "Records received from connectors, per dataset."}, []string{"dataset"})
	m.out = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_records_published_total", Help: "Records published to canonical topics and acknowledged by Kafka, per dataset."}, []string{"dataset"})
	m.dlq = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_records_dead_lettered_total", Help: "Records sent to a dead-letter topic, per source, dataset and reason kind."}, []string{"source", "dataset", "kind"})
	m.reconciled = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_identity_outcomes_total", Help: "Identity reconciliation outcomes."}, []string{"outcome"})
	m.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lgsp_records_delivered_total", Help: "Records delivered to consumer topics under an agreement."}, []string{"consumer", "dataset"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lgsp_pipeline_latency_seconds", Help: "Time from receiving a batch to Kafka acknowledging all of it.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})
	m.lag = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lgsp_delivery_consumer_lag", Help: "Messages of canonical topics not yet delivered (consumer group lag)."}, lag)
	m.Registry.MustRegister(m.in, m.out, m.dlq, m.reconciled, m.delivered, m.latency, m.lag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// The dataset labels are the catalog's once WatchFlow was called: a record
// naming another dataset (dead-lettered) counts under OtherDataset.

func (m *Metrics) Ingested(dataset string, n int) {
	m.in.WithLabelValues(m.flow.label(dataset)).Add(float64(n))
	m.totIn.Add(uint64(n))
	m.flow.count(dataset, n, func(d *datasetCounters) *counter { return &d.in })
}

func (m *Metrics) Published(dataset string, n int) {
	m.out.WithLabelValues(m.flow.label(dataset)).Add(float64(n))
	m.totOut.Add(uint64(n))
	m.flow.count(dataset, n, func(d *datasetCounters) *counter { return &d.published })
}

func (m *Metrics) DeadLettered(source, dataset, kind string) {
	m.dlq.WithLabelValues(source, m.flow.label(dataset), kind).Inc()
	m.totDLQ.Add(1)
	m.flow.count(dataset, 1, func(d *datasetCounters) *counter { return &d.deadLettered })
}

func (m *Metrics) Reconciled(outcome string, n int) {
	m.reconciled.WithLabelValues(outcome).Add(float64(n))
	m.mu.Lock()
	m.outcomes[outcome] += uint64(n)
	m.mu.Unlock()
}

func (m *Metrics) Latency(d time.Duration) { m.latency.Observe(d.Seconds()) }

func (m *Metrics) Delivered(consumer, dataset string, n int) {
	m.delivered.WithLabelValues(consumer, m.flow.label(dataset)).Add(float64(n))
	m.totDv.Add(uint64(n))
	m.flow.delivered(consumer, dataset, n)
}

func (m *Metrics) Filtered(string, string) {}

// Snapshot is the totals shown in the live status line.
type Snapshot struct {
	In, Published, DeadLettered, Delivered uint64
	Outcomes                               map[string]uint64
}

// Snapshot returns the totals so far.
func (m *Metrics) Snapshot() Snapshot {
	m.mu.Lock()
	oc := make(map[string]uint64, len(m.outcomes))
	for k, v := range m.outcomes {
		oc[k] = v
	}
	m.mu.Unlock()
	return Snapshot{In: m.totIn.Load(), Published: m.totOut.Load(), DeadLettered: m.totDLQ.Load(), Delivered: m.totDv.Load(), Outcomes: oc}
}

// StatusLine renders a snapshot in one line for the operator's terminal.
func (s Snapshot) StatusLine() string {
	keys := make([]string, 0, len(s.Outcomes))
	for k := range s.Outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, s.Outcomes[k])
	}
	return fmt.Sprintf("in=%d published=%d dead-lettered=%d delivered=%d identity[%s]", s.In, s.Published, s.DeadLettered, s.Delivered, strings.Join(parts, " "))
}

// CounterVec registers cv with reg, or returns the one already registered
// under its name (several handlers built on one registry in tests); a nil
// reg leaves it unregistered.
func CounterVec(reg prometheus.Registerer, cv *prometheus.CounterVec) *prometheus.CounterVec {
	if r, ok := reg.(*prometheus.Registry); reg == nil || ok && r == nil {
		return cv
	}
	if err := reg.Register(cv); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return cv
}
