package pipeline_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// kafkaLimit is Kafka's default largest message (message.max.bytes).
const kafkaLimit = 1 << 20

func size(m kafka.Message) int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Each hostile record is dead-lettered with its kind and path, and the
// valid records around it are published in the same batch.
func TestHostileRecordsAreDeadLetteredAndOthersFlow(t *testing.T) {
	withBefore := func(r connectors.Record, op connectors.Op, before, after map[string]any) connectors.Record {
		r.Op, r.Before, r.After = op, before, after
		return r
	}
	row := birth(0, "Lan").After
	other := birth(1, "Lan").After
	hugeKey := birth(2, "Lan")
	hugeKey.After["registration_no"] = strings.Repeat("9", 1<<20)
	tests := []struct {
		name       string
		rec        connectors.Record
		kind, path string
		msg        string
	}{
		{"create with only before", withBefore(birth(3, "Lan"), connectors.OpCreate, row, nil), contract.KindMalformed, "$.after", "needs after"},
		{"create with before and after", withBefore(birth(3, "Lan"), connectors.OpCreate, row, row), contract.KindMalformed, "$.before", "after only"},
		{"snapshot read with before", withBefore(birth(3, "Lan"), connectors.OpRead, row, row), contract.KindMalformed, "$.before", "after only"},
		{"delete with after", withBefore(birth(3, "Lan"), connectors.OpDelete, row, row), contract.KindMalformed, "$.after", "before only"},
		{"delete without before", withBefore(birth(3, "Lan"), connectors.OpDelete, nil, row), contract.KindMalformed, "$.before", "needs before"},
		{"update without after", withBefore(birth(3, "Lan"), connectors.OpUpdate, row, nil), contract.KindMalformed, "$.after", "needs after"},
		{"update whose keys differ", withBefore(birth(3, "Lan"), connectors.OpUpdate, row, other), contract.KindMalformed, "$.before", "different entities"},
		{"1 MB key", hugeKey, contract.KindTooLarge, "$.registration_no", "key limit"},
		{"unknown op", withBefore(birth(3, "Lan"), "x", nil, row), contract.KindMalformed, "$.op", "not one of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, prod := newPipeline(t, nil)
			recs := []connectors.Record{birth(10, "Lan"), tc.rec, birth(11, "Mai")}
			recs[1].Position = connectors.Position("pos-bad")
			res, err := p.Ingest(t.Context(), "civil_status", recs)
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Status != pipeline.StatusPublished || res[2].Status != pipeline.StatusPublished {
				t.Fatalf("valid neighbours not published: %+v / %+v", res[0], res[2])
			}
			got := res[1]
			if got.Status != pipeline.StatusDeadLettered || got.Kind != tc.kind || got.Path != tc.path || !strings.Contains(got.Error, tc.msg) {
				t.Fatalf("got %+v, want dead letter %s at %s mentioning %q", got, tc.kind, tc.path, tc.msg)
			}
			var dl *kafka.Message
			for i := range prod.msgs {
				if prod.msgs[i].Topic == contract.DeadLetterTopic("civil_status") {
					dl = &prod.msgs[i]
				}
				if n := size(prod.msgs[i]); n >= kafkaLimit {
					t.Errorf("message to %s is %d bytes, over Kafka's limit", prod.msgs[i].Topic, n)
				}
			}
			if dl == nil {
				t.Fatal("no dead letter produced")
			}
			if envelope.HeaderValue(dl.Headers, contract.HeaderErrorKind) != tc.kind {
				t.Errorf("dead-letter kind header %q", envelope.HeaderValue(dl.Headers, contract.HeaderErrorKind))
			}
		})
	}
}

// A dead letter of a record too large to copy holds a truncated copy, says
// so, and carries the digest of the whole record so its owner can find it.
func TestDeadLetterOfHugeRecordIsTruncatedWithDigest(t *testing.T) {
	p, prod := newPipeline(t, nil)
	r := birth(0, "Lan")
	r.After["child_name"] = strings.Repeat("ă", 600<<10) // 1.2 MB of text
	res, err := p.Ingest(t.Context(), "civil_status", []connectors.Record{r, birth(1, "Mai")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Kind != contract.KindTooLarge || res[1].Status != pipeline.StatusPublished {
		t.Fatalf("results %+v", res)
	}
	for _, m := range prod.msgs {
		if m.Topic != contract.DeadLetterTopic("civil_status") {
			continue
		}
		if size(m) >= kafkaLimit {
			t.Fatalf("dead letter is %d bytes", size(m))
		}
		if envelope.HeaderValue(m.Headers, contract.HeaderTruncated) != "true" {
			t.Error("truncated dead letter does not say so")
		}
		d := envelope.HeaderValue(m.Headers, contract.HeaderDigest)
		if !strings.HasPrefix(d, "sha256:") || len(d) != len("sha256:")+64 {
			t.Errorf("digest header %q", d)
		}
		if sum := sha256.Sum256(m.Value); d == "sha256:"+hex.EncodeToString(sum[:]) {
			t.Error("digest is of the truncated copy, not of the whole record")
		}
		return
	}
	t.Fatal("no dead letter")
}

// A stage that panics on a record (here the reconciler; in the field,
// gojsonschema on an unrepresentable number) dead-letters that record as
// internal; the batch and the process go on.
func TestPanickingStageDeadLettersTheRecord(t *testing.T) {
	cat, err := schemas.Load()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := cat.Dataset("civil_status.birth_registration")
	prod := &producer{}
	p, err := pipeline.New(pipeline.Config{Datasets: []pipeline.DatasetSchema{{Dataset: d, SchemaID: 7}},
		Reconcile: func(c pipeline.Claim) pipeline.Verdict {
			if c.Name == "Boom" {
				panic(errors.New("stage fault at 0xc000123456")) // as a buggy stage would raise
			}
			return pipeline.Verdict{Outcome: "verified"}
		}}, prod)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Ingest(t.Context(), "civil_status", []connectors.Record{birth(0, "Lan"), birth(1, "Boom"), birth(2, "Mai")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != pipeline.StatusPublished || res[2].Status != pipeline.StatusPublished {
		t.Fatalf("neighbours: %+v %+v", res[0], res[2])
	}
	if res[1].Status != pipeline.StatusDeadLettered || res[1].Kind != contract.KindInternal || strings.Contains(res[1].Error, "nil map") {
		t.Fatalf("panicking record: %+v (internal text must not reach the source)", res[1])
	}
}
