package linkage

import (
	"math"
	"slices"
)

// probBins is the resolution of the tally of best-candidate probabilities
// (thresholds are read to 0.001).
const probBins = 1000

// probTally counts the records decided by linkage by the probability of
// their best candidate, so that the report can say what any threshold
// would give. right counts those whose best candidate is the ground truth's
// citizen (when a truth is given); inRegister the linkage records that the
// truth places in the register.
type probTally struct {
	records    int
	n, right   [probBins + 1]int
	sum        [probBins + 1]float64
	somebody   float64 // Σ over the records of P(the record is somebody)
	inRegister int
	truth      bool
}

func (t *probTally) add(p, somebody float64, right, inRegister bool) {
	t.records++
	t.somebody += somebody
	b := min(max(int(math.Floor(p*probBins+1e-9)), 0), probBins)
	t.n[b]++
	t.sum[b] += p
	if right {
		t.right[b]++
	}
	if inRegister {
		t.inRegister++
	}
}

// ThresholdRow is what linking at probability ≥ Probability would give on
// the records decided by linkage: how many, and the precision and recall
// the model expects (the mean probability of those linked; their summed
// probability over the expected number of these records that are in the
// register, the sum of each record's probability of being one of its
// candidates), and with a ground truth the measured ones. A person whom
// no blocking rule proposes is not seen by the model: the expected recall
// is of the people the blocking finds (the report's blocking table gives
// each rule's share).
//
// The expected matches were once the model's match rate times the
// records; but the rate is estimated on the whole training sample, records
// with a number the register holds included (nearly all of them are in
// it), while the records left to linkage are the others, outsiders
// with a made-up number among them: the rate overstated them and the
// expected recall ran low (0.97 against 0.99 measured).
type ThresholdRow struct {
	Probability       float64  `json:"probability"`
	Linked            int      `json:"linked"`
	ExpectedPrecision float64  `json:"expected_precision"`
	ExpectedRecall    float64  `json:"expected_recall"`
	Precision         *float64 `json:"precision,omitempty"`
	Recall            *float64 `json:"recall,omitempty"`
}

// sweepThresholds are the probabilities every report lists, besides the
// run's own link and review thresholds.
var sweepThresholds = []float64{0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999}

// rows is the threshold table at the sweep and the given thresholds.
// matchRate is the model's estimated share of records in the register.
func (t *probTally) rows(matchRate float64, extra ...float64) []ThresholdRow {
	ts := append(slices.Clone(sweepThresholds), extra...)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	expectedMatches := t.somebody
	if expectedMatches == 0 {
		expectedMatches = matchRate * float64(t.records)
	}
	var out []ThresholdRow
	for _, th := range ts {
		lo := min(max(int(math.Ceil(th*probBins-1e-9)), 0), probBins)
		n, right := 0, 0
		sum := 0.0
		for b := lo; b <= probBins; b++ {
			n += t.n[b]
			right += t.right[b]
			sum += t.sum[b]
		}
		row := ThresholdRow{Probability: th, Linked: n}
		if n > 0 {
			row.ExpectedPrecision = round4(sum / float64(n))
		}
		if expectedMatches > 0 {
			row.ExpectedRecall = round4(math.Min(sum/expectedMatches, 1))
		}
		if t.truth {
			p := round4(float64(right) / float64(max(n, 1)))
			r := round4(float64(right) / float64(max(t.inRegister, 1)))
			row.Precision, row.Recall = &p, &r
		}
		out = append(out, row)
	}
	return out
}
