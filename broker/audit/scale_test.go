package audit

// BenchmarkAuditScale is the benchmark of the audit log, on the
// embedded store (SQLite) and on PostgreSQL; see BENCHMARKS.md. With no
// settings it builds a small log so `go test -bench . ./broker/audit` stays
// quick; the figures are at 10,000,000 entries:
//
//	LGSP_BENCH_AUDIT_ENTRIES=10000000 go test ./broker/audit -run '^$' -bench AuditScale -benchtime 5s -timeout 3h
//
// LGSP_BENCH_AUDIT_ENTRIES (or -audit.entries): log size (default 20,000).
// LGSP_BENCH_AUDIT_STORES: "sqlite", "postgres" or "sqlite,postgres"
// (default both; postgres is skipped without LGSP_TEST_POSTGRES_URL).
// LGSP_BENCH_AUDIT_DIR keeps the SQLite file there and reuses it when it
// already holds the log; LGSP_BENCH_AUDIT_PG_SCHEMA does the same with a
// PostgreSQL schema (default: a throwaway temp dir or schema).
// LGSP_BENCH_AUDIT_APPENDERS: concurrent appenders of the append
// sub-benchmarks, comma-separated (default 64,1024,4096).

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

const (
	scaleBatch   = 10_000  // entries per bulk AppendAudit while building
	scaleCPEvery = 100_000 // a signed checkpoint every this many entries
)

var scaleEntries = flag.Int64("audit.entries", int64(envInt("LGSP_BENCH_AUDIT_ENTRIES", 20_000)),
	"audit log size of BenchmarkAuditScale (env LGSP_BENCH_AUDIT_ENTRIES)")

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// scaleLog is the fixture: a store holding a log of n entries.
type scaleLog struct {
	st        store.Store
	n         int64
	nCitizens int64
	priv      ed25519.PrivateKey
	hkey      []byte
	keys      *Log // only its CitizenKey, with hkey
}

func (s *scaleLog) citizen(i int64) string {
	var b [12]byte
	return s.keys.CitizenKey(string(fmt.Appendf(b[:0], "0010%08d", i)))
}

// BenchmarkAuditScale reports, on each store: query (one citizen's newest
// page of 100, p50/p99 ms), verify (VerifyLog of the whole log, seconds and
// entries/s), open (Open after a restart, ms) and appends (durable
// single-entry Log.Append from N concurrent appenders with group commit,
// appends/s).
func BenchmarkAuditScale(b *testing.B) {
	stores := os.Getenv("LGSP_BENCH_AUDIT_STORES")
	if stores == "" {
		stores = "sqlite,postgres"
	}
	for _, name := range strings.Split(stores, ",") {
		b.Run(name, func(b *testing.B) {
			s := &scaleLog{n: *scaleEntries, hkey: []byte("benchmark-hmac-key-0123456789"),
				priv: ed25519.NewKeyFromSeed(sha256.New().Sum(nil))} // fixed: a kept store verifies next time
			s.nCitizens = max(s.n/10, 1)
			s.keys = &Log{key: s.hkey}
			switch name {
			case "sqlite":
				dir := os.Getenv("LGSP_BENCH_AUDIT_DIR")
				if dir == "" {
					dir = b.TempDir()
				}
				st, err := sqlitestore.Open(context.Background(), filepath.Join(dir, fmt.Sprintf("audit-%d.db", s.n)))
				if err != nil {
					b.Fatal(err)
				}
				s.st = st
			case "postgres":
				s.st = scalePG(b)
			default:
				b.Fatalf("unknown store %q in LGSP_BENCH_AUDIT_STORES", name)
			}
			defer s.st.Close()
			s.fill(b)
			b.Run("query", s.benchQuery)
			b.Run("verify", s.benchVerify)
			b.Run("open", s.benchOpen)
			levels := os.Getenv("LGSP_BENCH_AUDIT_APPENDERS")
			if levels == "" {
				levels = "64,1024,4096"
			}
			for _, lv := range strings.Split(levels, ",") {
				g, err := strconv.Atoi(lv)
				if err != nil || g < 1 {
					b.Fatalf("LGSP_BENCH_AUDIT_APPENDERS: %q is not a number of appenders", lv)
				}
				b.Run(fmt.Sprintf("appends/appenders=%d", g), func(b *testing.B) { s.benchAppends(b, g) })
			}
		})
	}
}

