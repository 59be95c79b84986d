package metrics

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RateWindow is how far back the live rates look: records per second over
// the last minute.
const RateWindow = 60

// OtherDataset is the label records of a dataset the catalog does not know
// are counted under, so a connector sending made-up dataset names cannot
// grow the metrics without bound.
const OtherDataset = "(other)"

// rate is a ring of per-second counts over the last RateWindow seconds.
// Each slot carries the second it counts, so a slot left from a minute ago
// is not mistaken for a current one and no ticker has to clear it.
type rate struct {
	sec [RateWindow]int64
	n   [RateWindow]uint64
}

func (r *rate) add(now int64, n uint64) {
	i := now % RateWindow
	if r.sec[i] != now {
		r.sec[i], r.n[i] = now, 0
	}
	r.n[i] += n
}

// perSecond is the mean rate over the window ending at now, over the
// seconds since start while the window is not yet full.
func (r *rate) perSecond(now int64, start int64) float64 {
	var sum uint64
	for i := range r.sec {
		if r.sec[i] > now-RateWindow && r.sec[i] <= now {
			sum += r.n[i]
		}
	}
	window := min(max(now-start, 1), RateWindow)
	return float64(sum) / float64(window)
}

type counter struct {
	total uint64
	rate  rate
}

func (c *counter) add(now int64, n uint64) {
	c.total += n
	c.rate.add(now, n)
}

type datasetCounters struct{ in, published, deadLettered counter }

// Lag is how far delivery is behind what was published, read from Kafka:
// the delivery consumer group's committed offsets against the canonical
// topics' ends, so it is the whole bus's, not one instance's.
type Lag struct {
	// Records is how many published records wait to be delivered.
	Records int64 `json:"records"`
	// Seconds is how long the oldest of them has waited since it was
	// published (0 when none waits), to the resolution of the measurement
	// period.
	Seconds float64 `json:"seconds"`
	// AtLeast says the oldest waiting record was published before the bus
	// started watching, so Seconds is a lower bound.
	AtLeast bool `json:"at_least"`
}

// worse is the lag of two sets of partitions together: records add up,
// the age is the older one's.
func (l Lag) worse(o Lag) Lag {
	out := Lag{Records: l.Records + o.Records, Seconds: l.Seconds, AtLeast: l.AtLeast}
	if o.Seconds > l.Seconds || o.Seconds == l.Seconds && o.AtLeast {
		out.Seconds, out.AtLeast = o.Seconds, o.AtLeast
	}
	return out
}

// DatasetFlow is one dataset's figures.
type DatasetFlow struct {
	Dataset string `json:"dataset"`
	// Counts since this instance started.
	In           uint64 `json:"records_in"`
	Published    uint64 `json:"published"`
	DeadLettered uint64 `json:"dead_lettered"`
	Delivered    uint64 `json:"delivered"`
	// Records per second over the last minute, on this instance.
	InRate           float64 `json:"records_in_per_second"`
	PublishedRate    float64 `json:"published_per_second"`
	DeadLetteredRate float64 `json:"dead_lettered_per_second"`
	DeliveredRate    float64 `json:"delivered_per_second"`
	// Lag of the dataset's delivery (nil: not measured yet).
	Lag *Lag `json:"lag"`
}

// DeliveryFlow is one agency's deliveries of one dataset.
type DeliveryFlow struct {
	Agency    string  `json:"agency"`
	Dataset   string  `json:"dataset"`
	Delivered uint64  `json:"delivered"`
	Rate      float64 `json:"delivered_per_second"`
	// Lag is the dataset's: one consumer group delivers a record to every
	// agency it goes to at once.
	Lag *Lag `json:"lag"`
}

// AgencyFlow is one agency's deliveries of all datasets.
type AgencyFlow struct {
	Agency    string  `json:"agency"`
	Delivered uint64  `json:"delivered"`
	Rate      float64 `json:"delivered_per_second"`
	// Lag is its datasets' together: the records waiting in any of them,
	// and the oldest one's age.
	Lag *Lag `json:"lag"`
}

// Flow is the overview's figures per dataset, per agency and dataset, and
// per agency.
type Flow struct {
	// Instance counts only what this instance did, since Since.
	Since         time.Time `json:"since"`
	WindowSeconds int       `json:"window_seconds"`
	// LagMeasuredAt is when the lags were read from Kafka (nil: not yet).
	LagMeasuredAt *time.Time     `json:"lag_measured_at"`
	Datasets      []DatasetFlow  `json:"datasets"`
	Deliveries    []DeliveryFlow `json:"deliveries"`
	Agencies      []AgencyFlow   `json:"agencies"`
}

