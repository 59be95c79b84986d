package linkage

import (
	"bytes"
	"context"
	"math"
	"testing"
)

// Regression: the expected recall of the threshold table ran low (0.968
// against 0.993 measured on reportWorld) because the expected matches
// were the match rate of the whole training sample, records with a known
// number included, applied to the records left to linkage, which hold
// the outsiders with made-up numbers. Measured against each record's own
// probability of being somebody, it is within a point of the truth,
// above it by no more than the people the blocking misses.
func TestExpectedRecallCalibrated(t *testing.T) {
	idx, l, in, truth := reportWorld(t)
	var out bytes.Buffer
	sum, err := Reconcile(context.Background(), idx, l, bytes.NewReader(in), &out, BulkOptions{Format: CSV, Truth: truth})
	if err != nil {
		t.Fatal(err)
	}
	rows := sum.probs.rows(sum.Model.MatchRate, 0.9)
	for _, r := range rows {
		t.Logf("≥ %v: expected precision %.4f recall %.4f, measured %.4f / %.4f", r.Probability, r.ExpectedPrecision, r.ExpectedRecall, *r.Precision, *r.Recall)
		if math.Abs(r.ExpectedRecall-*r.Recall) > 0.015 {
			t.Errorf("threshold %v: expected recall %.4f, measured %.4f", r.Probability, r.ExpectedRecall, *r.Recall)
		}
		if r.ExpectedRecall < *r.Recall-0.005 {
			t.Errorf("threshold %v: expected recall %.4f below the measured %.4f", r.Probability, r.ExpectedRecall, *r.Recall)
		}
	}
}
