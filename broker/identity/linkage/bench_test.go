package linkage

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// The national-scale benchmarks run on LGSP_BENCH_CITIZENS citizens
// (default 10,000,000); they only run with -bench, never in normal tests.
// See BENCHMARKS.md for the commands and figures.

var (
	bigOnce sync.Once
	bigCits []store.Citizen
	bigPop  *Population
	bigIdx  *identity.Index
	bigLink *Linker
)

func bigN() int {
	if n, err := strconv.Atoi(os.Getenv("LGSP_BENCH_CITIZENS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

// bigCitizens generates the population on every core.
func bigCitizens() []store.Citizen {
	bigOnce.Do(func() {
		n := bigN()
		bigCits = make([]store.Citizen, n)
		parallel(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				bigCits[i] = synthetic.Citizen(testSeed, i)
			}
		})
	})
	return bigCits
}

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkBuild10M builds the identity index (exact look-up) and the
// linkage population (blocking) for the whole register and reports both
// sizes per citizen and load rates.
func BenchmarkBuild10M(b *testing.B) {
	cs := bigCitizens()
	n := float64(len(cs))
	for b.Loop() {
		bigIdx, bigPop = nil, nil
		h0 := heapAlloc()
		t0 := time.Now()
		idx := identity.NewIndex(len(cs))
		for _, c := range cs {
			if err := idx.Add(c); err != nil {
				b.Fatal(err)
			}
		}
		tIdx := time.Since(t0)
		h1 := heapAlloc()
		t1 := time.Now()
		pop, err := PopulationOf(cs)
		if err != nil {
			b.Fatal(err)
		}
		tPop := time.Since(t1)
		h2 := heapAlloc()
		bigIdx, bigPop = idx, pop
		b.ReportMetric(n/tIdx.Seconds(), "index-citizens/s")
		b.ReportMetric(n/tPop.Seconds(), "linkage-citizens/s")
		b.ReportMetric(n/(tIdx+tPop).Seconds(), "both-citizens/s")
		b.ReportMetric(float64(idx.SizeBytes())/n, "index-bytes/citizen")
		b.ReportMetric(float64(pop.SizeBytes())/n, "linkage-bytes/citizen")
		b.ReportMetric(float64(h1-h0)/n, "index-heap-bytes/citizen")
		b.ReportMetric(float64(h2-h1)/n, "linkage-heap-bytes/citizen")
		b.ReportMetric(float64(h2-h0)/n, "total-heap-bytes/citizen")
	}
}

func bigSetup(b *testing.B) (*identity.Index, *Population) {
	cs := bigCitizens()
	if bigPop == nil {
		bigIdx = identity.NewIndex(len(cs))
		for _, c := range cs {
			bigIdx.Add(c)
		}
		var err error
		if bigPop, err = PopulationOf(cs); err != nil {
			b.Fatal(err)
		}
	}
	return bigIdx, bigPop
}

// BenchmarkLink10M trains a model on 5,000 legacy records and links
// 100,000 other records without a number (documented corruption levels)
// against the whole register: time, throughput, candidate pairs compared
// per second and per core, precision, recall and blocking recall.
func BenchmarkLink10M(b *testing.B) {
	_, pop := bigSetup(b)
	view := synthetic.NewPop(testSeed, pop.Len())
	o := synthetic.DefaultLegacyOptions()
	train, _ := legacy(view, 0, 5000, o)
	recs, truth := legacy(view, 1_000_000, 100_000, o)
	for b.Loop() {
		t0 := time.Now()
		bigLink = Train(pop, train, DefaultConfig())
		tTrain := time.Since(t0)
		t1 := time.Now()
		q, ds := evaluate(bigLink, recs, truth)
		tLink := time.Since(t1) // includes evaluate's blocking-recall pass
		pairs := 0
		for _, d := range ds {
			pairs += d.Candidates
		}
		// the link time proper, without the recall pass
		t2, cpu2 := time.Now(), cpuTime()
		bigLink.LinkBatch(recs)
		tBatch, cpuBatch := time.Since(t2), cpuTime()-cpu2
		_ = tLink
		cores := float64(runtime.GOMAXPROCS(0))
		b.ReportMetric(tTrain.Seconds(), "train-s")
		b.ReportMetric(tBatch.Seconds(), "link-100k-s")
		b.ReportMetric(float64(len(recs))/tBatch.Seconds(), "records/s")
		b.ReportMetric(float64(pairs)/tBatch.Seconds()/cores, "pairs/s/core")
		// on a shared machine the wall time depends on the neighbours:
		// the CPU time of the link is what two idle cores would need
		if cpuBatch > 0 {
			b.ReportMetric(cpuBatch.Seconds(), "link-100k-cpu-s")
			b.ReportMetric(float64(pairs)/cpuBatch.Seconds(), "pairs/cpu-s")
		}
		b.ReportMetric(float64(pairs)/float64(len(recs)), "pairs/record")
		b.ReportMetric(q.precision(), "precision")
		b.ReportMetric(q.recall(), "recall")
		b.ReportMetric(q.blockingRecall(), "blocking-recall")
		b.ReportMetric(float64(q.review)/float64(len(recs)), "review-share")
		b.ReportMetric(float64(q.reviewRight)/float64(max(q.review, 1)), "review-right")
		for _, th := range []float64{0.5, 0.8, 0.95, 0.99} {
			var n, right int
			for k, d := range ds {
				if d.PersonalID != "" && d.Probability >= th {
					n++
					if d.PersonalID == truth[k].Truth {
						right++
					}
				}
			}
			b.Logf("p>=%.2f precision=%.4f recall=%.4f", th, float64(right)/float64(max(n, 1)), float64(right)/float64(q.inRegister))
		}
		ls := analyseLoss(bigLink, recs, truth, ds)
		b.ReportMetric(float64(ls.ambiguous)/float64(max(ls.inRegister, 1)), "ambiguous-share")
		b.ReportMetric(1-float64(ls.notBlocked+ls.ambiguous)/float64(max(ls.inRegister, 1)), "attainable-recall")
		b.Log(ls)
		b.Logf("model: prior %.2f, sessions %+v", bigLink.Model().PriorWeight, bigLink.Model().Sessions)
	}
}

// BenchmarkStrictMismatch10M: records carrying the right number whose
// name or date a strict comparison rejects; reports the share recognised
// as the same person.
func BenchmarkStrictMismatch10M(b *testing.B) {
	idx, pop := bigSetup(b)
	view := synthetic.NewPop(testSeed, pop.Len())
	o := synthetic.DefaultLegacyOptions()
	o.WithNumber = true
	train, _ := legacy(view, 0, 5000, DefaultLegacyNoNumber())
	l := bigLink
	if l == nil {
		l = Train(pop, train, DefaultConfig())
	}
	recs, truth := legacy(view, 2_000_000, 50_000, o)
	for b.Loop() {
		var strict, confirmed int
		for k, r := range recs {
			if truth[k].Truth != r.PersonalID {
				continue
			}
			if identity.Reconcile(idx, identity.Claim{ID: r.PersonalID, Name: r.Name, DOB: r.DOB, Sex: r.Sex}).Outcome != identity.Mismatch {
				continue
			}
			strict++
			if decideNumber(idx, l, r, "", BulkOptions{ConfirmWeight: 10}).Outcome == identity.Verified {
				confirmed++
			}
		}
		b.ReportMetric(float64(strict), "strict-mismatches")
		b.ReportMetric(float64(confirmed)/float64(max(strict, 1)), "recognised-share")
	}
}

func DefaultLegacyNoNumber() synthetic.LegacyOptions { return synthetic.DefaultLegacyOptions() }

// BenchmarkComparePairs is the inner loop: one candidate pair compared
// and scored, on one core.
func BenchmarkComparePairs(b *testing.B) {
	l := testLinker(b)
	_, view := testPopulation(b)
	recs, _ := legacy(view, 60_000, 200, synthetic.DefaultLegacyOptions())
	benchPairs(b, l, recs)
}

// benchPairs compares and scores every candidate pair of recs, b.N times,
// and reports pairs per second of wall and of CPU time.
func benchPairs(b *testing.B, l *Linker, recs []Record) {
	type pr struct {
		r prepared
		c []uint32
	}
	var prs []pr
	total := 0
	for _, rec := range recs {
		r := l.prepare(rec)
		c, _ := l.candidates(&r, nil)
		prs = append(prs, pr{r, c})
		total += len(c)
	}
	b.ResetTimer()
	var c side
	pairs := 0
	cpu0 := cpuTime()
	for b.Loop() {
		for k := range prs {
			for _, i := range prs[k].c {
				l.pop.sideOf(i, &c)
				l.score(&prs[k].r, &c, i, false)
			}
		}
		pairs += total
	}
	b.ReportMetric(float64(pairs)/b.Elapsed().Seconds(), "pairs/s")
	// on a shared machine wall time overstates the cost: CPU time is the
	// per-core figure
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(pairs)/cpu.Seconds(), "pairs/cpu-s")
	}
}

