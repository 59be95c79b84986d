package console

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// knownFlow is a bus's "flow" with figures chosen to exercise every form:
// rates with decimals, an unmeasured lag, a lag of minutes, one "at least".
var knownFlow = func() metrics.Flow {
	measured := time.Date(2026, 3, 4, 5, 7, 0, 0, time.UTC)
	tax := &metrics.Lag{Records: 37, Seconds: 125}
	land := &metrics.Lag{Records: 2, Seconds: 4, AtLeast: true}
	return metrics.Flow{Since: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC), WindowSeconds: 60, LagMeasuredAt: &measured,
		Datasets: []metrics.DatasetFlow{
			{Dataset: "land.land_parcel", In: 40, Published: 38, DeadLettered: 2, Delivered: 38, InRate: 0.67, PublishedRate: 0.63, DeadLetteredRate: 0.03, DeliveredRate: 0.63, Lag: land},
			{Dataset: "tax.taxpayer", In: 1200, Published: 1150, DeadLettered: 50, Delivered: 2226, InRate: 20, PublishedRate: 19.17, DeadLetteredRate: 0.83, DeliveredRate: 37.1, Lag: tax},
		},
		Deliveries: []metrics.DeliveryFlow{
			{Agency: "gov-inspectorate", Dataset: "land.land_parcel", Delivered: 38, Rate: 0.63, Lag: land},
			{Agency: "thads-hcm", Dataset: "tax.taxpayer", Delivered: 1113, Rate: 18.55, Lag: tax},
			{Agency: "vss", Dataset: "tax.taxpayer", Delivered: 1113, Rate: 18.55, Lag: tax},
		},
		Agencies: []metrics.AgencyFlow{
			{Agency: "gov-inspectorate", Delivered: 38, Rate: 0.63, Lag: land},
			{Agency: "thads-hcm", Delivered: 1113, Rate: 18.55, Lag: tax},
			{Agency: "vss", Delivered: 1113, Rate: 18.55, Lag: tax},
		}}
}()

// flowAPI is the fake bus answering /v1/status with knownFlow.
type flowAPI struct{ *fakeAPI }

func (f flowAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/status" || r.Header.Get("Authorization") != "Bearer "+opToken {
		f.fakeAPI.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"records_in": 1240, "published": 1188, "dead_lettered": 52, "delivered": 2264,
		"identity": map[string]int{"verified": 1100}, "population": 2000, "instance": "lgsp-a", "connectors": []any{}, "flow": knownFlow})
}

