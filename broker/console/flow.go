package console

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lgsp-bus/lgsp/broker/metrics"
)

// figure is a table cell's text and the key the overview's script
// refreshes it by (data-figure).
type figure struct{ Key, Text string }

// flowCounts is a count and its rate over the last minute.
type flowCounts struct{ Count, Rate figure }

// flowLag is how many records wait for delivery and how long the oldest has.
type flowLag struct{ Waiting, Oldest figure }

type flowDatasetRow struct {
	Dataset                        string
	In, Published, Dead, Delivered flowCounts
	Lag                            flowLag
}

type flowAgencyRow struct {
	Agency    string // full name in the page's language
	Delivered flowCounts
	Lag       flowLag
}

type flowDeliveryRow struct {
	Agency, Dataset string // agency: full name in the page's language
	Delivered       flowCounts
}

// flowData is the overview's tables per dataset, per agency, and per
// agency and dataset, from /v1/status "flow".
type flowData struct {
	Instance string
	Since    time.Time
	Window   int
	Measured *time.Time
	// Stale says the backlog was last read from Kafka long ago (Kafka
	// unreachable from this instance): the figures shown are that old.
	Stale      bool
	Datasets   []flowDatasetRow
	Agencies   []flowAgencyRow
	Deliveries []flowDeliveryRow
}

// figures lists every cell the script refreshes.
func (d flowData) figures() []figure {
	var out []figure
	lag := func(l flowLag) { out = append(out, l.Waiting, l.Oldest) }
	counts := func(cs ...flowCounts) {
		for _, c := range cs {
			out = append(out, c.Count, c.Rate)
		}
	}
	for _, r := range d.Datasets {
		counts(r.In, r.Published, r.Dead, r.Delivered)
		lag(r.Lag)
	}
	for _, r := range d.Agencies {
		counts(r.Delivered)
		lag(r.Lag)
	}
	for _, r := range d.Deliveries {
		counts(r.Delivered) // its lag is its dataset's, shown there
	}
	return out
}

// flowOf lays out a bus's "flow" for the page; name gives an agency's full
// name in the page's language, looked up once per agency rather than per
// row (200 rows at 10 datasets and 20 agencies).
func flowOf(l Lang, instance string, f metrics.Flow, name func(string) string) flowData {
	names := map[string]string{}
	nameOf := func(id string) string {
		n, ok := names[id]
		if !ok {
			n = name(id)
			names[id] = n
		}
		return n
	}
	d := flowData{Instance: instance, Since: f.Since, Window: f.WindowSeconds, Measured: f.LagMeasuredAt}
	counts := func(key string, n uint64, rate float64) flowCounts {
		return flowCounts{figure{key, strconv.FormatUint(n, 10)}, figure{key + "/rate", formatRate(l, rate)}}
	}
	lag := func(key string, lg *metrics.Lag) flowLag {
		w, o := formatLag(l, lg)
		return flowLag{figure{key + "/waiting", w}, figure{key + "/oldest", o}}
	}
	for _, r := range f.Datasets {
		k := "flow/ds/" + r.Dataset
		d.Datasets = append(d.Datasets, flowDatasetRow{Dataset: r.Dataset,
			In: counts(k+"/in", r.In, r.InRate), Published: counts(k+"/published", r.Published, r.PublishedRate),
			Dead: counts(k+"/dead", r.DeadLettered, r.DeadLetteredRate), Delivered: counts(k+"/delivered", r.Delivered, r.DeliveredRate),
			Lag: lag(k, r.Lag)})
	}
	for _, r := range f.Agencies {
		k := "flow/ag/" + r.Agency
		d.Agencies = append(d.Agencies, flowAgencyRow{Agency: nameOf(r.Agency), Delivered: counts(k+"/delivered", r.Delivered, r.Rate), Lag: lag(k, r.Lag)})
	}
	for _, r := range f.Deliveries {
		k := "flow/dv/" + r.Agency + "/" + r.Dataset
		d.Deliveries = append(d.Deliveries, flowDeliveryRow{Agency: nameOf(r.Agency), Dataset: r.Dataset, Delivered: counts(k+"/delivered", r.Delivered, r.Rate)})
	}
	return d
}

// staleAfter is how old a backlog reading (taken every 2 s) may get before
// the page warns that it is not current.
const staleAfter = 30 * time.Second

// formatRate is records per second with one decimal, the decimal mark of
// the language (Vietnamese writes 2,5).
func formatRate(l Lang, v float64) string {
	s := strconv.FormatFloat(math.Round(v*10)/10, 'f', 1, 64)
	if l == English {
		return s + "/s"
	}
	return strings.Replace(s, ".", ",", 1) + "/giây"
}

// formatLag is the records waiting for delivery and the oldest one's age
// in words ("—" before the lag was first read).
func formatLag(l Lang, lg *metrics.Lag) (string, string) {
	if lg == nil {
		return "—", "—"
	}
	age := formatAge(l, lg.Seconds)
	if lg.AtLeast {
		age = "≥ " + age
	}
	return strconv.FormatInt(lg.Records, 10), age
}

// formatAge is a duration to the second, in hours, minutes and seconds.
func formatAge(l Lang, secs float64) string {
	s := int64(math.Round(secs))
	h, m := s/3600, s%3600/60
	s %= 60
	units := [3]string{"giờ", "phút", "giây"}
	if l == English {
		units = [3]string{"h", "min", "s"}
	}
	switch {
	case h > 0:
		return fmt.Sprintf("%d %s %d %s", h, units[0], m, units[1])
	case m > 0:
		return fmt.Sprintf("%d %s %d %s", m, units[1], s, units[2])
	}
	return fmt.Sprintf("%d %s", s, units[2])
}
