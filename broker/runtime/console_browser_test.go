package runtime_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
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