func scalePG(b *testing.B) store.Store {
	base := os.Getenv("LGSP_TEST_POSTGRES_URL")
	if base == "" {
		b.Skip("LGSP_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	schema := os.Getenv("LGSP_BENCH_AUDIT_PG_SCHEMA")
	keep := schema != ""
	if !keep {
		schema = fmt.Sprintf("audit_scale_%d", time.Now().UnixNano())
	}
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	c.Close(ctx)
	if !keep {
		b.Cleanup(func() {
			if c, err := pgx.Connect(ctx, base); err == nil {
				_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
				c.Close(ctx)
			}
		})
	}
	st, err := pgstore.Open(ctx, pgtest.WithSearchPath(b, base, schema))
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// fill builds the log unless the store already holds it.
func (s *scaleLog) fill(b *testing.B) {
	ctx := context.Background()
	have, err := s.st.CountAudit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if have >= s.n {
		b.Logf("reusing a log of %d entries", have)
		return
	}
	if have != 0 {
		b.Fatalf("the store holds %d entries, not %d: remove it", have, s.n)
	}
	start := time.Now()
	s.build(b)
	el := time.Since(start)
	b.Logf("built %d entries in %s (%.0f entries/s, bulk AppendAudit of %d with the chain precomputed)", s.n, el.Round(time.Millisecond), float64(s.n)/el.Seconds(), scaleBatch)
}

// randomID looks like a delivery's request id, the CloudEvents id of the
// record: a UUID derived from a hash, so as random as the citizen key.
func randomID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-5" + h[13:16] + "-" + h[16:20] + "-" + h[20:]
}

// build writes entries that look like real deliveries: 5 agencies, 5
// datasets, 4 purposes, 3 released fields, a random request id and the
// HMAC key of a citizen drawn uniformly from n/10 (about 10 entries each),
// with a signed checkpoint every scaleCPEvery entries.
func (s *scaleLog) build(b *testing.B) {
	ctx := context.Background()
	keys := make([]string, s.nCitizens)
	for i := range keys {
		keys[i] = s.citizen(int64(i))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	actors := []string{"vss", "gdt", "moha", "mps", "monre"}
	datasets := []string{"population.citizen", "civil_status.birth_registration", "tax.taxpayer", "land.land_use_right", "insurance.health_card"}
	purposes := []string{"health_insurance_issuance", "tax_administration", "identity_verification", "residence_registration"}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var (
		f     frontier
		prev  []byte
		batch = make([]store.AuditEntry, 0, scaleBatch)
	)
	for seq := int64(1); seq <= s.n; seq++ {
		ts := t0.Add(time.Duration(seq) * 3 * time.Millisecond)
		var e store.AuditEntry
		if seq%scaleCPEvery == 0 || seq == s.n { // and the last: Open resumes from there
			cp := Checkpoint{Size: f.size, Root: f.root(), Time: ts}
			cp.Signature = ed25519.Sign(s.priv, cp.Message())
			e = checkpointEntry(cp, f)
		} else {
			a := rng.IntN(len(actors))
			e = store.AuditEntry{Time: ts, Actor: actors[a], Action: "deliver", Dataset: datasets[a],
				Fields: []string{"full_name", "dob", "permanent_address"}, Purpose: purposes[rng.IntN(len(purposes))],
				LegalBasis: "Decree 47/2024/ND-CP", AgreementID: fmt.Sprintf("agr-%s-%d", actors[a], a), Decision: "allow",
				RequestID: randomID(rng), CitizenKey: keys[rng.Int64N(s.nCitizens)]}
		}
		e.Seq, e.PrevHash = seq, prev
		e.Hash = Hash(&e)
		prev = e.Hash
		f.append(LeafHash(e.Hash))
		batch = append(batch, e)
		if len(batch) == scaleBatch || seq == s.n {
			if err := s.st.AppendAudit(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
		if seq%1_000_000 == 0 {
			b.Logf("built %d entries", seq)
		}
	}
}

// benchQuery times the citizen's "who looked at my data" page: the newest
// 100 entries of a random citizen, through SearchAudit.
func (s *scaleLog) benchQuery(b *testing.B) {
	ctx := context.Background()
	sr := s.st.(store.AuditSearcher)
	// the search filters of the sealed buckets, as a running bus keeps
	// them (a log built before they existed gets them here, once)
	if fs, ok := s.st.(store.AuditFilterStore); ok {
		t0 := time.Now()
		n, err := fs.SealAuditBuckets(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n > 0 {
			b.Logf("built the search filters of %d buckets in %s", n, time.Since(t0).Round(time.Millisecond))
		}
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var lat []time.Duration
	empty := 0
	for b.Loop() {
		k := s.citizen(rng.Int64N(s.nCitizens))
		t0 := time.Now()
		es, err := sr.SearchAudit(ctx, store.AuditSearch{CitizenKey: k, Newest: true, Limit: 100, VisibleAt: t0})
		lat = append(lat, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if len(es) == 0 {
			empty++
		}
	}
	// About e^-10 of the citizens have no entry; many more means the
	// search misses entries.
	if s.n >= 1000 && empty*100 > len(lat) {
		b.Fatalf("%d of %d citizen queries found nothing", empty, len(lat))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// benchVerify times VerifyLog over the whole log, as `lgsp audit verify`.
func (s *scaleLog) benchVerify(b *testing.B) {
	pub := s.priv.Public().(ed25519.PublicKey)
	var entries int64
	for b.Loop() {
		rep, err := VerifyLog(context.Background(), s.st, pub)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() || rep.Entries < s.n {
			b.Fatalf("verify: %+v", rep)
		}
		entries += rep.Entries
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/verify")
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
}

// benchOpen times Open after a restart: it resumes from the latest
// checkpoint's frontier and reads the entries after it.
func (s *scaleLog) benchOpen(b *testing.B) {
	for b.Loop() {
		if _, err := Open(context.Background(), s.st, s.hkey, WithSigner(s.priv)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/open")
}

// benchAppends runs b.N durable single-entry Log.Append calls from g
// concurrent appenders on top of the log; group commit merges them. A
// checkpoint after the run keeps Open's tail short for the next one.
func (s *scaleLog) benchAppends(b *testing.B, g int) {
	ctx := context.Background()
	l, err := Open(ctx, s.st, s.hkey, WithSigner(s.priv))
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(max(1, g/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(uint64(next.Add(1)), uint64(time.Now().UnixNano())))
		for pb.Next() {
			e := store.AuditEntry{Actor: "vss", Action: "lookup", Dataset: "population.citizen", Fields: []string{"full_name", "dob"},
				Purpose: "health_insurance_issuance", Decision: "allow", RequestID: randomID(rng),
				CitizenKey: s.citizen(rng.Int64N(s.nCitizens))}
			if err := l.Append(ctx, []store.AuditEntry{e}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	if st := l.Stats(); st.Commits > 0 {
		b.ReportMetric(float64(st.Entries)/float64(st.Commits), "entries/commit")
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
}
