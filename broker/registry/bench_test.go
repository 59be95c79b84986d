//go:build unix

package registry

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/schemas"
)

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGetSchemaByID measures GET /schemas/ids/{id}, what every
// Confluent deserializer asks on a cache miss, over a real TCP listener
// (loopback) with keep-alive clients: the registry bootstrapped from the
// catalog on SQLite, ids cycling over every dataset's envelope schema.
// It reports requests per second, the latency percentiles of single
// requests, and the CPU time per request of client and server together.
// Clients run GOMAXPROCS×4 at a time.
//
//	go test -run XXX -bench GetSchemaByID -count 3 ./broker/registry/
func BenchmarkGetSchemaByID(b *testing.B) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "store.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	reg := New(st)
	byDataset, err := reg.Bootstrap(ctx, schemas.MustLoad())
	if err != nil {
		b.Fatal(err)
	}
	var ids []int
	for _, id := range byDataset {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: reg.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	const perCore = 4
	tr := &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()
	urls := make([]string, len(ids))
	for i, id := range ids {
		urls[i] = fmt.Sprintf("%s/schemas/ids/%d", base, id)
	}
	get := func(u string) error {
		resp, err := client.Get(u)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", u, resp.Status)
		}
		return err
	}
	for _, u := range urls { // warm the caches and the connections
		if err := get(u); err != nil {
			b.Fatal(err)
		}
	}

	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(perCore)
	b.ResetTimer()
	start, cpu0 := time.Now(), processCPU()
	b.RunParallel(func(pb *testing.PB) {
		own := make([]time.Duration, 0, 1024)
		i := 0
		for pb.Next() {
			t0 := time.Now()
			if err := get(urls[i%len(urls)]); err != nil {
				b.Error(err)
				return
			}
			own = append(own, time.Since(t0))
			i++
		}
		mu.Lock()
		lat = append(lat, own...)
		mu.Unlock()
	})
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-µs/req")
}