// The overview's tables per dataset, per agency and per agency and
// dataset, rendered from known figures, in both languages (golden files:
// go test ./broker/console -run TestOverviewFlowTables -update).
func TestOverviewFlowTables(t *testing.T) {
	f := newFixture(t)
	f.con.SetAPI(flowAPI{f.api})
	for _, l := range []Lang{Vietnamese, English} {
		t.Run(string(l), func(t *testing.T) {
			b := f.browser(t, l)
			b.signIn(opToken)
			code, page, _ := b.do("GET", "/ui/overview", nil)
			if code != 200 {
				t.Fatalf("%d %s", code, page)
			}
			from, to := strings.Index(page, `<section aria-labelledby="pd-h"`), strings.Index(page, `<section aria-labelledby="id-h"`)
			if from < 0 || to < from {
				t.Fatalf("no flow tables on the page: %s", page)
			}
			got := page[from:to]
			golden := filepath.Join("testdata", "overview_flow."+string(l)+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (write it with -update)", err)
			}
			if got != string(want) {
				t.Errorf("the tables differ from %s (rewrite with -update if intended):\n%s", golden, got)
			}
		})
	}
	// The golden files hold what an operator must see; checked here so a
	// careless -update cannot make them wrong.
	vi, _ := os.ReadFile("testdata/overview_flow.vi.golden")
	en, _ := os.ReadFile("testdata/overview_flow.en.golden")
	for _, c := range []struct {
		page string
		want []string
	}{
		{string(vi), []string{"<strong>lgsp-a</strong>", "04/03/2026 12:00", `data-figure="flow/ds/tax.taxpayer/in">1200<`, `data-figure="flow/ds/tax.taxpayer/in/rate">20,0/giây<`,
			`data-figure="flow/ds/tax.taxpayer/oldest">2 phút 5 giây<`, `data-figure="flow/ds/land.land_parcel/oldest">≥ 4 giây<`,
			`data-figure="flow/ag/vss/waiting">37<`, "Cục Thi hành án dân sự TP. Hồ Chí Minh", "Chờ chuyển giao"}},
		{string(en), []string{`data-figure="flow/ds/tax.taxpayer/published/rate">19.2/s<`, `data-figure="flow/dv/thads-hcm/tax.taxpayer/delivered">1113<`,
			`data-figure="flow/ds/tax.taxpayer/oldest">2 min 5 s<`, "HCMC civil judgment enforcement", "Government Inspectorate", "Oldest waiting"}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.page, w) {
				t.Errorf("golden file lacks %s", w)
			}
		}
	}
	if strings.Count(string(en), `<tr><th scope="row">`) != 2+3+3 {
		t.Errorf("want 2 dataset rows, 3 agency rows and 3 delivery rows:\n%s", en)
	}

	// The script's live figures carry every cell, formatted as on the page.
	b := f.browser(t, Vietnamese)
	b.signIn(opToken)
	code, raw, _ := b.do("GET", "/ui/live/status", nil)
	var figs map[string]any
	if code != 200 || json.Unmarshal([]byte(raw), &figs) != nil {
		t.Fatalf("%d %s", code, raw)
	}
	for k, v := range map[string]string{"flow/ds/tax.taxpayer/delivered": "2226", "flow/ds/tax.taxpayer/delivered/rate": "37,1/giây",
		"flow/ag/thads-hcm/oldest": "2 phút 5 giây", "flow/ag/vss/waiting": "37", "flow/ds/land.land_parcel/dead/rate": "0,0/giây"} {
		if figs[k] != v {
			t.Errorf("%s: %v, want %s", k, figs[k], v)
		}
	}
}

// A backlog reading from long ago (Kafka unreachable): the page says so.
func TestOverviewStaleBacklog(t *testing.T) {
	f := newFixture(t)
	f.con.SetAPI(flowAPI{f.api})
	b := f.browser(t, English)
	b.signIn(opToken)
	if _, page, _ := b.do("GET", "/ui/overview", nil); strings.Contains(page, text(English, "flow.stale")) {
		t.Fatal("a current reading is called stale")
	}
	f.clock.add(10 * time.Minute) // the reading was at 05:07 UTC, now it is 05:16
	_, page, _ := b.do("GET", "/ui/overview", nil)
	if !strings.Contains(page, template_escape(text(English, "flow.stale"))+" 04/03/2026 12:07.") {
		t.Fatalf("no warning of the stale backlog: %s", page)
	}
}

// A bus whose status has no "flow" (an older instance): no tables, no error.
func TestOverviewWithoutFlow(t *testing.T) {
	f := newFixture(t)
	b := f.browser(t, English)
	b.signIn(opToken)
	code, page, _ := b.do("GET", "/ui/overview", nil)
	if code != 200 || strings.Contains(page, `id="flow-datasets"`) || !strings.Contains(page, `data-figure="records_in">120<`) {
		t.Fatalf("%d %s", code, page)
	}
}

func TestFormatFlow(t *testing.T) {
	for _, c := range []struct {
		l                 Lang
		lag               *metrics.Lag
		rate              float64
		waiting, age, rte string
	}{
		{English, nil, 0, "—", "—", "0.0/s"},
		{Vietnamese, nil, 0.04, "—", "—", "0,0/giây"},
		{English, &metrics.Lag{}, 0.05, "0", "0 s", "0.1/s"},
		{English, &metrics.Lag{Records: 3, Seconds: 59.6}, 1234.56, "3", "1 min 0 s", "1234.6/s"},
		{Vietnamese, &metrics.Lag{Records: 9, Seconds: 7322, AtLeast: true}, 2.25, "9", "≥ 2 giờ 2 phút", "2,3/giây"},
	} {
		w, a := formatLag(c.l, c.lag)
		if r := formatRate(c.l, c.rate); w != c.waiting || a != c.age || r != c.rte {
			t.Errorf("%s %+v %v: %q %q %q, want %q %q %q", c.l, c.lag, c.rate, w, a, r, c.waiting, c.age, c.rte)
		}
	}
}
