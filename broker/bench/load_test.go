package bench

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunLoad drives the generator against a real HTTP server: every
// request is sent once with its own body and token, a refusal is counted
// as one (with its text), and a connection the server closes after an
// answer is dialled again without failing a request.
func TestRunLoad(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		k := n.Add(1)
		mu.Lock()
		seen[r.URL.Path+" "+r.Header.Get("Authorization")+" "+string(body)]++
		mu.Unlock()
		switch {
		case strings.Contains(string(body), "refuse"):
			http.Error(w, `{"error":"refused here"}`, http.StatusForbidden)
		case k%7 == 0: // the server ends the connection after this answer
			w.Header().Set("Connection", "close")
			io.WriteString(w, `{"match":true}`)
		default:
			io.WriteString(w, `{"match":true}`)
		}
	}))
	defer srv.Close()
	reqs := filepath.Join(t.TempDir(), "reqs.tsv")
	lines := "/v1/lookup\tA\t{\"n\":1}\n/v1/verify\tB\t{\"n\":2}\n/v1/verify\tC\t{\"refuse\":3}\n"
	if err := os.WriteFile(reqs, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := RunLoad(t.Context(), LoadOptions{API: srv.URL, Requests: reqs, Rate: 600, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 300 || n.Load() != 300 {
		t.Fatalf("sent %d, the server saw %d; want 300", res.Sent, n.Load())
	}
	want := map[string]int{"/v1/lookup Bearer A {\"n\":1}": 100, "/v1/verify Bearer B {\"n\":2}": 100, "/v1/verify Bearer C {\"refuse\":3}": 100}
	for k, v := range want {
		if seen[k] != v {
			t.Errorf("%q seen %d times, want %d (all: %v)", k, seen[k], v, seen)
		}
	}
	if res.Failed != 100 || res.Rejected != 100 || res.Other != 0 || !strings.Contains(res.FirstFailure, "403") || !strings.Contains(res.FirstFailure, "refused here") {
		t.Fatalf("failures: %d (%d rejected, %d other), first %q; want the 100 refusals", res.Failed, res.Rejected, res.Other, res.FirstFailure)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || res.CPU <= 0 || res.Conns < 1 || res.Conns > maxLoadConns {
		t.Fatalf("figures: %+v", res)
	}
}

// TestRunLoadNoBus: a bus that is not there fails every request (no
// answer, so neither rejected nor other) and says why.
func TestRunLoadNoBus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	api := srv.URL
	srv.Close()
	reqs := filepath.Join(t.TempDir(), "reqs.tsv")
	if err := os.WriteFile(reqs, []byte("/v1/lookup\tA\t{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := RunLoad(t.Context(), LoadOptions{API: api, Requests: reqs, Rate: 100, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != res.Sent || res.Sent != 20 || res.Rejected+res.Other != 0 || !strings.Contains(res.FirstFailure, "connect") {
		t.Fatalf("against a closed port: %+v", res)
	}
	if _, err := RunLoad(t.Context(), LoadOptions{API: "127.0.0.1:1", Requests: reqs}); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("an API without a scheme: %v", err)
	}
}
