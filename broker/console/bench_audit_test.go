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
	"fmt"
	"math/rand/v2"
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
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
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

func BenchmarkAuditorCitizenSearch(b *testing.B) {
	ctx := context.Background()
	n := benchEntries()
	dir := os.Getenv("LGSP_BENCH_CONSOLE_AUDIT_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, fmt.Sprintf("console-audit-%d.db", n)))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	key := []byte("benchmark-hmac-key-0123456789")
	buildAuditLog(b, st, key, n)
	t0 := time.Now()
	log, err := audit.Open(ctx, st, key)
	if err != nil {
		b.Fatal(err)
	}
	if fs, ok := store.Store(st).(store.AuditFilterStore); ok { // as a running bus keeps them
		if _, err := fs.SealAuditBuckets(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("opened the log of %d entries in %s", log.Size(), time.Since(t0).Round(time.Millisecond))
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
	con.SetAPI(api.New(api.Deps{Metrics: prometheus.NewRegistry(), OperatorToken: opToken, Catalog: cat, Engine: policies.NewEngine(set),
		Audit: st, AuditLog: log, CitizenKey: log.CitizenKey, Registry: func() *policies.Agencies { return reg }}))
	srv := httptest.NewServer(con)
	defer srv.Close()
	f := &fixture{con: con, srv: srv}
	br := f.browser(b, Vietnamese)
	_, page, _ := br.do("GET", "/ui/signin", nil)
	if code, _, _ := br.do("POST", "/ui/signin", url.Values{"csrf": {csrfOf(b, page)}, "token": {opToken}}); code != 303 {
		b.Fatalf("sign in: %d", code)
	}
	_, page, _ = br.do("GET", "/ui/audit", nil)
	csrf := csrfOf(b, page)
	u, _ := url.Parse(srv.URL + "/ui/")
	cookies := br.c.Jar.Cookies(u)
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
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(n), "log-entries")
}