// FlowConfig tells the counters what there is to count; it bounds the
// labels to the catalog's datasets and the agreements' agencies.
type FlowConfig struct {
	// Datasets are the catalog's; records of any other dataset are counted
	// under OtherDataset.
	Datasets []string
	// Deliveries lists the (agency, dataset) pairs of the stream agreements
	// in force, shown even before anything was delivered.
	Deliveries func() [][2]string
	// Topics maps each dataset's canonical topic to the dataset, for the
	// delivery lag (ObserveDelivery).
	Topics map[string]string
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time
}

type flow struct {
	mu         sync.Mutex
	cfg        FlowConfig
	start      time.Time
	known      map[string]bool // nil: any dataset (before WatchFlow)
	datasets   map[string]*datasetCounters
	deliveries map[[2]string]*counter // agency, dataset
	lag        *LagTracker            // nil before WatchFlow
}

func newFlow() *flow {
	return &flow{cfg: FlowConfig{Now: time.Now}, start: time.Now(), datasets: map[string]*datasetCounters{}, deliveries: map[[2]string]*counter{}}
}

// label is the dataset as counted: a dataset of the catalog, or OtherDataset.
func (f *flow) label(dataset string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.labelLocked(dataset)
}

func (f *flow) labelLocked(dataset string) string {
	if f.known != nil && !f.known[dataset] {
		return OtherDataset
	}
	return dataset
}

func (f *flow) dataset(name string) *datasetCounters {
	d := f.datasets[name]
	if d == nil {
		d = &datasetCounters{}
		f.datasets[name] = d
	}
	return d
}

func (f *flow) count(dataset string, n int, which func(*datasetCounters) *counter) {
	f.mu.Lock()
	which(f.dataset(f.labelLocked(dataset))).add(f.cfg.Now().Unix(), uint64(n))
	f.mu.Unlock()
}

func (f *flow) delivered(agency, dataset string, n int) {
	f.mu.Lock()
	k := [2]string{agency, f.labelLocked(dataset)}
	c := f.deliveries[k]
	if c == nil {
		c = &counter{}
		f.deliveries[k] = c
	}
	c.add(f.cfg.Now().Unix(), uint64(n))
	f.mu.Unlock()
}

// WatchFlow bounds the per-dataset counters to the catalog, lists the
// agreements' deliveries and their lags in Flow, and exports the live rates
// and the lags as Prometheus gauges.
func (m *Metrics) WatchFlow(cfg FlowConfig) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := m.flow
	f.mu.Lock()
	f.cfg, f.start, f.lag = cfg, cfg.Now(), NewLagTracker(cfg.Topics)
	f.known = map[string]bool{}
	for _, d := range cfg.Datasets {
		f.known[d] = true
	}
	f.mu.Unlock()
	m.Registry.MustRegister(&flowCollector{
		m:        m,
		dsRate:   prometheus.NewDesc("lgsp_dataset_records_per_second", "Records per second over the last minute on this instance, per dataset and stage (in, published, dead_lettered).", []string{"dataset", "stage"}, nil),
		dvRate:   prometheus.NewDesc("lgsp_delivery_records_per_second", "Records delivered per second over the last minute on this instance, per agency and dataset.", []string{"agency", "dataset"}, nil),
		lagRecs:  prometheus.NewDesc("lgsp_delivery_lag_records", "Published records of a dataset not yet delivered (the delivery consumer group's lag, the whole bus's).", []string{"dataset"}, nil),
		lagSecs:  prometheus.NewDesc("lgsp_delivery_lag_seconds", "How long the oldest published record of a dataset not yet delivered has waited (0: none waits).", []string{"dataset"}, nil),
		measured: prometheus.NewDesc("lgsp_delivery_lag_measured_timestamp_seconds", "When the delivery lags were last read from Kafka.", nil, nil),
	})
}

// ObserveDelivery takes a reading of the canonical topics' partitions:
// their ends and the delivery group's positions (ignored before WatchFlow).
func (m *Metrics) ObserveDelivery(now time.Time, parts []PartitionOffsets) {
	m.flow.mu.Lock()
	tracker := m.flow.lag
	m.flow.mu.Unlock()
	if tracker != nil {
		tracker.Observe(now, parts)
	}
}

