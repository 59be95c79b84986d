package identity

import (
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

const benchN = 1_000_000

var (
	benchOnce sync.Once
	benchPop  []store.Citizen
	benchIdx  *Index
)

func benchSetup(b *testing.B) ([]store.Citizen, *Index) {
	b.Helper()
	benchOnce.Do(func() {
		benchPop = benchPopulation(benchN)
		benchIdx = mustIndex(benchPop)
	})
	return benchPop, benchIdx
}

// BenchmarkIndexBuild builds the index of a million citizens and reports
// its size: bytes/citizen is the index's own accounting of its tables and
// name arena, heap-bytes/citizen what the Go heap grew by.
func BenchmarkIndexBuild(b *testing.B) {
	pop, _ := benchSetup(b)
	b.ResetTimer()
	var idx *Index
	var heap uint64
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		idx = mustIndex(pop)
		runtime.GC()
		runtime.ReadMemStats(&m1)
		heap = m1.HeapAlloc - m0.HeapAlloc
		runtime.KeepAlive(idx)
	}
	b.ReportMetric(float64(idx.SizeBytes())/float64(len(pop)), "bytes/citizen")
	b.ReportMetric(float64(heap)/float64(len(pop)), "heap-bytes/citizen")
	b.ReportMetric(float64(len(pop)), "citizens")
}

func benchClaims(pop []store.Citizen) []Claim {
	claims := make([]Claim, 0, 4096)
	for i := 0; len(claims) < cap(claims); i += 241 {
		c := pop[i%len(pop)]
		if c.Deceased {
			continue
		}
		// cloned: a claim is freshly decoded from a record, so its bytes are
		// hot in cache, not scattered over the population's heap
		claims = append(claims, Claim{ID: strings.Clone(c.ID), Name: strings.Clone(c.FullName), DOB: strings.Clone(c.DOB), Sex: c.Sex})
	}
	return claims
}

// BenchmarkReconcileVerified is the hot path: a claim repeating the
// register, against a million-citizen index, on one goroutine.
func BenchmarkReconcileVerified(b *testing.B) {
	pop, idx := benchSetup(b)
	claims := benchClaims(pop)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		if Reconcile(idx, claims[i&4095]).Outcome != Verified {
			b.Fatal("not verified")
		}
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	// on a shared machine wall time overstates the cost; CPU time of the
	// process (this goroutine plus the runtime) is the per-core figure
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "verifications/cpu-s")
	}
}

// BenchmarkReconcileVerifiedBatch is the same claims decided 64 at a time
// by ReconcileBatch (the bulk path), on one goroutine.
func BenchmarkReconcileVerifiedBatch(b *testing.B) {
	pop, idx := benchSetup(b)
	claims := benchClaims(pop)
	out := make([]Result, 64)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	cpu0 := cpuTime()
	n := 0
	for b.Loop() {
		batch := claims[i&4095 : i&4095+64]
		ReconcileBatch(idx, batch, out)
		if out[63].Outcome != Verified {
			b.Fatal("not verified")
		}
		i += 64
		n += 64
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "verifications/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "verifications/cpu-s")
	}
}

// BenchmarkReconcileVerifiedParallel shows that readers do not contend.
func BenchmarkReconcileVerifiedParallel(b *testing.B) {
	pop, idx := benchSetup(b)
	claims := benchClaims(pop)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if Reconcile(idx, claims[i&4095]).Outcome != Verified {
				b.Error("not verified")
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkReconcileTypo is the bounded worst case: a number nobody has,
// with name and date given, so all 108 single-digit variants are looked up.
func BenchmarkReconcileTypo(b *testing.B) {
	pop, idx := benchSetup(b)
	c := pop[12345]
	id := []byte(c.ID)
	id[11] = '0' + (id[11]-'0'+5)%10
	claim := Claim{ID: string(id), Name: c.FullName, DOB: c.DOB, Sex: c.Sex}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := Reconcile(idx, claim); r.Outcome != NotFound || r.Proposed != c.ID {
			b.Fatalf("%+v", r)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Normalize("Nguyễn Thị Thu Thủy")
	}
}
