package streamlink_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/streamlink"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
	"github.com/lgsp-bus/lgsp/schemas"
)

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkBusMemory is what the bus holds for identity per citizen: the
// exact look-up index and the streaming linker (linkage population, the
// blocking arrays of the shipped catalog's datasets' rules, model), built
// from LGSP_BENCH_CITIZENS synthetic citizens (default 1,000,000; the
// goal is ≤ 80 bytes a citizen at 10 million). The citizens are generated
// as they are read, so the heap growth is only what the two keep.
func BenchmarkBusMemory(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("LGSP_BENCH_CITIZENS")); err == nil && v > 0 {
		n = v
	}
	cat, err := schemas.Load()
	if err != nil {
		b.Fatal(err)
	}
	scan := func(ctx context.Context, fn func(store.Citizen) error) error {
		for i := range n {
			if err := fn(synthetic.Citizen(seed, i)); err != nil {
				return err
			}
		}
		return nil
	}
	for b.Loop() {
		h0 := heapAlloc()
		idx := identity.NewIndex(n)
		for i := range n {
			idx.Add(synthetic.Citizen(seed, i))
		}
		h1 := heapAlloc()
		t0, cpu0 := time.Now(), cpuTime()
		l, err := streamlink.New(context.Background(), scan, streamlink.Config{Datasets: streamlink.FromCatalog(cat)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		wall, cpu := time.Since(t0), cpuTime()-cpu0
		h2 := heapAlloc()
		f := float64(n)
		b.ReportMetric(float64(h1-h0)/f, "index-bytes/citizen")
		b.ReportMetric(float64(h2-h1)/f, "linker-bytes/citizen")
		b.ReportMetric(float64(h2-h0)/f, "total-bytes/citizen")
		pop, rules := l.Sizes()
		b.ReportMetric(float64(pop)/f, "population-bytes/citizen")
		b.ReportMetric(float64(rules)/f, "rules-bytes/citizen")
		b.ReportMetric(wall.Seconds(), "linker-build-s")
		b.ReportMetric(cpu.Seconds(), "linker-build-cpu-s")
		runtime.KeepAlive(idx)
		runtime.KeepAlive(l)
	}
}
