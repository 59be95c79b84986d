package runtime

import (
	"context"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/connectors"
)

// newQuality builds the data-quality scorecards and redrive
// (broker/quality) over the bus's store: it counts the pipeline's
// acknowledged batches (wired as the pipeline's observer), re-checks
// items after register changes (wired around the population index), and
// resubmits corrected records through the pipeline.
func (b *Bus) newQuality(qc config.Quality) (*quality.Quality, error) {
	return quality.New(quality.Config{Store: b.Store, Catalog: b.Catalog, CitizenKey: b.Audit.CitizenKey, Audit: b.Audit.Append,
		// Items found by citizen carry a personal number: the index says.
		Reconcile: func(cl pipeline.Claim) pipeline.Verdict {
			return verdict(identity.Reconcile(b.Index, idClaim(cl)))
		},
		Ingest: func(ctx context.Context, connector string, recs []connectors.Record) ([]pipeline.RecordResult, error) {
			return b.Pipe.Ingest(ctx, connector, recs)
		},
		ReflectWithin: qc.ReflectWithin,
		Metrics:       metrics.NewQuality(b.Metrics.Registry), Logger: b.log})
}
