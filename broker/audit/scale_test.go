package audit

// The audit log at scale, for broker/audit/BENCHMARKS.md. It runs only when
// LGSP_BENCH_AUDIT_ENTRIES is set, so `go test ./...` never does:
//
//	LGSP_BENCH_AUDIT_ENTRIES=10000000 go test ./broker/audit/ -run TestAuditScale -v -timeout 3h
//
// LGSP_BENCH_AUDIT_STORES: "sqlite", "postgres" or "sqlite,postgres"
// (default sqlite; postgres needs LGSP_TEST_POSTGRES_URL).
// LGSP_BENCH_AUDIT_DIR keeps the SQLite file there and reuses it when it
// already holds the log (default: a temp dir, removed afterwards).
// LGSP_BENCH_AUDIT_APPENDERS: concurrent appenders, comma-separated
// (default 64,1024); LGSP_BENCH_AUDIT_APPEND_SECONDS per level (default 5).

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

const (
	scaleBatch   = 10_000  // entries per bulk AppendAudit
	scaleCPEvery = 100_000 // a signed checkpoint every this many entries
	scaleQueries = 2_000   // citizen queries timed
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestAuditScale(t *testing.T) {
	n := int64(envInt("LGSP_BENCH_AUDIT_ENTRIES", 0))
	if n == 0 {
		t.Skip("set LGSP_BENCH_AUDIT_ENTRIES (e.g. 10000000) to run the audit log at scale; see BENCHMARKS.md")
	}
	stores := os.Getenv("LGSP_BENCH_AUDIT_STORES")
	if stores == "" {
		stores = "sqlite"
	}
	for _, name := range strings.Split(stores, ",") {
		t.Run(name, func(t *testing.T) {
			var st store.Store
			switch name {
			case "sqlite":
				dir := os.Getenv("LGSP_BENCH_AUDIT_DIR")
				if dir == "" {
					dir = t.TempDir()
				}
				var err error
				if st, err = sqlitestore.Open(context.Background(), filepath.Join(dir, fmt.Sprintf("audit-%d.db", n))); err != nil {
					t.Fatal(err)
				}
			case "postgres":
				st = scalePG(t)
			default:
				t.Fatalf("unknown store %q", name)
			}
			defer st.Close()
			runScale(t, st, n)
		})
	}
}

func scalePG(t *testing.T) store.Store {
	base := os.Getenv("LGSP_TEST_POSTGRES_URL")
	if base == "" {
		t.Fatal("LGSP_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("audit_scale_%d", time.Now().UnixNano())
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	t.Cleanup(func() {
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := pgstore.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func runScale(t *testing.T, st store.Store, n int64) {
	ctx := context.Background()
	priv := ed25519.NewKeyFromSeed(sha256.New().Sum(nil)) // fixed: a kept file verifies on the next run
	pub := priv.Public().(ed25519.PublicKey)
	hkey := []byte("benchmark-hmac-key-0123456789")
	nCitizens := max(n/10, 1)
	citizen := func(i int64) string {
		m := hmac.New(sha256.New, hkey)
		fmt.Fprintf(m, "0010%08d", i)
		return hex.EncodeToString(m.Sum(nil))
	}

	have, err := st.CountAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if have != 0 && have < n {
		t.Fatalf("the store holds %d entries, not %d: remove it", have, n)
	}
	if have == 0 {
		start := time.Now()
		buildScaleLog(t, st, n, nCitizens, citizen, priv)
		el := time.Since(start)
		t.Logf("build: %d entries in %s (%.0f entries/s, bulk AppendAudit of %d with the chain precomputed)", n, el.Round(time.Millisecond), float64(n)/el.Seconds(), scaleBatch)
	} else {
		t.Logf("build: reusing a store of %d entries", have)
	}

	// Query by citizen: newest first, one page of 100, as the citizen view.
	s := st.(store.AuditSearcher)
	rng := rand.New(rand.NewPCG(7, 7))
	q := func() time.Duration {
		k := citizen(rng.Int64N(nCitizens))
		t0 := time.Now()
		es, err := s.SearchAudit(ctx, store.AuditSearch{CitizenKey: k, Newest: true, Limit: 100})
		d := time.Since(t0)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 && n >= 1000 {
			t.Fatalf("no entries for citizen %s", k)
		}
		return d
	}
	for range 100 { // warm-up
		q()
	}
	lat := make([]time.Duration, scaleQueries)
	for i := range lat {
		lat[i] = q()
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("citizen query (SearchAudit CitizenKey, Newest, Limit 100) over %d entries, %d citizens: p50 %s  p99 %s  max %s (%d queries)",
		n, nCitizens, pct(0.5), pct(0.99), lat[len(lat)-1], len(lat))

	start := time.Now()
	rep, err := VerifyLog(ctx, st, pub)
	el := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Entries < n {
		t.Fatalf("verify: %+v", rep)
	}
	t.Logf("VerifyLog: %d entries, %d checkpoints in %s (%.0f entries/s)", rep.Entries, rep.Checkpoints, el.Round(time.Millisecond), float64(rep.Entries)/el.Seconds())

	// Durable appends through Log.Append (group commit) on top of the log.
	start = time.Now()
	l, err := Open(ctx, st, hkey, WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Open (rebuilds the frontier from the whole log): %s", time.Since(start).Round(time.Millisecond))
	secs := time.Duration(envInt("LGSP_BENCH_AUDIT_APPEND_SECONDS", 5)) * time.Second
	levels := os.Getenv("LGSP_BENCH_AUDIT_APPENDERS")
	if levels == "" {
		levels = "64,1024"
	}
	for _, lv := range strings.Split(levels, ",") {
		g, _ := strconv.Atoi(lv)
		var done atomic.Int64
		var wg sync.WaitGroup
		deadline := time.Now().Add(secs)
		t0 := time.Now()
		for i := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(deadline) {
					e := store.AuditEntry{Actor: "vss", Action: "lookup", Dataset: "population.citizen", Fields: []string{"full_name", "dob"},
						Purpose: "health_insurance_issuance", Decision: "allow", RequestID: fmt.Sprintf("app-%d-%d", i, done.Load()), CitizenKey: citizen(int64(i))}
					if err := l.Append(ctx, []store.AuditEntry{e}); err != nil {
						t.Error(err)
						return
					}
					done.Add(1)
				}
			}()
		}
		wg.Wait()
		el := time.Since(t0)
		t.Logf("Append (durable group commit), %d concurrent appenders: %d appends in %s = %.0f appends/s", g, done.Load(), el.Round(time.Millisecond), float64(done.Load())/el.Seconds())
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}

func buildScaleLog(t *testing.T, st store.Store, n, nCitizens int64, citizen func(int64) string, priv ed25519.PrivateKey) {
	ctx := context.Background()
	keys := make([]string, nCitizens)
	for i := range keys {
		keys[i] = citizen(int64(i))
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
	for seq := int64(1); seq <= n; seq++ {
		ts := t0.Add(time.Duration(seq) * 3 * time.Millisecond)
		var e store.AuditEntry
		if seq%scaleCPEvery == 0 {
			cp := Checkpoint{Size: f.size, Root: f.root(), Time: ts}
			cp.Signature = ed25519.Sign(priv, cp.Message())
			e = store.AuditEntry{Time: ts, Actor: "lgsp", Action: ActionCheckpoint, Decision: "allow",
				RequestID: fmt.Sprintf("size=%d root=%s", cp.Size, hex.EncodeToString(cp.Root)),
				Reason:    base64.StdEncoding.EncodeToString(cp.Signature)}
		} else {
			a := rng.IntN(len(actors))
			e = store.AuditEntry{Time: ts, Actor: actors[a], Action: "deliver", Dataset: datasets[a],
				Fields: []string{"full_name", "dob", "permanent_address"}, Purpose: purposes[rng.IntN(len(purposes))],
				LegalBasis: "Decree 47/2024/ND-CP", AgreementID: fmt.Sprintf("agr-%s-%d", actors[a], a), Decision: "allow",
				RequestID: fmt.Sprintf("%016x-%08x", seq, rng.Uint32()), CitizenKey: keys[rng.Int64N(nCitizens)]}
		}
		e.Seq, e.PrevHash = seq, prev
		e.Hash = Hash(&e)
		prev = e.Hash
		f.append(LeafHash(e.Hash))
		batch = append(batch, e)
		if len(batch) == scaleBatch || seq == n {
			if err := st.AppendAudit(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
		if seq%1_000_000 == 0 {
			t.Logf("build: %d entries", seq)
		}
	}
}
