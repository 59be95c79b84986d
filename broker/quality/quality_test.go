package quality_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// producer is an in-process Kafka writer that acknowledges at once, as
// the async writer's completion would.
type producer struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (p *producer) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, msgs...)
	p.mu.Unlock()
	pipeline.Completion(msgs, nil)
	return nil
}

func (p *producer) topics() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for _, m := range p.msgs {
		out[m.Topic]++
	}
	return out
}

// register is the test's population register: personal number → name;
// the reconciler says verified when the name agrees, mismatch when not,
// not_found for an unknown number.
type register struct {
	mu    sync.Mutex
	names map[string]string
	dead  map[string]bool
}

func (r *register) reconcile(c pipeline.Claim) pipeline.Verdict {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := r.names[c.ID]
	switch {
	case !ok:
		return pipeline.Verdict{Outcome: "not_found"}
	case r.dead[c.ID]:
		return pipeline.Verdict{Outcome: "deceased"}
	case name != c.Name:
		return pipeline.Verdict{Outcome: "mismatch", Fields: "name:different"}
	}
	return pipeline.Verdict{Outcome: "verified"}
}

// index stands for the live reconciliation index the population updater
// feeds: it writes the register the reconciler reads.
func (r *register) Add(c store.Citizen) error {
	r.mu.Lock()
	r.names[c.ID], r.dead[c.ID] = c.FullName, c.Deceased
	r.mu.Unlock()
	return nil
}

type fixture struct {
	q      *quality.Quality
	p      *pipeline.Pipeline
	prod   *producer
	st     *sqlitestore.Store
	reg    *register
	mu     sync.Mutex
	audits []store.AuditEntry
	clock  time.Time // the injected clock; now unless a test advances it
}

// advance moves the fixture's clock on by d.
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.clock = f.clock.Add(d)
	f.mu.Unlock()
}

func (f *fixture) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.clock
}

