package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/streamlink"
)

// reconciler is the pipeline's identity stage. A record's personal number
// is checked against the index, as before, at the same cost. A record
// whose number is missing or invalid but that names a person and a date
// of birth is linked probabilistically: linked (with the fields that differ
// from the linked citizen), review (queued for a clerk by the pipeline), or
// unmatched; a record with an invalid number that links to nobody keeps
// invalid_id, which says more.
//
// A linked record carries its citizen as citizenKey of the number (the
// audit log's HMAC), so its deliveries and lookups are audited under, and
// found by, that citizen.
func reconciler(idx *identity.Index, lk *streamlink.Linker, citizenKey func(string) string) pipeline.Reconciler {
	return func(cl pipeline.Claim) pipeline.Verdict {
		r := identity.Reconcile(idx, idClaim(cl))
		if (r.Outcome != identity.Unmatched && r.Outcome != identity.InvalidID) || lk == nil ||
			strings.TrimSpace(cl.Name) == "" || strings.TrimSpace(cl.DOB) == "" {
			return verdict(r)
		}
		// the dataset's thresholds and blocking rules (catalog linkage:)
		d := lk.LinkDataset(cl.Dataset, linkage.Record{Name: cl.Name, DOB: cl.DOB, Sex: cl.Sex})
		idFields := verdict(r).Fields // which part of an invalid number is wrong
		switch d.Outcome {
		case identity.Linked:
			// the fields in which the record differs from the citizen it is linked to
			held := identity.Reconcile(idx, identity.Claim{ID: d.PersonalID, Name: cl.Name, DOB: cl.DOB, Sex: cl.Sex})
			return pipeline.Verdict{Outcome: string(identity.Linked), Fields: joinFields(idFields, verdict(held).Fields), Citizen: citizenKey(d.PersonalID)}
		case identity.Review:
			return pipeline.Verdict{Outcome: string(identity.Review), Fields: idFields, Candidate: d}
		}
		if r.Outcome == identity.InvalidID {
			return verdict(r)
		}
		return pipeline.Verdict{Outcome: string(identity.Unmatched)}
	}
}

// idClaim is the identity a pipeline claim makes.
func idClaim(cl pipeline.Claim) identity.Claim {
	return identity.Claim{ID: cl.ID, Name: cl.Name, DOB: cl.DOB, Sex: cl.Sex}
}

func joinFields(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "," + b
}

// queueReviews is the pipeline's Config.Review: each record goes into the
// review queue under its dataset and event id, so a batch re-read after a
// crash finds its items already there.
func queueReviews(q linkage.ReviewQueue) func(ctx context.Context, reqs []pipeline.ReviewRequest) error {
	return func(ctx context.Context, reqs []pipeline.ReviewRequest) error {
		items := make([]linkage.ReviewItem, 0, len(reqs))
		for _, rq := range reqs {
			d, ok := rq.Candidate.(linkage.Decision)
			if !ok {
				return fmt.Errorf("review request for %s: candidate is a %T, not a linkage decision", rq.EventID, rq.Candidate)
			}
			items = append(items, linkage.ReviewItem{Source: rq.Dataset, RecordID: rq.EventID, PersonalID: d.PersonalID,
				Score: d.Score, Probability: d.Probability, Explanation: d.Explanation,
				Reason: "record " + rq.Key + " from " + rq.Connector + ": " + d.Reason})
		}
		_, err := q.Add(ctx, items...)
		return err
	}
}
