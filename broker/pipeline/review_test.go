package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// producer is an in-process Kafka writer: it keeps the messages and
// acknowledges them at once, as the async writer's completion would.
type producer struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (p *producer) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, msgs...)
	p.mu.Unlock()
	pipeline.Completion(msgs, nil)
	return nil
}

func birth(i int, name string) connectors.Record {
	return connectors.Record{Dataset: "civil_status.birth_registration", Op: connectors.OpCreate, Position: connectors.Position(fmt.Sprintf("pos-%d", i)),
		After: map[string]any{"registration_no": fmt.Sprintf("001/2024/%d", i), "child_cccd": "001224012345", "child_name": name, "child_dob": "2024-05-01",
			"child_sex": "F", "birth_province": "001", "mother_cccd": nil, "mother_name": "Trần Thị Mai", "father_name": nil, "registered_on": "2024-05-02"}}
}

func newPipeline(t *testing.T, review func(context.Context, []pipeline.ReviewRequest) error) (*pipeline.Pipeline, *producer) {
	t.Helper()
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	d, ok := cat.Dataset("civil_status.birth_registration")
	if !ok {
		t.Fatal("no birth registration dataset")
	}
	// The reconciler asks for review of every child named "Doubtful".
	reconcile := func(c pipeline.Claim) pipeline.Verdict {
		if c.Name == "Doubtful" {
			return pipeline.Verdict{Outcome: pipeline.OutcomeReview, Candidate: "candidate of " + c.Name}
		}
		return pipeline.Verdict{Outcome: "verified"}
	}
	prod := &producer{}
	p, err := pipeline.New(pipeline.Config{Datasets: []pipeline.DatasetSchema{{Dataset: d, SchemaID: 7}}, Reconcile: reconcile, Review: review}, prod)
	if err != nil {
		t.Fatal(err)
	}
	return p, prod
}

// Records whose outcome is review are handed to Config.Review, with their
// place, before anything of the batch goes to Kafka; if that fails the
// batch fails and nothing is published.
func TestReviewBeforePublish(t *testing.T) {
	var got []pipeline.ReviewRequest
	fail := false
	p, prod := newPipeline(t, func(ctx context.Context, reqs []pipeline.ReviewRequest) error {
		if fail {
			return errors.New("store down")
		}
		got = append(got, reqs...)
		return nil
	})
	recs := []connectors.Record{birth(0, "Lan"), birth(1, "Doubtful"), birth(2, "Mai"), birth(3, "Doubtful")}
	res, err := p.Ingest(t.Context(), "civil_status", recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(prod.msgs) != 4 {
		t.Fatalf("%d review requests, %d messages; want 2 and 4", len(got), len(prod.msgs))
	}
	for k, i := range []int{1, 3} {
		want := pipeline.ReviewRequest{Connector: "civil_status", Dataset: "civil_status.birth_registration", Key: fmt.Sprintf("001/2024/%d", i),
			EventID: res[i].EventID, Candidate: "candidate of Doubtful"}
		if got[k] != want || res[i].Identity != "review" || res[i].Status != pipeline.StatusPublished {
			t.Errorf("record %d: request %+v, result %+v; want %+v", i, got[k], res[i], want)
		}
		if h := envelope.HeaderValue(prod.msgs[i].Headers, contract.HeaderIdentity); h != "review" {
			t.Errorf("record %d: ce_identity %q", i, h)
		}
	}

	fail = true
	if _, err := p.Submit(t.Context(), "civil_status", recs); err == nil {
		t.Fatal("a batch whose review items could not be queued was accepted")
	}
	if len(prod.msgs) != 4 {
		t.Errorf("%d messages queued after the failed batch, want none more", len(prod.msgs)-4)
	}
	// A batch without review outcomes does not need the queue.
	if res, err := p.Ingest(t.Context(), "civil_status", []connectors.Record{birth(4, "Lan")}); err != nil || res[0].Identity != "verified" {
		t.Errorf("batch without review: %+v %v", res, err)
	}
}

// Without Config.Review, review outcomes are published as they are.
func TestReviewWithoutQueue(t *testing.T) {
	p, prod := newPipeline(t, nil)
	res, err := p.Ingest(t.Context(), "civil_status", []connectors.Record{birth(0, "Doubtful")})
	if err != nil || res[0].Identity != "review" || len(prod.msgs) != 1 {
		t.Fatalf("%+v %v, %d messages", res, err, len(prod.msgs))
	}
}
