package console

// BenchmarkAuditorCitizenSearch is the issue's "an auditor's citizen search
// page in under 200 ms" against a real store: the console page calls the
// real REST API in-process, which records the search in the log (a durable
// append, fail closed) and searches the log for the citizen. The log is
// built once with the store's bulk path (AppendAudit of 10,000 entries with
// the chain precomputed, as broker/audit's BenchmarkAuditScale does).
//
//	LGSP_BENCH_CONSOLE_AUDIT_ENTRIES: log size (default 1,000,000)
//	LGSP_BENCH_CONSOLE_AUDIT_DIR: keep the SQLite file there and reuse it
//
//	go test ./broker/console -run '^$' -bench AuditorCitizenSearch -benchtime 200x -timeout 1h

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lgsp-bus/lgsp/broker/api"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
)

func benchEntries() int64 {
	if n, err := strconv.ParseInt(os.Getenv("LGSP_BENCH_CONSOLE_AUDIT_ENTRIES"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

func personal(i int64) string { return fmt.Sprintf("0010%08d", i) }

// buildAuditLog writes n delivery entries for n/10 citizens, chained.
func buildAuditLog(b *testing.B, st store.Store, key []byte, n int64) {
	ctx := context.Background()
	have, err := st.CountAudit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if have >= n {
		b.Logf("reusing a log of %d entries", have)
		return
	}
	if have != 0 {
		b.Fatalf("the store holds %d entries, not %d: remove it", have, n)
	}
	l, err := audit.Open(ctx, st, key) // only for CitizenKey, on the empty log
	if err != nil {
		b.Fatal(err)
	}
	citizens := max(n/10, 1)
	ck := make([]string, citizens)
	for i := range ck {
		ck[i] = l.CitizenKey(personal(int64(i)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	actors := []string{"vss", "gdt", "moha", "mps-c06", "thads-hcm"}
	datasets := []string{"population.citizen", "civil_status.birth_registration", "tax.taxpayer", "land.land_use_right", "insurance.participant"}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	var prev []byte
	batch := make([]store.AuditEntry, 0, 10_000)
	for seq := int64(1); seq <= n; seq++ {
		a := rng.IntN(len(actors))
		e := store.AuditEntry{Seq: seq, Time: t0.Add(time.Duration(seq) * 3 * time.Millisecond), Actor: actors[a], Action: "deliver", Dataset: datasets[a],
			Fields: []string{"full_name", "dob", "permanent_address"}, Purpose: "identity_verification", LegalBasis: "Decree 47/2024/ND-CP",
			AgreementID: "agr-" + actors[a], Decision: "allow", RequestID: fmt.Sprintf("req-%d", seq), CitizenKey: ck[rng.Int64N(citizens)], PrevHash: prev}
		e.Hash = audit.Hash(&e)
		prev = e.Hash
		batch = append(batch, e)
		if len(batch) == cap(batch) || seq == n {
			if err := st.AppendAudit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.Logf("built %d entries in %s", n, time.Since(start).Round(time.Millisecond))
}

// benchStore opens the benchmark's store, kept for reuse: a SQLite file
// under LGSP_BENCH_CONSOLE_AUDIT_DIR (default a temporary directory), or,
// with LGSP_BENCH_CONSOLE_STORE=postgres, the schema lgsp_bench_console_<n>
// of the server at LGSP_TEST_POSTGRES_URL (dropped only by hand).
func benchStore(b *testing.B, n int64) store.Store {
	ctx := context.Background()
	if os.Getenv("LGSP_BENCH_CONSOLE_STORE") == "postgres" {
		base := pgtest.URL(b)
		schema := fmt.Sprintf("lgsp_bench_console_%d", n)
		conn := pgtest.Conn(b)
		pgtest.Exec(b, conn, "CREATE SCHEMA IF NOT EXISTS "+schema)
		st, err := pgstore.Open(ctx, pgtest.WithSearchPath(b, base, schema))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		return st
	}
	dir := os.Getenv("LGSP_BENCH_CONSOLE_AUDIT_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, fmt.Sprintf("console-audit-%d.db", n)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	return st
}

// openBenchLog builds the log of n entries (once) and opens it as a
// running bus does: chain and Merkle tree resumed, filter buckets sealed.
func openBenchLog(b *testing.B, n int64, opts ...audit.Option) (store.Store, *audit.Log) {
	ctx := context.Background()
	st := benchStore(b, n)
	key := []byte("benchmark-hmac-key-0123456789")
	buildAuditLog(b, st, key, n)
	t0 := time.Now()
	log, err := audit.Open(ctx, st, key, opts...)
	if err != nil {
		b.Fatal(err)
	}
	if fs, ok := st.(store.AuditFilterStore); ok {
		if _, err := fs.SealAuditBuckets(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("opened the log of %d entries in %s", log.Size(), time.Since(t0).Round(time.Millisecond))
	return st, log
}

// report adds the median and the 99th percentile of took to the result.
func report(b *testing.B, took []time.Duration, n int64) {
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(n), "log-entries")
}

// timedLog and timedSearch time the two store calls of a search (the
// durable record of the search, then the search), so a slow tail can be
// told apart: waiting for the disk, or the query.
type timedLog struct {
	*audit.Log
	took []time.Duration
}

func (l *timedLog) Append(ctx context.Context, es []store.AuditEntry) error {
	start := time.Now()
	defer func() { l.took = append(l.took, time.Since(start)) }()
	return l.Log.Append(ctx, es)
}

type timedSearch struct {
	store.AuditSearcher
	took []time.Duration
}

func (s *timedSearch) SearchAudit(ctx context.Context, q store.AuditSearch) ([]store.AuditEntry, error) {
	start := time.Now()
	defer func() { s.took = append(s.took, time.Since(start)) }()
	return s.AuditSearcher.SearchAudit(ctx, q)
}

func p99(took []time.Duration) float64 {
	slices.Sort(took)
	return float64(took[len(took)*99/100].Microseconds()) / 1000
}

func BenchmarkAuditorCitizenSearch(b *testing.B) {
	n := benchEntries()
	st, log := openBenchLog(b, n)
	cat, err := schemas.Load()
	if err != nil {
		b.Fatal(err)
	}
	reg, err := policies.LoadEmbeddedAgencies()
	if err != nil {
		b.Fatal(err)
	}
	set, err := policies.LoadEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	con, err := New(Deps{OperatorToken: opToken, Registry: func() *policies.Agencies { return reg }})
	if err != nil {
		b.Fatal(err)
	}
	tl, ts := &timedLog{Log: log}, &timedSearch{AuditSearcher: st}
	con.SetAPI(api.New(api.Deps{Metrics: prometheus.NewRegistry(), OperatorToken: opToken, Catalog: cat, Engine: policies.NewEngine(set),
		Audit: ts, AuditLog: tl, CitizenKeys: log, Registry: api.RegistryFunc(func() *policies.Agencies { return reg })}))
	cookies, csrf := benchSignIn(b, con)
	tl.took, ts.took = nil, nil
	rng := rand.New(rand.NewPCG(7, 7))
	var took []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		q := url.Values{"search": {"1"}, "citizen": {personal(rng.Int64N(max(n/10, 1)))}, "csrf": {csrf}}
		req := httptest.NewRequest("GET", "/ui/audit?"+q.Encode(), nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		start := time.Now()
		con.ServeHTTP(w, req)
		took = append(took, time.Since(start))
		if w.Code != 200 || !strings.Contains(w.Body.String(), `id="res-h"`) {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
	report(b, took, n)
	b.ReportMetric(p99(tl.took), "append-p99-ms")
	b.ReportMetric(p99(ts.took), "query-p99-ms")
}

// benchRegistry is the repository's agency registry with provincial
// agencies added up to 20, the size the overview's goal names.
func benchRegistry(b *testing.B) *policies.Agencies {
	raw, err := os.ReadFile("../../policies/agencies/agencies.yaml")
	if err != nil {
		b.Fatal(err)
	}
	var extra strings.Builder
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&extra, "  - {id: thads-p%02d, name: \"Cục Thi hành án dân sự tỉnh %02d (Provincial civil judgment enforcement %02d)\", kind: provincial, province: \"0%02d\", state: active, contact: {name: x, email: x@x.vn}}\n", i, i, i, i)
	}
	reg, err := policies.ParseAgencies("bench", append(append(raw, '\n'), extra.String()...))
	if err != nil {
		b.Fatal(err)
	}
	if n := len(reg.List()); n != 20 {
		b.Fatalf("the registry has %d agencies, want 20", n)
	}
	return reg
}

// BenchmarkOverview is the issue's "the overview page renders in under
// 100 ms server time with 10 datasets and 20 agencies and a 10-million-entry
// access log": the operator's overview through the real REST API over a
// real store holding the log (built as for BenchmarkAuditorCitizenSearch,
// same environment variables), with a signed checkpoint, figures recorded
// for 10 datasets delivered to 20 agencies, and /v1/status answered the way
// the bus's runtime answers it (counters, connectors, the store's leases).
//
//	LGSP_BENCH_CONSOLE_AUDIT_ENTRIES=10000000 LGSP_BENCH_CONSOLE_AUDIT_DIR=/tmp/x \
//	  go test ./broker/console -run '^$' -bench 'Overview$' -benchtime 500x -timeout 2h
func BenchmarkOverview(b *testing.B) {
	ctx := context.Background()
	n := benchEntries()
	// a fixed key: the checkpoint signed here stays in the reused log, and
	// the next run's Open checks it
	signer := ed25519.NewKeyFromSeed([]byte("lgsp-console-benchmark-signer-32"))
	st, log := openBenchLog(b, n, audit.WithSigner(signer))
	t0 := time.Now()
	if _, err := log.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("signed a checkpoint of %d entries in %s", log.Size(), time.Since(t0).Round(time.Millisecond))
	cat, err := schemas.Load()
	if err != nil {
		b.Fatal(err)
	}
	reg := benchRegistry(b)
	set, err := policies.LoadEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New(func() float64 { return 0 })
	var datasets []string
	for _, d := range cat.Datasets() {
		datasets = append(datasets, d.Name)
	}
	slices.Sort(datasets)
	datasets = datasets[:10]
	agencies := reg.List()
	// The per-dataset and per-agency tables: 10 datasets each delivered
	// to the 20 agencies, with a lag reading.
	var all []string
	topics := map[string]string{}
	for _, d := range cat.Datasets() {
		all = append(all, d.Name)
		topics[d.Topic()] = d.Name
	}
	var pairs [][2]string
	var parts []metrics.PartitionOffsets
	for _, d := range datasets {
		for _, a := range agencies {
			pairs = append(pairs, [2]string{a.ID, d})
		}
		ds, _ := cat.Dataset(d)
		parts = append(parts, metrics.PartitionOffsets{Topic: ds.Topic(), End: 100, Next: 90})
	}
	m.WatchFlow(metrics.FlowConfig{Datasets: all, Topics: topics, Deliveries: func() [][2]string { return pairs }})
	m.ObserveDelivery(t0.Add(-time.Minute), parts)
	m.ObserveDelivery(t0, parts)
	var conns []runtime.State
	for i, d := range datasets {
		m.Ingested(d, 100_000+i)
		m.Published(d, 99_000+i)
		m.DeadLettered("src", d, "schema")
		for j, a := range agencies {
			m.Delivered(a.ID, d, 1000+j)
		}
		status := "running"
		if i == 3 {
			status = "backoff"
		}
		conns = append(conns, runtime.State{Name: d, Status: status, Position: "0a", Since: t0})
	}
	for _, o := range []string{"verified", "linked", "review", "not_found"} {
		m.Reconciled(o, 1000)
	}
	statusOf := func() any { // as broker/runtime's Bus.status
		ls, _ := st.Leases(ctx)
		s := m.Snapshot()
		return map[string]any{"records_in": s.In, "published": s.Published, "dead_lettered": s.DeadLettered, "delivered": s.Delivered,
			"identity": s.Outcomes, "connectors": conns, "population": 100_000_000, "connector_owners": ls,
			"instance": "bench", "flow": m.Flow()}
	}
	con, err := New(Deps{OperatorToken: opToken, Registry: func() *policies.Agencies { return reg }, AuditSize: log.Size})
	if err != nil {
		b.Fatal(err)
	}
	con.SetAPI(api.New(api.Deps{Metrics: m.Registry, OperatorToken: opToken, Catalog: cat, Engine: policies.NewEngine(set),
		Audit: st, AuditLog: log, CitizenKeys: log, Registry: api.RegistryFunc(func() *policies.Agencies { return reg }),
		Instance: api.InstanceFuncs{StatusFunc: statusOf}, Connectors: api.ConnectorFuncs{StatesFunc: func() []runtime.State { return conns }}}))
	cookies, _ := benchSignIn(b, con)
	var took []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/ui/overview", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		start := time.Now()
		con.ServeHTTP(w, req)
		took = append(took, time.Since(start))
		if w.Code != 200 || !strings.Contains(w.Body.String(), `data-figure="audit_size">`+strconv.FormatInt(log.Size(), 10)) ||
			strings.Count(w.Body.String(), `data-figure="flow/dv/`) != 2*len(pairs) {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
	report(b, took, n)
}

// benchSignIn signs the operator in and returns the session's cookies and
// CSRF token.
func benchSignIn(b *testing.B, con *Console) ([]*http.Cookie, string) {
	srv := httptest.NewServer(con)
	b.Cleanup(srv.Close)
	f := &fixture{con: con, srv: srv}
	br := f.browser(b, Vietnamese)
	_, page, _ := br.do("GET", "/ui/signin", nil)
	if code, _, _ := br.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(b, page)}, "token": {opToken}}); code != 303 {
		b.Fatalf("sign in: %d", code)
	}
	_, page, _ = br.do("GET", "/ui/audit", nil)
	u, _ := url.Parse(srv.URL + "/ui/")
	return br.c.Jar.Cookies(u), csrfOf(b, page)
}
