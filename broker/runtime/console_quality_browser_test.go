package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// The ministry's console pages in a real browser against a dev bus: the
// land registry sees its data quality with the trend chart, opens a
// rejected record, corrects it and resubmits it (accepted, audited), on
// a phone screen; the insurance agency is refused that record.
func TestConsoleMinistryQualityInBrowser(t *testing.T) {
	ctx := browser(t)
	bus := start(t, devConfig(t, t.TempDir()))
	defer bus.Close(context.Background())
	base := "http://" + bus.Addrs().API
	land := sourceToken(t, bus, "land")
	holder := citizens(t, bus.Store, 1)[0]
	row := map[string]any{"certificate_no": "CS777001", "parcel_id": "7/70", "province_code": "079", "area_m2": 88.5, "land_use_purpose": "ODT",
		"holder_cccd": holder.ID, "holder_name": holder.FullName, "holder_dob": holder.DOB, "issued_on": "2021-04-05"}
	row["land_use_purpose"] = "VƯỜN" // not a purpose code: rejected at $.land_use_purpose
	body, _ := json.Marshal(map[string]any{"dataset": "land.land_use_right", "op": "c", "after": row})
	if code, raw := postAs(t, base+"/v1/sources/land/records", land, "application/json", body); code != 422 {
		t.Fatalf("push: %d %s", code, raw)
	}
	var items struct{ Items []quality.Item }
	for deadline := time.Now().Add(30 * time.Second); len(items.Items) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the rejected record did not become an item")
		}
		time.Sleep(100 * time.Millisecond)
		operatorGet(t, base+"/v1/quality/items?status=open", land, &items)
	}
	id := fmt.Sprint(items.Items[0].ID)

	p := page{t: t, ctx: ctx, base: base, dir: screenshots(t)}
	p.signIn(land)
	p.run("scorecard", chromedp.Navigate(base+"/ui/quality"), chromedp.WaitVisible(chromedp.CSS("#quality-chart")))
	if got := p.text("main"); !strings.Contains(got, "land.land_use_right") || !strings.Contains(got, "$.land_use_purpose") {
		t.Errorf("scorecard page: %s", got)
	}
	p.shot("quality-scorecard")
	p.run("phone", chromedp.EmulateViewport(360, 740))
	p.run("items", chromedp.Navigate(base+"/ui/quality/items"), chromedp.WaitVisible(chromedp.CSS("#qitem-"+id)), submit("#qitem-"+id),
		chromedp.WaitVisible(chromedp.CSS("#record")))
	if got := p.text("#item-record"); !strings.Contains(got, holder.ID) || !strings.Contains(got, "VƯỜN") {
		t.Errorf("the record as received: %s", got)
	}
	p.shot("quality-item-phone")
	row["land_use_purpose"] = "ODT"
	fixed, _ := json.Marshal(map[string]any{"dataset": "land.land_use_right", "op": "c", "after": row})
	p.run("resubmit", chromedp.SetValue(chromedp.CSS("#record"), string(fixed)), submit("#resubmit"), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if got := p.text("#item-status"); got != "Đã chấp nhận" {
		t.Errorf("status after the resubmission: %q", got)
	}
	p.shot("quality-accepted-phone")
	es, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Action: "quality.resubmit", Limit: 10})
	if err != nil || len(es) != 1 || es[0].Decision != "allow" {
		t.Fatalf("the resubmission is not audited: %+v %v", es, err)
	}
	p.signOut()

	// Another ministry: the refusal page, not the record.
	p.signIn(sourceToken(t, bus, "insurance"))
	p.run("another ministry", chromedp.Navigate(base+"/ui/quality/items/"+id), chromedp.WaitVisible(chromedp.CSS("h1")))
	if got := p.text("main"); strings.Contains(got, holder.ID) || !strings.Contains(got, "not_source_owner") {
		t.Errorf("another ministry sees: %s", got)
	}
}
