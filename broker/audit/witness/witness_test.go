package witness_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

// bus is a log on a real store with the bus's public audit endpoints.
type bus struct {
	log *audit.Log
	srv *httptest.Server
}

func newBus(t *testing.T, priv ed25519.PrivateKey) *bus {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "bus.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := audit.Open(context.Background(), st, []byte("0123456789abcdef"), audit.WithSigner(priv))
	if err != nil {
		t.Fatal(err)
	}
	b := &bus{log: l}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/audit/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp, ok := b.log.Latest()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(witness.FromCheckpoint(nil, cp))
	})
	mux.HandleFunc("/v1/audit/proofs/consistency", func(w http.ResponseWriter, r *http.Request) {
		first, _ := strconv.ParseInt(r.URL.Query().Get("first"), 10, 64)
		second, _ := strconv.ParseInt(r.URL.Query().Get("second"), 10, 64)
		p, err := b.log.ConsistencyProof(r.Context(), first, second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		hs := make([]string, len(p))
		for i, h := range p {
			hs[i] = fmt.Sprintf("%x", h)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"proof": hs})
	})
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *bus) grow(t *testing.T, n int, actor string) audit.Checkpoint {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if err := b.log.Append(ctx, []store.AuditEntry{{Actor: actor, Action: "deliver", Decision: "allow", RequestID: fmt.Sprint(actor, i)}}); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := b.log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// Consistent checkpoints are cosigned and served; a forked one (same key,
// other entries), a smaller one and one with another root at the held
// size are refused, counted and never cosigned; the state survives a
// restart of the witness.
func TestWitnessCosignsConsistentAndRefusesForks(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	honest := newBus(t, priv)
	dir := t.TempDir()
	w, err := witness.Open(dir, pub)
	if err != nil {
		t.Fatal(err)
	}
	b := witness.Bus{URL: honest.srv.URL}

	cp1 := honest.grow(t, 5, "vss")
	if n, err := w.PollOnce(ctx, b, nil); err != nil || n != 1 {
		t.Fatalf("first checkpoint: %d %v", n, err)
	}
	cp2 := honest.grow(t, 7, "vss")
	if n, err := w.PollOnce(ctx, b, nil); err != nil || n != 1 {
		t.Fatalf("consistent checkpoint: %d %v", n, err)
	}
	if n, err := w.PollOnce(ctx, b, nil); err != nil || n != 0 {
		t.Fatalf("same checkpoint again: %d %v", n, err)
	}
	got, ok := w.Latest()
	if !ok || got.Checkpoint.Size != cp2.Size {
		t.Fatalf("latest %+v", got)
	}

	// Served over HTTP, with both signatures checkable.
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	fetched, err := witness.Fetch(ctx, nil, srv.URL, pub, w.PublicKey())
	if err != nil || fetched.Size != cp2.Size {
		t.Fatalf("fetch: %+v %v", fetched, err)
	}

	// A fork: the same key signs a log with other entries after cp1's.
	forked := newBus(t, priv)
	forked.grow(t, 5, "other") // a different log from the first entry
	fcp := forked.grow(t, 20, "other")
	refusals := []struct {
		name string
		cp   audit.Checkpoint
		want string
	}{
		{"forked larger", fcp, "not consistent"},
		{"smaller tree", cp1, "rolled back"},
	}
	for _, r := range refusals {
		ok, err := w.Offer(ctx, r.cp, witness.Bus{URL: forked.srv.URL}.Consistency)
		if ok || !errors.Is(err, witness.ErrRefused) || !strings.Contains(err.Error(), r.want) {
			t.Fatalf("%s: cosigned=%v err=%v", r.name, ok, err)
		}
	}
	// The same size with another root.
	same := newBus(t, priv).grow(t, int(cp2.Size), "other")
	if ok, err := w.Offer(ctx, same, nil); ok || !errors.Is(err, witness.ErrRefused) || !strings.Contains(err.Error(), "forked") {
		t.Fatalf("same size, other root: %v %v", ok, err)
	}
	if n := refusedCount(t, w); n != 3 {
		t.Fatalf("lgsp_witness_refused_total %v, want 3", n)
	}

	// Nothing refused was written; a restarted witness holds cp2, skipping a
	// line torn by a crash.
	f, err := os.OpenFile(filepath.Join(dir, witness.LogFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"checkpoint":{"size":99`)
	f.Close()
	w2, err := witness.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := w2.Latest(); !ok || got.Checkpoint.Size != cp2.Size || got.Checkpoint.Root != fmt.Sprintf("%x", cp2.Root) {
		t.Fatalf("restarted: %+v", got)
	}
	if _, err := witness.Open(dir, forkedKey(t)); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("another bus key: %v", err)
	}
}

func forkedKey(t *testing.T) ed25519.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// refusedCount reads lgsp_witness_refused_total from the witness's registry.
func refusedCount(t *testing.T, w *witness.Witness) float64 {
	t.Helper()
	mfs, err := w.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "lgsp_witness_refused_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no lgsp_witness_refused_total")
	return 0
}
