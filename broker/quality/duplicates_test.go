package quality_test

import (
	"fmt"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/connectors"
)

// A duplicate is the same change of the same entity twice in one batch,
// counted per dataset: an entity key shared by two datasets is two
// entities, batches are counted each alone (a batch read again is not a
// duplicate of itself), and Batch keeps nothing of a batch for the next.
func TestDuplicatesInABatch(t *testing.T) {
	const deathDS = "civil_status.death_registration"
	type change struct{ dataset, key, name string }
	b1, b2, d1 := change{birthDS, "001/2024/1", "Lan"}, change{birthDS, "001/2024/2", "Lan"}, change{deathDS, "001/2024/1", "Lan"}
	tests := []struct {
		name    string
		batches [][]change
		want    map[string]int64 // duplicates by dataset
	}{
		{"the same change twice", [][]change{{b1, b1}}, map[string]int64{birthDS: 1}},
		{"three times", [][]change{{b1, b1, b2, b1}}, map[string]int64{birthDS: 2}},
		{"the same entity changed otherwise", [][]change{{b1, {birthDS, b1.key, "Mai"}}}, map[string]int64{birthDS: 0}},
		{"another entity", [][]change{{b1, b2}}, map[string]int64{birthDS: 0}},
		{"the same key in another dataset", [][]change{{b1, d1}}, map[string]int64{birthDS: 0, deathDS: 0}},
		{"datasets interleaved", [][]change{{b1, d1, d1, b2, b1}}, map[string]int64{birthDS: 1, deathDS: 1}},
		{"in two batches", [][]change{{b1, d1}, {b1, d1}, {b2}}, map[string]int64{birthDS: 0, deathDS: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			n := 0
			for _, batch := range tc.batches {
				recs := make([]connectors.Record, len(batch))
				results := make([]pipeline.RecordResult, len(batch))
				for i, c := range batch {
					n++
					recs[i] = connectors.Record{Dataset: c.dataset, Op: connectors.OpCreate, Position: connectors.Position(fmt.Sprint(n)),
						After: map[string]any{"registration_no": c.key, "child_name": c.name}}
					results[i] = pipeline.RecordResult{EventID: fmt.Sprint(n), Status: pipeline.StatusPublished, Identity: "verified", Key: c.key}
				}
				f.q.Batch("civil_status", recs, results)
			}
			if err := f.q.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			day := f.q.Day(now)
			sc, err := f.q.Scorecard(ctx, owner, quality.Query{FromDay: day, ToDay: day})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, d := range sc.Datasets {
				got[d.Dataset] = d.Counts.Duplicates
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("duplicates %v, want %v", got, tc.want)
			}
		})
	}
}
