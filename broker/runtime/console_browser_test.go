package runtime_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

// chromium is the browser the console tests drive. Without it they skip,
// unless CI is set: CI installs it (.ci/run), so there a missing browser
// is a failure, not a silent pass.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed but CI is set: install it (apt-get install chromium) to run the console's browser tests")
	}
	t.Skip("chromium is not installed (apt-get install chromium); the console's browser tests need it")
	return ""
}

// screenshots is where the tests leave each main page's picture.
func screenshots(t *testing.T) string {
	if d := os.Getenv("LGSP_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browser is one headless Chromium (one cookie jar) for a test.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox, chromedp.Headless,
		chromedp.WindowSize(1200, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser, without a deadline
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func (p page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		body, _ := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS("body")))
		p.t.Fatalf("%s: %v\npage: %s", what, err, body)
	}
}

func (p page) text(sel string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

func (p page) shot(name string) {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// submit clicks sel and waits for the page that answers it.
func submit(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.dataset.stale = "1"; true`))
			return err
		}),
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitNotPresent(chromedp.CSS("body[data-stale]")),
		chromedp.WaitVisible(chromedp.CSS("h1")))
}

func (p page) signIn(token string) {
	p.t.Helper()
	p.run("sign in", chromedp.Navigate(p.base+"/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token), submit("#signin"))
}

func (p page) signOut() {
	p.t.Helper()
	p.run("sign out", submit(".signout button"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if got := p.text("main"); !strings.Contains(got, "Bạn đã đăng xuất") && !strings.Contains(got, "You have signed out") {
		p.t.Errorf("after sign-out: %q", got)
	}
}

// waitProofs waits until the page's script has judged every entry.
func (p page) waitProofs() {
	p.t.Helper()
	p.run("proof checks", chromedp.WaitNotPresent(chromedp.CSS("[data-verify]:not([data-result])")))
}

func (p page) result(seq string) string {
	p.t.Helper()
	r, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`(document.querySelector('[data-verify][data-seq="`+seq+`"]') || {dataset: {}}).dataset.result || "missing"`))
	if err != nil {
		p.t.Fatalf("proof of %s: %v", seq, err)
	}
	return r
}

// The console in a real browser against a real dev bus, role by role:
// the operator resets a connector (audited as the REST reset is), an
// auditor finds a citizen's accesses proved in the browser, the citizen
// sees a lookup made a moment earlier, and the wrong role or credential
// sees a refusal, not the data.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	c := devConfig(t, t.TempDir())
	c.Synthetic = config.Synthetic{Enabled: true, Population: 2000, Seed: 1, Limit: 100}
	bus := start(t, c)
	defer bus.Close(context.Background())
	base := "http://" + bus.Addrs().API
	p := page{t: t, ctx: ctx, base: base, dir: screenshots(t)}
	operator := operatorToken(t, bus)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st := bus.Connectors(); len(st) > 0 && st[0].Acked > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connector acknowledged a record: %+v", bus.Connectors())
		}
	}

	// A wrong credential: the same words whatever it is, counted.
	p.signIn("lgsp_not-a-token")
	if got := p.text("[role=alert]"); !strings.Contains(got, "không được chấp nhận") {
		t.Fatalf("wrong credential: %q", got)
	}
	p.shot("signin-refused")
	if m := metrics(t, base); !strings.Contains(m, "lgsp_console_signin_failures_total 1") {
		t.Errorf("the failed sign-in is not counted")
	}

	// The operator: overview, then a connector reset with a reason.
	p.signIn(operator)
	if h := p.text("h1"); h != "Tổng quan hoạt động" {
		t.Fatalf("operator lands on %q", h)
	}
	overview := p.text("main")
	for _, want := range []string{"Bản ghi nhận vào", "Đã công bố", "Kết quả đối chiếu danh tính", "Số bản ghi nhật ký"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %q: %s", want, overview)
		}
	}
	p.shot("overview")
	checkOverviewFlow(t, p, bus) // per dataset and per agency (flow_test.go)
	name := bus.Connectors()[0].Name
	p.run("reset form", chromedp.Navigate(base+"/ui/connectors"), chromedp.WaitVisible(chromedp.CSS("#c-"+name)),
		chromedp.Click(chromedp.CSS(`section[aria-labelledby="c-`+name+`"] summary`)),
		chromedp.Clear(chromedp.CSS("#pos-"+name)),
		chromedp.SendKeys(chromedp.CSS("#why-"+name), "console test: read again from the start"),
		submit("#reset-"+name), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if got := p.text(".flash.ok"); !strings.Contains(got, "đã được ghi vào nhật ký") {
		t.Errorf("after the reset: %q", got)
	}
	p.shot("connectors")
	es, err := bus.Store.ListAudit(context.Background(), store.AuditQuery{RequestID: name + "@"})
	if err != nil || len(es) != 1 || es[0].Action != "connector.reset" || es[0].Actor != "operator" || es[0].Reason != "console test: read again from the start" {
		t.Fatalf("the console's reset is not audited as the REST reset: %+v %v", es, err)
	}
	// The agreements in force, read-only, with the agencies' full names.
	p.run("agreements", chromedp.Navigate(base+"/ui/agreements"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h, body := p.text("h1"), p.text("main"); h != "Thỏa thuận chia sẻ dữ liệu đang có hiệu lực" || !strings.Contains(body, "Cục Thi hành án dân sự TP. Hồ Chí Minh") {
		t.Errorf("agreements page: %q", h)
	}
	p.shot("agreements")
	p.run("back to connectors", chromedp.Navigate(base+"/ui/connectors"), chromedp.WaitVisible(chromedp.CSS("h1")))
	// English on request, same page.
	p.run("language", submit("a.lang"))
	if h := p.text("h1"); h != "Connectors" {
		t.Errorf("English connectors page: %q", h)
	}
	p.run("language back", submit("a.lang"))
	p.signOut()

	// An agency looks a citizen up; the log is checkpointed.
	person := citizens(t, bus.Store, 1)[0]
	code, out := call(t, "POST", base+"/v1/lookup", agencyToken(t, bus, "thads-hcm"),
		map[string]any{"dataset": "tax.taxpayer", "citizen": person.ID, "purpose": "judgment_enforcement", "case_reference": "THA-2026/7"})
	if code != 200 {
		t.Fatalf("lookup: %d %v", code, out)
	}
	lookups, err := bus.Store.ListAudit(context.Background(), store.AuditQuery{CitizenKey: bus.Audit.CitizenKey(person.ID)})
	if err != nil || len(lookups) != 1 {
		t.Fatalf("lookup entries: %+v %v", lookups, err)
	}
	seq := itoa(lookups[0].Seq)
	if _, err := bus.Audit.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}

	// An agency without the auditor role searching the log: a refusal, audited.
	p.signIn(agencyToken(t, bus, "vss"))
	p.run("vss search", chromedp.Navigate(base+"/ui/audit"), chromedp.WaitVisible(chromedp.CSS("#citizen")),
		chromedp.SendKeys(chromedp.CSS("#citizen"), person.ID), submit("#search"))
	if h, body := p.text("h1"), p.text("main"); h != "Không được phép" || !strings.Contains(body, "auditor_role_required") || strings.Contains(body, "thads-hcm") {
		t.Errorf("vss searching the log: %q %q", h, body)
	}
	p.shot("refused")
	denied, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Actor: "vss", Action: "audit.search", Decision: "deny", Limit: 10})
	if err != nil || len(denied) != 1 || !strings.Contains(denied[0].Reason, "auditor_role_required") {
		t.Errorf("the refused search is not audited as the REST API audits it: %d entries, %v", len(denied), err)
	}
	p.signOut()

	// The auditor finds the citizen's accesses, each proved in the browser.
	p.signIn(agencyToken(t, bus, "gov-inspectorate"))
	p.run("auditor search", chromedp.Navigate(base+"/ui/audit"), chromedp.WaitVisible(chromedp.CSS("#citizen")),
		chromedp.SendKeys(chromedp.CSS("#citizen"), person.ID), submit("#search"), chromedp.WaitVisible(chromedp.CSS("#res-h")))
	p.waitProofs()
	if r := p.result(seq); r != "ok" {
		t.Fatalf("the lookup's proof: %q; page: %s", r, p.text("main"))
	}
	if got := p.text(`[data-seq="` + seq + `"] .verdict`); got != "đã xác minh trong trình duyệt" {
		t.Errorf("verdict %q", got)
	}
	if body := p.text("main"); !strings.Contains(body, "Cục Thi hành án dân sự TP. Hồ Chí Minh") || strings.Contains(body, "KHÔNG xác minh") {
		t.Errorf("auditor page: %s", body)
	}
	p.shot("audit")
	p.run("english audit", submit("a.lang"))
	if got := p.text("main"); !strings.Contains(got, "Search the access log") || !strings.Contains(got, "HCMC civil judgment enforcement") {
		t.Errorf("English audit page: %s", got)
	}
	p.waitProofs()
	p.shot("audit-en")
	p.signOut()

	// The citizen, on a phone screen, sees the lookup in plain words.
	v, err := runtime.CitizenVerifier(c)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := v.Mint(person.ID, 5*time.Minute)
	p.run("phone", chromedp.EmulateViewport(360, 740))
	p.signIn(tok)
	p.run("lang vi", chromedp.Navigate(base+"/ui/lang/vi?back=/ui/me"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h := p.text("h1"); h != "Ai đã xem dữ liệu của tôi" {
		t.Fatalf("citizen lands on %q", h)
	}
	p.waitProofs()
	item := p.text(".access")
	for _, want := range []string{"Cục Thi hành án dân sự TP. Hồ Chí Minh", "tra cứu", "tax_code", "judgment_enforcement"} {
		if !strings.Contains(item, want) {
			t.Errorf("citizen's entry lacks %q: %s", want, item)
		}
	}
	if r := p.result(seq); r != "ok" {
		t.Errorf("citizen's proof: %q", r)
	}
	if strings.Contains(p.text("body"), person.ID) {
		t.Error("the personal number is on the citizen's page")
	}
	p.shot("citizen")
	// The citizen asking for the operator's overview: a refusal page.
	p.run("citizen overview", chromedp.Navigate(base+"/ui/overview"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if h, body := p.text("h1"), p.text("main"); h != "Không được phép" || strings.Contains(body, "Bản ghi nhận vào") {
		t.Errorf("citizen on the overview: %q %q", h, body)
	}
	p.signOut()
}

func metrics(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The operator's pages in a real browser against a dev bus whose
// agreements are files (policies.dir): an agreement edit is previewed with
// who gains which field, an invalid one shows its problems by line, the
// good one is applied and audited; an API token is issued and shown once;
// a schema's versions are compared; a clerk accepts a review item, audited.
func TestConsoleOperatorPagesInBrowser(t *testing.T) {
	ctx := browser(t)
	dir := t.TempDir()
	c := devConfig(t, dir)
	c.Policies.Dir = copyAgreements(t, dir)
	// A review item, put in the bus's store before it starts, as the
	// pipeline's linkage would queue it.
	st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := review.New(st).Add(context.Background(), linkage.ReviewItem{Source: "tax.taxpayer", RecordID: "event-console", PersonalID: "001090012345",
		Score: 4.2, Probability: 0.55, Explanation: &linkage.Explanation{Prior: -9.1, Total: 4.2, Fields: []linkage.FieldWeight{
			{Field: "name", Level: "exact", Weight: 8.4, Record: "Trần Thị Bích", Candidate: "Trần Thị Bích"}, {Field: "dob", Level: "exact", Weight: 6.2, Record: "1990-05-17", Candidate: "1990-05-17"},
			{Field: "province", Level: "different", Weight: -1.3, Record: "079", Candidate: "001"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	bus := start(t, c)
	defer bus.Close(context.Background())
	base := "http://" + bus.Addrs().API
	p := page{t: t, ctx: ctx, base: base, dir: screenshots(t)}
	p.signIn(operatorToken(t, bus))

	// Edit: add registered_on to thads-hcm's taxpayer lookup.
	const id = "thads-hcm-taxpayer-lookup"
	raw, err := os.ReadFile(filepath.Join(c.Policies.Dir, id+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(raw), "  - status\n", "  - status\n  - registered_on\n", 1)
	if edited == string(raw) {
		t.Fatal("the agreement file changed shape; update the test")
	}
	p.run("agreements", chromedp.Navigate(base+"/ui/agreements"), chromedp.WaitVisible(chromedp.CSS("#edit-"+id)), submit("#edit-"+id),
		chromedp.WaitVisible(chromedp.CSS("#yaml")))
	// An invalid edit first: its problem by line, nothing changed.
	p.run("invalid preview", chromedp.SetValue(chromedp.CSS("#yaml"), strings.Replace(edited, "mode: lookup", "mode: sideways", 1)), submit("#preview"),
		chromedp.WaitVisible(chromedp.CSS("#problems")))
	if got := p.text("#problems"); !strings.Contains(got, "dòng") || !strings.Contains(got, "mode") {
		t.Errorf("problems: %q", got)
	}
	p.shot("agreement-problems")
	before := bus.Engine.Current().Digest()
	p.run("preview", chromedp.SetValue(chromedp.CSS("#yaml"), edited), submit("#preview"), chromedp.WaitVisible(chromedp.CSS("#diff")))
	if got := p.text("#diff"); !strings.Contains(got, "Cục Thi hành án dân sự TP. Hồ Chí Minh") || !strings.Contains(got, "được thêm trường: registered_on") {
		t.Errorf("diff: %q", got)
	}
	if bus.Engine.Current().Digest() != before {
		t.Fatal("the preview changed the agreements in force")
	}
	p.shot("agreement-preview")
	p.run("apply", submit("#apply"), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	if a, ok := bus.Engine.Current().Agreement(id); !ok || !slices.Contains(a.Fields, "registered_on") {
		t.Fatalf("the edit is not in force: %+v", a)
	}
	if now, _ := os.ReadFile(filepath.Join(c.Policies.Dir, id+".yaml")); string(now) != edited {
		t.Errorf("the file written differs from the text previewed:\n%s", now)
	}
	puts, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Action: "agreement.put", Limit: 10})
	if err != nil || len(puts) != 1 || puts[0].AgreementID != id || puts[0].Actor != "operator" {
		t.Fatalf("the edit is not audited as the PUT is: %+v %v", puts, err)
	}

	// Credentials: a token for thads-hcm, shown once.
	p.run("agencies", chromedp.Navigate(base+"/ui/agencies"), chromedp.WaitVisible(chromedp.CSS("#ag-thads-hcm")))
	if got := p.text("main"); !strings.Contains(got, "Thanh tra Chính phủ") || !strings.Contains(got, "auditor") || !strings.Contains(got, "đang hoạt động") {
		t.Errorf("agencies page: %s", got)
	}
	p.shot("agencies")
	p.run("issue token", submit("#token-thads-hcm"), chromedp.WaitVisible(chromedp.CSS(".secret-value")))
	p.shot("secret")
	var secret string
	for _, v := range strings.Fields(p.text(".secret-items")) {
		if strings.HasPrefix(v, "lgsp_") {
			secret = v
		}
	}
	if code, _ := call(t, "GET", base+"/v1/status", secret, nil); secret == "" || code != 200 {
		t.Errorf("the token shown does not work: %q %d", secret, code)
	}

	// Schemas: the latest two versions (or the only one) of a subject.
	p.run("schemas", chromedp.Navigate(base+"/ui/schemas"), chromedp.WaitVisible(chromedp.CSS(".subjects a")), submit(".subjects a"),
		chromedp.WaitVisible(chromedp.CSS("table.diff")))
	p.shot("schema")

	// Review: the clerk accepts the item with a note, on a phone screen.
	p.run("phone", chromedp.EmulateViewport(360, 740))
	p.run("review", chromedp.Navigate(base+"/ui/review"), chromedp.WaitVisible(chromedp.CSS("#item-"+ids[0])), submit("#item-"+ids[0]),
		chromedp.WaitVisible(chromedp.CSS("#note")))
	if got := p.text("main"); !strings.Contains(got, "001090012345") || !strings.Contains(got, "event-console") || !strings.Contains(got, "trùng khớp") {
		t.Errorf("review item: %s", got)
	}
	// per field, the record's value next to the candidate's
	for field, want := range map[string][2]string{"name": {"Trần Thị Bích", "Trần Thị Bích"}, "dob": {"1990-05-17", "1990-05-17"}, "province": {"079", "001"}} {
		row := `tr[data-field="` + field + `"] `
		if rec, cand := p.text(row+"td.rec"), p.text(row+"td.cand"); rec != want[0] || cand != want[1] {
			t.Errorf("%s: record %q, candidate %q; want %q", field, rec, cand, want)
		}
	}
	p.shot("review-item-phone")
	p.run("accept", chromedp.SendKeys(chromedp.CSS("#note"), "checked the paper file"), chromedp.SendKeys(chromedp.CSS("#by"), "clerk 7"),
		submit("#accept"), chromedp.WaitVisible(chromedp.CSS(".flash.ok")))
	decided, err := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Action: "review.accept", Limit: 10})
	if err != nil || len(decided) != 1 || decided[0].Reason != "clerk 7: checked the paper file" || decided[0].RequestID != ids[0] {
		t.Fatalf("the acceptance is not audited: %+v %v", decided, err)
	}
	p.shot("review-done-phone")
}
