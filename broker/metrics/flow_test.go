package metrics

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start int64
		adds  [][2]int64 // second, count
		now   int64
		want  float64
	}{
		{"nothing", 0, nil, 100, 0},
		{"a full minute of 10/s", 0, series(41, 100, 10), 100, 10},
		{"older than a minute is gone", 0, series(1, 30, 10), 100, 0},
		{"a slot reused a minute later counts anew", 0, [][2]int64{{40, 500}, {100, 60}}, 100, 1},
		{"half a minute since start: over 30 s", 70, series(71, 100, 6), 100, 6},
		{"the first second", 100, [][2]int64{{100, 7}}, 100, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r rate
			for _, a := range tc.adds {
				r.add(a[0], uint64(a[1]))
			}
			if got := r.perSecond(tc.now, tc.start); got != tc.want {
				t.Fatalf("rate %v, want %v", got, tc.want)
			}
		})
	}
}

// series is a count of n in each second from..to.
func series(from, to, n int64) [][2]int64 {
	var out [][2]int64
	for s := from; s <= to; s++ {
		out = append(out, [2]int64{s, n})
	}
	return out
}

func TestFlowPerDatasetAndAgency(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	m := New(func() float64 { return 0 })
	m.WatchFlow(FlowConfig{Datasets: []string{"tax.taxpayer", "land.parcel", "civil.birth"}, Now: c.now,
		Deliveries: func() [][2]string {
			return [][2]string{{"vss", "tax.taxpayer"}, {"vss", "land.parcel"}, {"thads", "civil.birth"}}
		},
		Topics: map[string]string{"tax.taxpayer.v1": "tax.taxpayer", "land.parcel.v1": "land.parcel", "civil.birth.v1": "civil.birth"}})
	// Kafka read at start: land has a record from before; 6 s later 4 tax
	// records wait, published since; then nothing moves for 6 s.
	read := func(at time.Time, taxEnd int64) {
		m.ObserveDelivery(at, []PartitionOffsets{{"land.parcel.v1", 0, 1, 0}, {"tax.taxpayer.v1", 0, taxEnd, 0}, {"civil.birth.v1", 0, 0, 0}})
	}
	read(c.t.Add(-12*time.Second), 0)
	read(c.t.Add(-6*time.Second), 4)
	measured := c.t
	read(measured, 4)
	// 60 s of traffic: 2 records in a second of tax, 1 of land.
	for i := 0; i < 60; i++ {
		c.t = c.t.Add(time.Second)
		m.Ingested("tax.taxpayer", 2)
		m.Published("tax.taxpayer", 2)
		m.Ingested("land.parcel", 1)
		m.DeadLettered("land", "land.parcel", "schema")
		m.Delivered("vss", "tax.taxpayer", 2)
	}
	m.Ingested("made.up", 5) // a record of no dataset of the catalog
	m.DeadLettered("land", "made.up", "unknown_dataset")
	f := m.Flow()
	if f.WindowSeconds != 60 || f.LagMeasuredAt == nil || !f.LagMeasuredAt.Equal(measured) {
		t.Fatalf("window %d, measured %v", f.WindowSeconds, f.LagMeasuredAt)
	}
	want := []DatasetFlow{
		{Dataset: OtherDataset, In: 5, DeadLettered: 1, InRate: 5.0 / 60, DeadLetteredRate: 1.0 / 60, Lag: &Lag{}},
		{Dataset: "civil.birth", Lag: &Lag{}},
		{Dataset: "land.parcel", In: 60, DeadLettered: 60, InRate: 1, DeadLetteredRate: 1, Lag: &Lag{Records: 1, Seconds: 12, AtLeast: true}},
		{Dataset: "tax.taxpayer", In: 120, Published: 120, Delivered: 120, InRate: 2, PublishedRate: 2, DeliveredRate: 2, Lag: &Lag{Records: 4, Seconds: 6}},
	}
	if len(f.Datasets) != len(want) {
		t.Fatalf("datasets %+v", f.Datasets)
	}
	for i, w := range want {
		g := f.Datasets[i]
		if g.Dataset != w.Dataset || g.In != w.In || g.Published != w.Published || g.DeadLettered != w.DeadLettered || g.Delivered != w.Delivered ||
			g.InRate != w.InRate || g.PublishedRate != w.PublishedRate || g.DeadLetteredRate != w.DeadLetteredRate || g.DeliveredRate != w.DeliveredRate || *g.Lag != *w.Lag {
			t.Errorf("dataset %d: %+v lag %+v, want %+v lag %+v", i, g, g.Lag, w, w.Lag)
		}
	}
	wantDv := []DeliveryFlow{{Agency: "thads", Dataset: "civil.birth", Lag: &Lag{}},
		{Agency: "vss", Dataset: "land.parcel", Lag: &Lag{Records: 1, Seconds: 12, AtLeast: true}},
		{Agency: "vss", Dataset: "tax.taxpayer", Delivered: 120, Rate: 2, Lag: &Lag{Records: 4, Seconds: 6}}}
	if len(f.Deliveries) != len(wantDv) {
		t.Fatalf("deliveries %+v", f.Deliveries)
	}
	for i, w := range wantDv {
		if g := f.Deliveries[i]; g.Agency != w.Agency || g.Dataset != w.Dataset || g.Delivered != w.Delivered || g.Rate != w.Rate || *g.Lag != *w.Lag {
			t.Errorf("delivery %d: %+v, want %+v", i, g, w)
		}
	}
	// An agency's lag: its datasets' records together, the oldest's age.
	wantAg := []AgencyFlow{{Agency: "thads", Lag: &Lag{}}, {Agency: "vss", Delivered: 120, Rate: 2, Lag: &Lag{Records: 5, Seconds: 12, AtLeast: true}}}
	if len(f.Agencies) != len(wantAg) {
		t.Fatalf("agencies %+v", f.Agencies)
	}
	for i, w := range wantAg {
		if g := f.Agencies[i]; g.Agency != w.Agency || g.Delivered != w.Delivered || g.Rate != w.Rate || *g.Lag != *w.Lag {
			t.Errorf("agency %d: %+v %+v, want %+v %+v", i, g, g.Lag, w, w.Lag)
		}
	}

	// The same as Prometheus gauges, labels bounded to the catalog.
	for _, want := range []string{
		`lgsp_dataset_records_per_second{dataset="tax.taxpayer",stage="published"} 2`,
		`lgsp_delivery_records_per_second{agency="vss",dataset="tax.taxpayer"} 2`,
		`lgsp_delivery_lag_records{dataset="tax.taxpayer"} 4`,
		`lgsp_delivery_lag_seconds{dataset="land.parcel"} 12`,
		`lgsp_records_in_total{dataset="(other)"} 5`,
		`lgsp_records_dead_lettered_total{dataset="(other)",kind="unknown_dataset",source="land"} 1`,
	} {
		if !strings.Contains(gathered(t, m), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(gathered(t, m), `"made.up"`) {
		t.Error("a made-up dataset became a label")
	}
}

// Before the lag is first measured the figures say so (nil), not 0.
func TestFlowLagNotYetMeasured(t *testing.T) {
	m := New(func() float64 { return 0 })
	m.WatchFlow(FlowConfig{Datasets: []string{"a"}, Deliveries: func() [][2]string { return [][2]string{{"x", "a"}} }, Topics: map[string]string{"a.v1": "a"}})
	f := m.Flow()
	if f.LagMeasuredAt != nil || f.Datasets[0].Lag != nil || f.Deliveries[0].Lag != nil || f.Agencies[0].Lag != nil {
		t.Fatalf("%+v", f)
	}
	if strings.Contains(gathered(t, m), "lgsp_delivery_lag_seconds{") {
		t.Error("a lag gauge before any measurement")
	}
}

func gathered(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// The counters sit on the pipeline's and delivery's paths (once per batch
// and dataset, once per dead letter): their cost per call, with the
// status page read concurrently.
func BenchmarkFlowCounters(b *testing.B) {
	m := New(func() float64 { return 0 })
	var ds []string
	for i := range 10 {
		ds = append(ds, "d"+strconv.Itoa(i))
	}
	m.WatchFlow(FlowConfig{Datasets: ds})
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			d := ds[i%len(ds)]
			m.Ingested(d, 100)
			m.Published(d, 99)
			m.DeadLettered("src", d, "schema")
			m.Delivered("vss", d, 99)
			if i%10_000 == 0 {
				m.Flow()
			}
			i++
		}
	})
}