var (
	resOnce sync.Once
	bigRes  []string
	bigAPop *Population
)

// bigResidences generates the registered addresses on every core.
func bigResidences() []string {
	resOnce.Do(func() {
		n := bigN()
		bigRes = make([]string, n)
		parallel(n, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				bigRes[i] = synthetic.Residence(testSeed, i).Line
			}
		})
	})
	return bigRes
}

func buildAddressPopulation(b *testing.B) *Population {
	cs, res := bigCitizens(), bigResidences()
	pop, err := BuildPopulation(func(yield func(store.Citizen, []string) bool) {
		extra := make([]string, 1)
		for i, c := range cs {
			extra[0] = res[i]
			if !yield(c, extra) {
				return
			}
		}
	}, len(cs), []ExtraField{addressField})
	if err != nil {
		b.Fatal(err)
	}
	return pop
}

// BenchmarkBuildAddress10M builds the linkage population keeping the
// registered address (a mapping's address field) and reports its size
// apart: the base (blocking indexes included) and the addresses.
func BenchmarkBuildAddress10M(b *testing.B) {
	cs := bigCitizens()
	bigResidences()
	n := float64(len(cs))
	for b.Loop() {
		bigAPop = nil
		h0 := heapAlloc()
		t0 := time.Now()
		pop := buildAddressPopulation(b)
		el := time.Since(t0)
		h1 := heapAlloc()
		bigAPop = pop
		distinct := len(pop.cols[0].addrs)
		b.ReportMetric(n/el.Seconds(), "linkage-citizens/s")
		b.ReportMetric(float64(pop.SizeBytes())/n, "linkage-bytes/citizen")
		b.ReportMetric(float64(pop.ExtraSizeBytes())/n, "address-bytes/citizen")
		b.ReportMetric(float64(pop.SizeBytes()+pop.ExtraSizeBytes())/n, "linkage+address-bytes/citizen")
		b.ReportMetric(float64(h1-h0)/n, "linkage+address-heap-bytes/citizen")
		b.ReportMetric(n/float64(distinct), "citizens/address")
	}
}