func (f *fixture) audited() []store.AuditEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.AuditEntry(nil), f.audits...)
}

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f := &fixture{st: st, prod: &producer{}, reg: &register{names: map[string]string{}, dead: map[string]bool{}}, clock: now}
	var dss []pipeline.DatasetSchema
	for _, d := range cat.Datasets() {
		if d.Format == schemas.FormatJSON {
			dss = append(dss, pipeline.DatasetSchema{Dataset: d, SchemaID: 1})
		}
	}
	f.q, err = quality.New(quality.Config{Store: st, Catalog: cat, Reconcile: f.reg.reconcile,
		CitizenKey: func(n string) string { return "key-" + n },
		Ingest: func(ctx context.Context, c string, recs []connectors.Record) ([]pipeline.RecordResult, error) {
			return f.p.Ingest(ctx, c, recs)
		},
		Audit: func(ctx context.Context, es []store.AuditEntry) error {
			f.mu.Lock()
			f.audits = append(f.audits, es...)
			f.mu.Unlock()
			return nil
		},
		Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	f.p, err = pipeline.New(pipeline.Config{Datasets: dss, Reconcile: f.reg.reconcile, Observer: f.q.Observer(nil)}, f.prod)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func birth(i int, cccd, name string) map[string]any {
	return map[string]any{"registration_no": fmt.Sprintf("001/2024/%d", i), "child_cccd": cccd, "child_name": name, "child_dob": "2024-05-01",
		"child_sex": "F", "birth_province": "001", "mother_cccd": nil, "mother_name": "Trần Thị Mai", "father_name": "Lê Văn Nam", "registered_on": "2024-05-02"}
}

const birthDS = "civil_status.birth_registration"

func rec(i int, row map[string]any) connectors.Record {
	return connectors.Record{Dataset: birthDS, Op: connectors.OpCreate, After: row, Position: connectors.Position(fmt.Sprintf("p-%d", i))}
}

var owner = quality.Viewer{Name: "civil-status-agency", Sources: []string{"civil_status"}}

// The scorecard counts what flowed, record by record: received, valid,
// each identity outcome, duplicates, completeness per field, rejection
// reasons with their path; the rejected and unreconciled records become
// items.
func TestScorecardCountsTheRecordsSent(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.reg.names["001224000001"] = "Lan"
	f.reg.names["001224000002"] = "Mai"
	bad := birth(4, "001224000001", "Lan")
	bad["child_dob"] = "2024-13-45"
	noFather := birth(5, "001224000002", "Mai")
	noFather["father_name"] = nil
	batch := []connectors.Record{
		rec(1, birth(1, "001224000001", "Lan")), // verified
		rec(2, birth(2, "001224000002", "Mia")), // mismatch on the name
		rec(3, birth(3, "001224000099", "Hoa")), // not found
		rec(4, bad),                             // invalid: dob
		rec(5, noFather),                        // verified, no father
		{Dataset: birthDS, Op: connectors.OpCreate, Position: connectors.Position("p-6"), Bad: &connectors.BadRecord{Kind: "malformed", Path: "$", Reason: "line 6: not JSON", Raw: []byte("{oops")}},
		{Dataset: birthDS, Op: connectors.OpUpdate, Before: birth(1, "001224000001", "Lan"), After: birth(1, "001224000001", "Lan"), Position: connectors.Position("p-7")}, // changes nothing
	}
	if _, err := f.p.Ingest(ctx, "civil_status", batch); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	day := f.q.Day(now)
	sc, err := f.q.Scorecard(ctx, owner, quality.Query{FromDay: day - 6, ToDay: day})
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Datasets) != 1 {
		t.Fatalf("datasets: %+v", sc.Datasets)
	}
	c := sc.Datasets[0]
	want := quality.Counts{Received: 7, Valid: 5, Duplicates: 1, Verified: 3, Mismatch: 1, NotFound: 1}
	if c.Counts != want {
		t.Fatalf("counts %+v, want %+v", c.Counts, want)
	}
	if c.MismatchFields["name"] != 1 {
		t.Fatalf("mismatch by field: %v", c.MismatchFields)
	}
	if got := c.Completeness["father_name"]; got != 0.8 {
		t.Fatalf("completeness of father_name %v, want 4 of 5", got)
	}
	if got := c.Completeness["mother_cccd"]; got != 0 {
		t.Fatalf("completeness of mother_cccd %v, want 0", got)
	}
	for name, got := range map[string]*float64{"correct": c.Indicators.Correct, "clean": c.Indicators.Clean, "alive": c.Indicators.Alive} {
		want := map[string]float64{"correct": 3.0 / 7, "clean": 3.0 / 7, "alive": 1}[name]
		if got == nil || *got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if c.Indicators.Sufficient == nil || *c.Indicators.Sufficient >= 1 || *c.Indicators.Sufficient < 0.8 {
		t.Errorf("sufficient = %v", c.Indicators.Sufficient)
	}
	if len(sc.Trend) != 7 || sc.Trend[6].Received != 7 || sc.Trend[0].Received != 0 {
		t.Fatalf("trend: %+v", sc.Trend)
	}
	paths := map[string]int64{}
	for _, r := range sc.Reasons {
		paths[r.Kind+" "+r.Path] = r.Count
	}
	if paths["malformed $"] != 1 || len(paths) != 2 {
		t.Fatalf("top reasons: %+v", sc.Reasons)
	}
	items, err := f.q.List(ctx, owner, quality.ItemQuery{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, it := range items {
		kinds[it.Kind]++
		if it.Masked || it.Source != "civil_status" {
			t.Errorf("the owner's item: %+v", it)
		}
	}
	if len(items) != 4 || kinds["mismatch"] != 1 || kinds["not_found"] != 1 || kinds["malformed"] != 1 {
		t.Fatalf("items: %v", kinds)
	}
	// Flushing again adds nothing; the same batch re-read (at-least-once)
	// makes no second item.
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Ingest(ctx, "civil_status", batch); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := f.q.List(ctx, owner, quality.ItemQuery{}); len(again) != 4 {
		t.Fatalf("a re-read batch made %d items, want 4", len(again))
	}
	// Another agency sees nothing; the operator sees all, with personal
	// numbers masked.
	if sc, _ := f.q.Scorecard(ctx, quality.Viewer{Name: "gdt", Sources: []string{"tax"}}, quality.Query{FromDay: day, ToDay: day}); len(sc.Datasets) != 0 {
		t.Fatalf("another agency sees %+v", sc.Datasets)
	}
	op, _ := f.q.List(ctx, quality.Viewer{Name: "operator", Operator: true}, quality.ItemQuery{Kind: "mismatch"})
	if len(op) != 1 || !op[0].Masked || strings.Contains(string(op[0].Record), "001224000002") || !strings.Contains(string(op[0].Record), "*********002") {
		t.Fatalf("the operator's view of an item: %+v %s", op, op[0].Record)
	}
}

func openItem(t *testing.T, f *fixture, kind string) quality.Item {
	t.Helper()
	items, err := f.q.List(t.Context(), owner, quality.ItemQuery{Kind: kind, Status: store.ItemOpen})
	if err != nil || len(items) == 0 {
		t.Fatalf("no open %s item: %v", kind, err)
	}
	return items[0]
}

// A corrected record goes through the whole pipeline: still invalid, the
// item stays open with the new reason; valid, it is published on the
// canonical topic and the item is accepted. Then it cannot be resubmitted
// again (409), another ministry cannot touch it (403, audited), and
// discarding needs a reason.
func TestResubmitClosesTheItemOnlyWhenPublished(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.reg.names["001224000001"] = "Lan"
	bad := birth(4, "001224000001", "Lan")
	bad["child_dob"] = "2024-13-45"
	if _, err := f.p.Ingest(ctx, "civil_status", []connectors.Record{rec(4, bad), rec(5, birth(5, "001224000001", "Lan"))}); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	it := openItem(t, f, "schema")
	if it.Path != "$.child_dob" {
		t.Fatalf("item: %+v", it)
	}

	stillBad := birth(4, "001224000001", "Lan")
	stillBad["child_sex"] = "X"
	out, err := f.q.Resubmit(ctx, owner, it.ID, quality.Correction{After: stillBad})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item.Status != store.ItemOpen || out.Item.Path != "$.child_sex" || out.Result.Status != pipeline.StatusDeadLettered || out.Item.Attempts != 1 {
		t.Fatalf("still invalid: %+v", out)
	}
	published := f.prod.topics()[schemasTopic(t)]
	out, err = f.q.Resubmit(ctx, owner, it.ID, quality.Correction{After: birth(4, "001224000001", "Lan")})
	if err != nil {
		t.Fatal(err)
	}
	if out.Item.Status != store.ItemAccepted || out.Result.Status != pipeline.StatusPublished || out.Item.LastEventID != out.Result.EventID {
		t.Fatalf("corrected: %+v", out)
	}
	if got := f.prod.topics()[schemasTopic(t)]; got != published+1 {
		t.Fatalf("canonical topic got %d new messages, want 1", got-published)
	}
	var actions []string
	for _, h := range out.Item.History {
		actions = append(actions, h.Actor+":"+h.Action+":"+h.Status)
	}
	if strings.Join(actions, " ") != "bus:created:open civil-status-agency:resubmit:resubmitted bus:rejected:open civil-status-agency:resubmit:resubmitted bus:accepted:accepted" {
		t.Fatalf("history: %v", actions)
	}
	// The resubmissions made no item of their own.
	if all, _ := f.q.List(ctx, owner, quality.ItemQuery{}); len(all) != 1 {
		t.Fatalf("%d items, want 1", len(all))
	}
	if _, err := f.q.Resubmit(ctx, owner, it.ID, quality.Correction{After: birth(4, "001224000001", "Lan")}); !errors.Is(err, quality.ErrConflict) {
		t.Fatalf("resubmit an accepted item: %v, want ErrConflict", err)
	}
	other := quality.Viewer{Name: "gdt", Sources: []string{"tax"}}
	before := len(f.audited())
	if _, err := f.q.Resubmit(ctx, other, it.ID, quality.Correction{After: birth(4, "001224000001", "Lan")}); !errors.Is(err, quality.ErrForbidden) {
		t.Fatalf("another ministry: %v, want ErrForbidden", err)
	}
	if a := f.audited(); len(a) != before+1 || a[len(a)-1].Decision != "deny" || a[len(a)-1].Actor != "gdt" {
		t.Fatalf("the refusal was not audited: %+v", a[before:])
	}
	if _, err := f.q.Get(ctx, other, it.ID); !errors.Is(err, quality.ErrForbidden) {
		t.Fatalf("another ministry reads: %v", err)
	}
	if _, err := f.q.Get(ctx, owner, 999); !errors.Is(err, quality.ErrNotFound) {
		t.Fatalf("unknown item: %v", err)
	}
	var bi *quality.BadInput
	if _, err := f.q.Discard(ctx, owner, it.ID, " "); !errors.As(err, &bi) || bi.Field != "reason" {
		t.Fatalf("discard without a reason: %v", err)
	}
	for _, a := range f.audited() {
		if a.Action == "quality.resubmit" && a.Decision == "allow" && a.Actor != "civil-status-agency" {
			t.Fatalf("audit entry: %+v", a)
		}
	}
}

func schemasTopic(t *testing.T) string {
	cat, _ := schemas.Load()
	d, _ := cat.Dataset(birthDS)
	return d.Topic()
}

// Discard closes an open item with its reason, once.
func TestDiscard(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.p.Ingest(ctx, "civil_status", []connectors.Record{rec(3, birth(3, "001224000099", "Hoa"))}); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	it := openItem(t, f, "not_found")
	got, err := f.q.Discard(ctx, owner, it.ID, "registered abroad; the number is issued by the consulate")
	if err != nil || got.Status != store.ItemDiscarded || got.History[len(got.History)-1].Note == "" {
		t.Fatalf("discard: %+v %v", got, err)
	}
	if _, err := f.q.Discard(ctx, owner, it.ID, "again"); !errors.Is(err, quality.ErrConflict) {
		t.Fatalf("discard twice: %v", err)
	}
}

// A register change that makes an old mismatch right re-checks the open
// items of that citizen: the item is accepted, with the reason in its
// history.
func TestRegisterChangeRechecksOpenItems(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.reg.names["001224000002"] = "Mai"
	if _, err := f.p.Ingest(ctx, "civil_status", []connectors.Record{rec(2, birth(2, "001224000002", "Mia"))}); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	it := openItem(t, f, "mismatch")
	// The population database corrects the name: the updater applies it
	// to the index, which quality watches.
	idx := f.q.WatchRegister(f.reg)
	if err := idx.Add(store.Citizen{ID: "001224000002", FullName: "Mia"}); err != nil {
		t.Fatal(err)
	}
	runOnce(t, f.q)
	got, err := f.q.Get(ctx, owner, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != store.ItemAccepted || got.History[len(got.History)-1].Action != "recheck" {
		t.Fatalf("after the register change: %+v", got)
	}
}

// runOnce does one round of Run (flush, register changes).
func runOnce(t *testing.T, q *quality.Quality) {
	t.Helper()
	q.Tick(t.Context())
	if n := q.PendingRegisterChanges(); n > 0 {
		t.Fatalf("%d register changes not processed", n)
	}
}

// A death in the population stream turns every row still active about
// that citizen into an alive finding, once, and counts it.
func TestDeathMakesAliveFindings(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	row := []byte(`{"tax_code":"8012345678","cccd":"001080000777","full_name":"Ngô Văn Tư"}`)
	if err := f.st.ApplyState(ctx, []store.StateRow{{Dataset: "tax.taxpayer", Key: "8012345678", CitizenKey: "key-001080000777", Row: row, EventID: "e1", Updated: now, Version: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	idx := f.q.WatchRegister(f.reg)
	for range 2 { // the death seen twice (a replay, a second instance): one finding
		if err := idx.Add(store.Citizen{ID: "001080000777", FullName: "Ngô Văn Tư", Deceased: true}); err != nil {
			t.Fatal(err)
		}
		runOnce(t, f.q)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	gdt := quality.Viewer{Name: "gdt", Sources: []string{"tax"}}
	items, err := f.q.List(ctx, gdt, quality.ItemQuery{Kind: quality.KindDeceasedActive})
	if err != nil || len(items) != 1 || items[0].EntityKey != "8012345678" || items[0].Dataset != "tax.taxpayer" {
		t.Fatalf("alive findings: %+v %v", items, err)
	}
	day := f.q.Day(now)
	sc, err := f.q.Scorecard(ctx, gdt, quality.Query{FromDay: day, ToDay: day})
	if err != nil || len(sc.Datasets) != 1 || sc.Datasets[0].DeceasedActive != 1 {
		t.Fatalf("scorecard: %+v %v", sc.Datasets, err)
	}
}

// A bulk resubmission sends every open item of one reason again, as it
// was received, and reports its progress.
func TestBulkResubmit(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	var batch []connectors.Record
	for i := range 5 {
		batch = append(batch, rec(i, birth(i, fmt.Sprintf("0012240001%02d", i), "Hoa")))
	}
	if _, err := f.p.Ingest(ctx, "civil_status", batch); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// The cause is fixed: the register now knows three of them.
	for i := range 3 {
		f.reg.names[fmt.Sprintf("0012240001%02d", i)] = "Hoa"
	}
	job, err := f.q.StartBulk(ctx, owner, quality.BulkQuery{Kind: "not_found"})
	if err != nil || job.Total != 5 {
		t.Fatalf("start: %+v %v", job, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for job.State != "done" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		job, _ = f.q.JobStatus(owner, job.ID)
	}
	if job.Done != 5 || job.Accepted != 3 || job.StillOpen != 2 || job.Failed != 0 {
		t.Fatalf("job: %+v", job)
	}
	if _, ok := f.q.JobStatus(quality.Viewer{Name: "gdt"}, job.ID); ok {
		t.Fatal("another agency sees the job")
	}
	var bi *quality.BadInput
	if _, err := f.q.StartBulk(ctx, owner, quality.BulkQuery{}); !errors.As(err, &bi) {
		t.Fatalf("no reason: %v", err)
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"001224000002":               "*********002",
		"cmnd 123456789 ok":          "cmnd ******789 ok",
		"tax 8012345678":             "tax 8012345678",
		"1234567890123 is 13 digits": "1234567890123 is 13 digits",
		"":                           "",
	} {
		if got := quality.Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// An item left resubmitted by a bus that stopped before settling it is
// opened again when Run starts, with the reason in its history.
func TestStaleResubmissionReopened(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.p.Ingest(ctx, "civil_status", []connectors.Record{rec(3, birth(3, "001224000099", "Hoa"))}); err != nil {
		t.Fatal(err)
	}
	if err := f.q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	it := openItem(t, f, "not_found")
	if _, err := f.st.ChangeQualityItem(ctx, it.ID, store.QualityItemChange{From: []string{store.ItemOpen}, Status: store.ItemResubmitted,
		Actor: "civil-status-agency", Action: "resubmit", At: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	run, stop := context.WithCancel(ctx)
	stop() // Run checks at start, then stops at once
	f.q.Run(run)
	got, err := f.q.Get(ctx, owner, it.ID)
	if err != nil || got.Status != store.ItemOpen || got.History[len(got.History)-1].Action != "resubmit_lost" {
		t.Fatalf("after a restart: %+v %v", got, err)
	}
}
