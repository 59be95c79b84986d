package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	lgspmetrics "github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// flowStatus is /v1/status's "flow".
func flowStatus(t *testing.T, bus *runtime.Bus, token string) lgspmetrics.Flow {
	t.Helper()
	var st struct{ Flow lgspmetrics.Flow }
	if code := operatorGet(t, "http://"+bus.Addrs().API+"/v1/status", token, &st); code != 200 {
		t.Fatalf("GET /v1/status: %d", code)
	}
	return st.Flow
}

// sentPerDataset is what the synthetic connectors of a dev bus send, per
// dataset, computed from the generator itself.
func sentPerDataset(bus *runtime.Bus, seed int64, population int, limit uint64) map[string]uint64 {
	pop := synthetic.NewPop(seed, population)
	out := map[string]uint64{}
	for _, s := range runtime.Sources(bus.Catalog) {
		for i := range limit {
			if s == synthetic.PopulationSource {
				out[synthetic.PopulationDataset]++
				continue
			}
			ds, _, _, _ := synthetic.Stream(seed, s, pop, i)
			out[ds]++
		}
	}
	return out
}

// ends is how many messages each topic holds (the dev bus's topics start
// empty), read from Kafka.
func ends(t *testing.T, bus *runtime.Bus, topics []string) map[string]int64 {
	t.Helper()
	ps, err := kafkaio.GroupPositions(t.Context(), bus.Cluster(), "flow-test", topics)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, p := range ps {
		out[p.Topic] += p.End
	}
	return out
}

