package metrics

import (
	connrt "github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/prometheus/client_golang/prometheus"
)

// connectorCollector reports every connector's counters at scrape time, read
// from the runtime's own state so the two never disagree.
type connectorCollector struct {
	states                          func() []connrt.State
	read, acked, errors, lag, up, r *prometheus.Desc
}

// WatchConnectors exports per-connector metrics: records read and
// acknowledged, errors, resets, records in flight (read, not yet durable)
// and whether the connector is running.
func (m *Metrics) WatchConnectors(states func() []connrt.State) {
	l := []string{"connector"}
	m.Registry.MustRegister(&connectorCollector{
		states: states,
		read:   prometheus.NewDesc("lgsp_connector_records_read_total", "Records read from the source.", l, nil),
		acked:  prometheus.NewDesc("lgsp_connector_records_acked_total", "Records durable in Kafka and acknowledged to the source.", l, nil),
		errors: prometheus.NewDesc("lgsp_connector_errors_total", "Times the connector failed and was restarted.", l, nil),
		r:      prometheus.NewDesc("lgsp_connector_resets_total", "Position resets by an operator.", l, nil),
		lag:    prometheus.NewDesc("lgsp_connector_inflight_records", "Records read but not yet acknowledged.", l, nil),
		up:     prometheus.NewDesc("lgsp_connector_up", "1 while the connector is running.", l, nil),
	})
}

func (c *connectorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.read, c.acked, c.errors, c.r, c.lag, c.up} {
		ch <- d
	}
}

func (c *connectorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.states() {
		up := 0.0
		if s.Status == "running" {
			up = 1
		}
		inflight := 0.0
		if s.Read > s.Acked {
			inflight = float64(s.Read - s.Acked)
		}
		ch <- prometheus.MustNewConstMetric(c.read, prometheus.CounterValue, float64(s.Read), s.Name)
		ch <- prometheus.MustNewConstMetric(c.acked, prometheus.CounterValue, float64(s.Acked), s.Name)
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(s.Errors), s.Name)
		ch <- prometheus.MustNewConstMetric(c.r, prometheus.CounterValue, float64(s.Resets), s.Name)
		ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, inflight, s.Name)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, s.Name)
	}
}