// Flow returns the figures per dataset and per agency, sorted by name:
// every dataset of the catalog and every agreement's delivery, counted or
// not yet.
func (m *Metrics) Flow() Flow {
	f := m.flow
	f.mu.Lock()
	cfg, tracker := f.cfg, f.lag
	f.mu.Unlock()
	var lags map[string]Lag
	var at time.Time
	measured := false
	if tracker != nil {
		lags, at, measured = tracker.Lags()
	}
	var pairs [][2]string
	if cfg.Deliveries != nil {
		pairs = cfg.Deliveries()
	}
	lagOf := func(ds string) *Lag {
		if !measured {
			return nil
		}
		l := lags[ds] // a dataset without partitions read waits for nothing
		return &l
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	now := cfg.Now().Unix()
	start := f.start.Unix()
	out := Flow{Since: f.start.UTC(), WindowSeconds: RateWindow, Datasets: []DatasetFlow{}, Deliveries: []DeliveryFlow{}, Agencies: []AgencyFlow{}}
	if measured {
		t := at.UTC()
		out.LagMeasuredAt = &t
	}
	names := map[string]bool{}
	for _, d := range cfg.Datasets {
		names[d] = true
	}
	for d := range f.datasets {
		names[d] = true
	}
	dv := map[[2]string]*counter{}
	for _, p := range pairs {
		dv[p] = &counter{}
	}
	for k, c := range f.deliveries {
		dv[k] = c
	}
	dsDelivered := map[string]*DatasetFlow{}
	for _, name := range sortedKeys(names) {
		c := f.datasets[name]
		if c == nil {
			c = &datasetCounters{}
		}
		out.Datasets = append(out.Datasets, DatasetFlow{Dataset: name,
			In: c.in.total, Published: c.published.total, DeadLettered: c.deadLettered.total,
			InRate: c.in.rate.perSecond(now, start), PublishedRate: c.published.rate.perSecond(now, start),
			DeadLetteredRate: c.deadLettered.rate.perSecond(now, start), Lag: lagOf(name)})
	}
	for i := range out.Datasets {
		dsDelivered[out.Datasets[i].Dataset] = &out.Datasets[i]
	}
	keys := make([][2]string, 0, len(dv))
	for k := range dv {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i][0] != keys[j][0] {
			return keys[i][0] < keys[j][0]
		}
		return keys[i][1] < keys[j][1]
	})
	for _, k := range keys {
		c := dv[k]
		r := c.rate.perSecond(now, start)
		out.Deliveries = append(out.Deliveries, DeliveryFlow{Agency: k[0], Dataset: k[1], Delivered: c.total, Rate: r, Lag: lagOf(k[1])})
		if d := dsDelivered[k[1]]; d != nil {
			d.Delivered += c.total
			d.DeliveredRate += r
		}
		n := len(out.Agencies)
		if n == 0 || out.Agencies[n-1].Agency != k[0] {
			out.Agencies = append(out.Agencies, AgencyFlow{Agency: k[0]})
			n++
		}
		a := &out.Agencies[n-1]
		a.Delivered += c.total
		a.Rate += r
		if l := lagOf(k[1]); l != nil {
			if a.Lag == nil {
				a.Lag = l
			} else {
				w := a.Lag.worse(*l)
				a.Lag = &w
			}
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// flowCollector reports the live rates and lags at scrape time from the
// same figures /v1/status shows.
type flowCollector struct {
	m                                          *Metrics
	dsRate, dvRate, lagRecs, lagSecs, measured *prometheus.Desc
}

func (c *flowCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.dsRate, c.dvRate, c.lagRecs, c.lagSecs, c.measured} {
		ch <- d
	}
}

func (c *flowCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.Flow()
	for _, d := range f.Datasets {
		for stage, v := range map[string]float64{"in": d.InRate, "published": d.PublishedRate, "dead_lettered": d.DeadLetteredRate} {
			ch <- prometheus.MustNewConstMetric(c.dsRate, prometheus.GaugeValue, v, d.Dataset, stage)
		}
		if d.Lag != nil {
			ch <- prometheus.MustNewConstMetric(c.lagRecs, prometheus.GaugeValue, float64(d.Lag.Records), d.Dataset)
			ch <- prometheus.MustNewConstMetric(c.lagSecs, prometheus.GaugeValue, d.Lag.Seconds, d.Dataset)
		}
	}
	for _, d := range f.Deliveries {
		ch <- prometheus.MustNewConstMetric(c.dvRate, prometheus.GaugeValue, d.Rate, d.Agency, d.Dataset)
	}
	if f.LagMeasuredAt != nil {
		ch <- prometheus.MustNewConstMetric(c.measured, prometheus.GaugeValue, float64(f.LagMeasuredAt.UnixNano())/1e9)
	}
}

// ForAgency is the flow as one agency may see it: every dataset's counts,
// but only its own deliveries, since how much another agency receives is
// that agency's business.
func (f Flow) ForAgency(agency string) Flow {
	out := f
	out.Deliveries = []DeliveryFlow{}
	for _, d := range f.Deliveries {
		if d.Agency == agency {
			out.Deliveries = append(out.Deliveries, d)
		}
	}
	out.Agencies = []AgencyFlow{}
	for _, a := range f.Agencies {
		if a.Agency == agency {
			out.Agencies = append(out.Agencies, a)
		}
	}
	return out
}