// The overview's figures through a dev bus with the synthetic streams:
// each dataset's records in equal what its connector sent, published ones
// equal the records on its canonical topic, each agency's delivered
// records equal the messages on its delivery topics, and once everything
// is delivered the lag is nothing; the same figures are on /metrics.
func TestOverviewFlowThroughDevBus(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	c := devConfig(t, t.TempDir())
	const limit = 300
	c.Synthetic.Enabled, c.Synthetic.Limit, c.Synthetic.RatePerSecond = true, limit, 0
	bus := start(t, c)
	defer bus.Close(context.Background())
	op := operatorToken(t, bus)
	sent := sentPerDataset(bus, c.Synthetic.Seed, c.Synthetic.Population, limit)
	total := uint64(0)
	for _, n := range sent {
		total += n
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// Wait for every record to be taken in, then for a lag reading taken
	// after all of them were published that says nothing waits.
	var f lgspmetrics.Flow
	var settled time.Time
	for {
		f = flowStatus(t, bus, op)
		in, done := uint64(0), uint64(0)
		for _, d := range f.Datasets {
			in += d.In
			done += d.Published + d.DeadLettered
		}
		waiting := int64(-1)
		if f.LagMeasuredAt != nil && !settled.IsZero() && f.LagMeasuredAt.After(settled) {
			waiting = 0
			for _, d := range f.Datasets {
				waiting += d.Lag.Records
			}
		}
		if in == total && done == total && settled.IsZero() {
			settled = time.Now()
		}
		if waiting == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("took in %d of %d records, %d published or dead-lettered, %d waiting for delivery: %+v", in, total, done, waiting, f.Datasets)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Delivery of the last batch is counted once Kafka acknowledged it,
	// which is before it is committed: the counts are final now.
	f = flowStatus(t, bus, op)

	var topics, deliveryTopics []string
	for _, d := range bus.Catalog.Datasets() {
		topics = append(topics, d.Topic())
	}
	for _, d := range f.Deliveries {
		deliveryTopics = append(deliveryTopics, contract.DeliveryTopic(d.Agency, d.Dataset))
	}
	canonical, delivered := ends(t, bus, topics), ends(t, bus, deliveryTopics)
	if len(f.Datasets) != len(bus.Catalog.Datasets()) {
		t.Fatalf("%d datasets, the catalog has %d: %+v", len(f.Datasets), len(bus.Catalog.Datasets()), f.Datasets)
	}
	dead := uint64(0)
	for _, d := range f.Datasets {
		ds, ok := bus.Catalog.Dataset(d.Dataset)
		if !ok {
			t.Fatalf("dataset %q is not the catalog's", d.Dataset)
		}
		if d.In != sent[d.Dataset] || d.Published+d.DeadLettered != d.In || int64(d.Published) != canonical[ds.Topic()] {
			t.Errorf("%s: in %d (sent %d), published %d (on %s: %d), dead-lettered %d", d.Dataset, d.In, sent[d.Dataset], d.Published, ds.Topic(), canonical[ds.Topic()], d.DeadLettered)
		}
		if d.In > 0 && (d.InRate <= 0 || d.InRate > float64(d.In)) {
			t.Errorf("%s: %v records/s for %d records within the last minute", d.Dataset, d.InRate, d.In)
		}
		if *d.Lag != (lgspmetrics.Lag{}) {
			t.Errorf("%s: lag %+v after everything was delivered", d.Dataset, *d.Lag)
		}
		dead += d.DeadLettered
	}
	if dead == 0 {
		t.Error("the synthetic streams' bad records are not counted as dead-lettered")
	}
	perAgency := map[string]uint64{}
	some := false
	for _, d := range f.Deliveries {
		if int64(d.Delivered) != delivered[contract.DeliveryTopic(d.Agency, d.Dataset)] {
			t.Errorf("%s ← %s: %d delivered, %d on %s", d.Agency, d.Dataset, d.Delivered, delivered[contract.DeliveryTopic(d.Agency, d.Dataset)], contract.DeliveryTopic(d.Agency, d.Dataset))
		}
		if _, ok := bus.Agencies().Get(d.Agency); !ok {
			t.Errorf("delivery to %q, not an agency of the registry", d.Agency)
		}
		perAgency[d.Agency] += d.Delivered
		some = some || d.Delivered > 0
	}
	if !some {
		t.Fatalf("nothing delivered: %+v", f.Deliveries)
	}
	if len(f.Agencies) != len(perAgency) {
		t.Fatalf("agencies %+v, deliveries to %v", f.Agencies, perAgency)
	}
	for _, a := range f.Agencies {
		if a.Delivered != perAgency[a.Agency] || a.Lag == nil || a.Lag.Records != 0 {
			t.Errorf("%s: %d delivered (its deliveries %d), lag %+v", a.Agency, a.Delivered, perAgency[a.Agency], a.Lag)
		}
	}
	// The same figures as Prometheus metrics, labelled by dataset and agency.
	m := metrics(t, "http://"+bus.Addrs().API)
	d0 := f.Deliveries[0]
	for _, want := range []string{
		`lgsp_delivery_lag_records{dataset="tax.taxpayer"} 0`,
		`lgsp_delivery_lag_seconds{dataset="tax.taxpayer"} 0`,
		fmt.Sprintf(`lgsp_records_in_total{dataset="tax.taxpayer"} %d`, sent["tax.taxpayer"]),
		`lgsp_dataset_records_per_second{dataset="tax.taxpayer",stage="in"} `,
		fmt.Sprintf(`lgsp_delivery_records_per_second{agency=%q,dataset=%q} `, d0.Agency, d0.Dataset),
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// With delivery off, the lag is every published record, and the oldest's
// age grows while nothing is delivered.
func TestOverviewLagWhileDeliveryIsBehind(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	c := devConfig(t, t.TempDir())
	const limit = 50
	c.Synthetic.Enabled, c.Synthetic.Limit, c.Synthetic.RatePerSecond = true, limit, 0
	bus, err := runtime.Start(t.Context(), runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c), NoDelivery: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	op := operatorToken(t, bus)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		f := flowStatus(t, bus, op)
		published, waiting, oldest := uint64(0), int64(0), 0.0
		for _, d := range f.Datasets {
			published += d.Published
			if d.Lag != nil {
				waiting += d.Lag.Records
				oldest = max(oldest, d.Lag.Seconds)
			}
		}
		// Past two readings the oldest record has waited at least one
		// reading period.
		if published > 0 && waiting == int64(published) && oldest >= 2 {
			var tax lgspmetrics.DatasetFlow
			for _, d := range f.Datasets {
				if d.Dataset == "tax.taxpayer" {
					tax = d
				}
			}
			if tax.Lag == nil || tax.Lag.Records != int64(tax.Published) {
				t.Fatalf("tax: %d published, lag %+v", tax.Published, tax.Lag)
			}
			for _, a := range f.Agencies {
				if a.Delivered != 0 || a.Lag == nil || a.Lag.Records == 0 {
					t.Errorf("%s: %d delivered with delivery off, lag %+v", a.Agency, a.Delivered, a.Lag)
				}
			}
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("published %d, %d waiting, oldest %v s: %+v", published, waiting, oldest, f.Datasets)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkOverviewFlow is the browser's view of the overview's tables per
// dataset and per agency (TestConsoleInBrowser): every dataset of the
// catalog and every stream agreement's agency by its full name, the
// records counted, the page's own script refreshing the cells, and on a
// 360-px phone the tables scroll inside their own region, not the page.
func checkOverviewFlow(t *testing.T, p page, bus *runtime.Bus) {
	t.Helper()
	body := p.text("main")
	for _, want := range []string{"Theo tập dữ liệu", "Theo cơ quan nhận", "Chờ chuyển giao", "Bản ghi chờ lâu nhất", "/giây",
		"Tổng cục Thuế", "Bảo hiểm xã hội Việt Nam", "tax.taxpayer", "Số đếm và tốc độ là của phiên bản"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	rows, err := chromedp.Run(p.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#flow-datasets tbody tr").length`))
	if err != nil || rows != len(bus.Catalog.Datasets()) {
		t.Errorf("%d dataset rows, the catalog has %d (%v)", rows, len(bus.Catalog.Datasets()), err)
	}
	// The script rewrites a cell from the live figures within its period.
	p.run("live refresh", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-figure="flow/ds/tax.taxpayer/in"]').textContent = "stale"`),
		chromedp.Poll[chromedp.Void](`/^[0-9]+$/.test(document.querySelector('[data-figure="flow/ds/tax.taxpayer/in"]').textContent)`,
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	in, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.querySelector('[data-figure="flow/ds/tax.taxpayer/in"]').textContent`))
	if err != nil || in == "0" {
		t.Errorf("tax.taxpayer records in after a refresh: %q %v", in, err)
	}
	p.run("overview on a phone", chromedp.EmulateViewport(360, 740), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#flow-datasets")))
	wide, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > 360`))
	if err != nil || wide {
		t.Errorf("the overview is wider than a 360-px phone (%v)", err)
	}
	p.shot("overview-phone")
	p.run("desktop again", chromedp.EmulateViewport(1200, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
}