// BenchmarkLinkAddress10M is BenchmarkLink10M with the address mapped:
// the same population and records, the records' address column compared
// with the registered residence.
func BenchmarkLinkAddress10M(b *testing.B) {
	if bigAPop == nil {
		bigAPop = buildAddressPopulation(b)
	}
	pop := bigAPop
	view := synthetic.NewPop(testSeed, pop.Len())
	o := synthetic.DefaultLegacyOptions()
	fields := []ExtraField{addressField}
	train, _ := legacyWith(view, 0, 5000, o, fields)
	recs, truth := legacyWith(view, 1_000_000, 100_000, o, fields)
	for b.Loop() {
		t0 := time.Now()
		l := Train(pop, train, DefaultConfig())
		tTrain := time.Since(t0)
		q, ds := evaluate(l, recs, truth)
		pairs := 0
		for _, d := range ds {
			pairs += d.Candidates
		}
		t2, cpu2 := time.Now(), cpuTime()
		l.LinkBatch(recs)
		tBatch, cpuBatch := time.Since(t2), cpuTime()-cpu2
		b.ReportMetric(tTrain.Seconds(), "train-s")
		b.ReportMetric(tBatch.Seconds(), "link-100k-s")
		if cpuBatch > 0 {
			b.ReportMetric(cpuBatch.Seconds(), "link-100k-cpu-s")
			b.ReportMetric(float64(pairs)/cpuBatch.Seconds(), "pairs/cpu-s")
		}
		b.ReportMetric(q.precision(), "precision")
		b.ReportMetric(q.recall(), "recall")
		b.ReportMetric(q.blockingRecall(), "blocking-recall")
		b.ReportMetric(float64(q.review)/float64(len(recs)), "review-share")
		ls := analyseLoss(l, recs, truth, ds)
		b.ReportMetric(float64(ls.ambiguous)/float64(max(ls.inRegister, 1)), "ambiguous-share")
		b.ReportMetric(1-float64(ls.notBlocked+ls.ambiguous)/float64(max(ls.inRegister, 1)), "attainable-recall")
		b.Log(ls)
		for _, c := range l.Model().Comparisons[nBase:] {
			b.Logf("%s: %+v", c.Field, c.Levels)
		}
	}
}

// BenchmarkComparePairsAddress is BenchmarkComparePairs with the address
// compared too.
func BenchmarkComparePairsAddress(b *testing.B) {
	_, view := testPopulation(b)
	pop := addressPopulation(b)
	fields := []ExtraField{addressField}
	train, _ := legacyWith(view, 0, 3000, synthetic.DefaultLegacyOptions(), fields)
	l := Train(pop, train, DefaultConfig())
	recs, _ := legacyWith(view, 60_000, 200, synthetic.DefaultLegacyOptions(), fields)
	benchPairs(b, l, recs)
}
