package linkage

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/synthetic"
)

// withRepeatsExtra is withRepeats with the extra fields filled from the
// generated records (see legacyWith).
func withRepeatsExtra(view *synthetic.Pop, from, n, repeats int, o synthetic.LegacyOptions, fields []ExtraField) ([]Record, []synthetic.LegacyRecord) {
	recs, truth := withRepeats(view, from, n, repeats, o)
	for k := range recs {
		recs[k].Extra = make([]string, len(fields))
		for j, f := range fields {
			recs[k].Extra[j] = recordColumn(truth[k], f.Column)
		}
	}
	return recs, truth
}

// BenchmarkLinkRepeats10M: a transactional file, 100,000 records and
// 12,500 more (12.5 %) repeating a person already in it with errors of
// their own, linked with the default settings and cardinality many_to_one
// (and one_to_one for comparison), without and with the address mapped.
// Run at 1M with LGSP_BENCH_CITIZENS=1000000 (see BENCHMARKS.md);
// LGSP_BENCH_MANY_ONLY=1 leaves out the one_to_one runs;
// LGSP_BENCH_NO_ADDRESS=1 the runs with the address; LGSP_BENCH_LOSSES=FILE
// writes every in-register record not linked to its citizen (outcome, the
// record's errors, the explanations of the decision and of the true
// citizen) as NDJSON, to see where recall goes.
func BenchmarkLinkRepeats10M(b *testing.B) {
	_, base := bigSetup(b)
	if bigAPop == nil {
		bigAPop = buildAddressPopulation(b)
	}
	view := synthetic.NewPop(testSeed, base.Len())
	o := synthetic.DefaultLegacyOptions()
	for b.Loop() {
		for _, v := range []struct {
			name   string
			pop    *Population
			fields []ExtraField
		}{{"none", base, nil}, {"address", bigAPop, []ExtraField{addressField}}} {
			if v.fields != nil && os.Getenv("LGSP_BENCH_NO_ADDRESS") != "" {
				continue
			}
			train, _ := withRepeatsExtra(view, 0, 5000, 625, o, v.fields)
			recs, truth := withRepeatsExtra(view, 1_000_000, 100_000, 12_500, o, v.fields)
			l := Train(v.pop, train, DefaultConfig())
			cards := []Cardinality{ManyToOne, OneToOne}
			if os.Getenv("LGSP_BENCH_MANY_ONLY") != "" {
				cards = cards[:1] // the comparison with one_to_one is the slow half
			}
			for _, card := range cards {
				cfg := l.Config()
				cfg.Cardinality = card
				lc, err := NewLinker(v.pop, l.Model(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				t0, cpu0 := time.Now(), cpuTime()
				q, ds := evaluate(lc, recs, truth)
				wall, cpu := time.Since(t0), cpuTime()-cpu0
				ls := analyseLoss(lc, recs, truth, ds)
				b.Log(ls)
				t, p, r := bestThreshold(ds, truth, 0.995)
				b.Logf("best link threshold with precision >= 0.995: %.3f (precision %.4f recall %.4f)", t, p, r)
				if f := os.Getenv("LGSP_BENCH_LOSSES"); f != "" && card == ManyToOne {
					if err := dumpLosses(fmt.Sprintf("%s.%s", f, v.name), lc, recs, truth, ds); err != nil {
						b.Fatal(err)
					}
				}
				b.Logf("%s %s: %d records (%d repeats): precision %.4f recall %.4f blocking recall %.4f review %.4f (right %.2f); attainable %.4f; %.1f s wall, %.1f CPU-s (incl. the blocking-recall pass)",
					v.name, card, len(recs), len(recs)-100_000, q.precision(), q.recall(), q.blockingRecall(),
					float64(q.review)/float64(len(recs)), float64(q.reviewRight)/float64(max(q.review, 1)),
					1-float64(ls.notBlocked+ls.ambiguous)/float64(max(ls.inRegister, 1)), wall.Seconds(), cpu.Seconds())
				if card == ManyToOne {
					b.ReportMetric(q.precision(), v.name+"-precision")
					b.ReportMetric(q.recall(), v.name+"-recall")
				}
			}
		}
	}
}

// dumpLosses writes the in-register records not linked to their citizen,
// with the decision's explanation and the true citizen's, one JSON object
// a line.
func dumpLosses(path string, l *Linker, recs []Record, truth []synthetic.LegacyRecord, ds []Decision) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for k, d := range ds {
		tr := truth[k].Truth
		if tr == "" || (d.Outcome == "linked" && d.PersonalID == tr) {
			continue
		}
		r := l.prepare(recs[k])
		cands, _ := l.candidates(&r, nil)
		var te *Explanation
		for _, i := range cands {
			if l.pop.personalID(i) == tr {
				var c side
				l.pop.sideOf(i, &c)
				_, te = l.score(&r, &c, i, true)
				break
			}
		}
		if err := enc.Encode(map[string]any{"k": k, "record": recs[k], "errors": truth[k].Errors, "decision": d, "truth": tr, "truth_explanation": te}); err != nil {
			return err
		}
	}
	return f.Close()
}

// bestThreshold is the link threshold with the highest recall at a
// precision of at least minPrecision, when each record's best candidate
// is linked at that threshold, read off the decisions with the truth: the
// most a threshold on the model's probability can reach.
func bestThreshold(ds []Decision, truth []synthetic.LegacyRecord, minPrecision float64) (th, precision, recall float64) {
	type dec struct {
		p     float64
		right bool
	}
	var all []dec
	in := 0
	for k, d := range ds {
		if truth[k].Truth != "" {
			in++
		}
		if d.PersonalID != "" {
			all = append(all, dec{d.Probability, d.PersonalID == truth[k].Truth})
		}
	}
	slices.SortFunc(all, func(a, b dec) int { return cmp.Compare(b.p, a.p) })
	right := 0
	for j, d := range all {
		if d.right {
			right++
		}
		if j+1 < len(all) && all[j+1].p == d.p {
			continue // a threshold links all of a tie or none
		}
		if p := float64(right) / float64(j+1); p >= minPrecision {
			if r := float64(right) / float64(max(in, 1)); r > recall {
				th, precision, recall = d.p, p, r
			}
		}
	}
	return th, precision, recall
}
