package bench

import (
	"context"
	"testing"
)

// BenchmarkPipeline pushes b.N records through validate → reconcile → publish
// on the embedded broker and the same payloads through a bare producer, and
// reports both rates and their ratio. Run: go test -run '^$' -bench Pipeline -benchtime 100000x ./broker/bench
func BenchmarkPipeline(b *testing.B) {
	for _, ds := range []string{"land.land_use_right", "tax.taxpayer"} {
		b.Run(ds, func(b *testing.B) {
			n := max(b.N, 1000)
			res, err := Run(context.Background(), Options{Records: n, Runs: 1, Population: 20_000, Dataset: ds})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(res.PipelineRate, "pipeline_rec/s")
			b.ReportMetric(res.BareRate, "bare_rec/s")
			b.ReportMetric(res.Ratio, "ratio")
		})
	}
}
