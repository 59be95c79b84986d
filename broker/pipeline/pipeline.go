// Package pipeline owns the ingest path of the bus: a batch of connector
// records is validated against its dataset's registered schema, the person
// in it reconciled against the population index, wrapped in the change
// envelope and published to the canonical topic; a record that fails goes to
// the source's dead-letter topic with the reason and never blocks the others.
// A batch is acknowledged only when Kafka has acknowledged every message
// made from it.
package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/validate"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// Claim is the person a row names, read through the dataset's identity
// mapping, and the dataset's name (whose linkage settings apply).
type Claim struct{ ID, Name, DOB, Sex, Dataset string }

// Verdict is the reconciliation outcome carried on the record.
type Verdict struct {
	Outcome string // verified, mismatch, not_found, invalid_id, deceased, linked, review, unmatched
	Fields  string // for a mismatch: "name:spelling,dob:different"
	// Citizen is, for a record linked to a citizen it does not name by
	// number, the audit log's keyed HMAC of that citizen's number (never
	// the number): it travels in the ce_citizen header.
	Citizen string
	// Candidate is, for the "review" outcome, the reconciler's proposed
	// link that a person must confirm. The pipeline does not look inside:
	// it hands it to Config.Review with the record's place.
	Candidate any
}

// OutcomeReview is the outcome whose records are queued for a person.
const OutcomeReview = string(contract.Review)

// ReviewRequest is a published record whose identity a person must
// confirm.
type ReviewRequest struct {
	Connector, Dataset string
	Key                string // the entity key (ce_subject)
	EventID            string // ce_id: deterministic, so a re-read record asks again under the same id
	Candidate          any    // Verdict.Candidate
}

// Reconciler decides the identity outcome of a claim. It must be safe for
// concurrent use and must not block.
type Reconciler func(Claim) Verdict

// Producer is the async Kafka writer the pipeline feeds; kafka-go's Writer
// with Async set satisfies it. Completion of each message is reported through
// the function given to New (wired as the writer's Completion callback).
type Producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// DatasetSchema is what the pipeline needs to know about a dataset's
// registered envelope schema.
type DatasetSchema struct {
	Dataset  schemas.Dataset
	SchemaID int         // registry id of the envelope schema, written in the wire-format prefix
	Envelope avro.Schema // parsed envelope schema (Avro datasets only)
}

// Observer receives counts for metrics; all methods must be cheap.
type Observer interface {
	Ingested(dataset string, n int)
	Published(dataset string, n int)
	DeadLettered(source, dataset, kind string)
	Reconciled(outcome string, n int)
	Latency(d time.Duration)
}

// BatchObserver, when the Observer implements it too, sees each batch once
// Kafka has acknowledged all of it, record by record (broker/quality keeps
// the data-quality scorecards from it). It runs on the Kafka writer's
// completion path, so it must be quick, and it must not keep recs or
// results after it returns.
type BatchObserver interface {
	Batch(connector string, recs []connectors.Record, results []RecordResult)
}

// Config wires a pipeline.
type Config struct {
	Datasets  []DatasetSchema
	Reconcile Reconciler
	Observer  Observer
	// MaxRecord bounds a canonical message: key, value and headers
	// together; a larger record is dead-lettered as too_large (default
	// 256 KiB).
	MaxRecord int
	// Logger receives operator logs (a record the pipeline failed on);
	// nil: discarded. They never hold row values.
	Logger     *slog.Logger
	Now        func() time.Time
	FeedbackOn map[string]bool // outcomes that also send feedback to the source (default: all but verified)
	// Review durably queues the records of a batch whose outcome is
	// "review" before any message of the batch is queued for Kafka; an
	// error fails the batch, which is then retried from its source, so
	// Review must accept a request again (same EventID) without doubling
	// it. Nil: such records are published without being queued.
	Review func(ctx context.Context, reqs []ReviewRequest) error
}

// Status of one record after ingest.
type Status string

const (
	StatusPublished    Status = "published"
	StatusDeadLettered Status = "dead_lettered"
)

// RecordResult tells what became of one record.
type RecordResult struct {
	EventID  string `json:"event_id"`
	Status   Status `json:"status"`
	Topic    string `json:"topic"`
	Identity string `json:"identity,omitempty"`
	Error    string `json:"error,omitempty"`
	Path     string `json:"path,omitempty"`
	Kind     string `json:"kind,omitempty"`
	// IdentityFields are, for a mismatch, the fields that disagree with
	// the register ("name:spelling,dob:different").
	IdentityFields string `json:"identity_fields,omitempty"`
	// Key is the record's entity key as published (the Kafka key), for
	// observers that count per entity; not part of the answer.
	Key string `json:"-"`
	// Before and After are the record's rows as the pipeline encoded them
	// in JSON (JSON datasets, when it got that far; nil otherwise), so an
	// observer keeping the record as received does not encode it again;
	// not part of the answer.
	Before, After []byte `json:"-"`

	review *ReviewRequest // for Config.Review, when the outcome is "review"
}

// Pipeline turns connector records into Kafka messages.
type Pipeline struct {
	cfg      Config
	datasets map[string]*datasetState
	producer Producer
}

type datasetState struct {
	DatasetSchema
	json    *validate.JSON
	avro    *validate.Avro
	prefix  []byte
	ctype   string
	topic   string
	rowName string   // Avro row full name, the union branch of before/after
	keys    []string // JSON datasets: the schema's properties, sorted (the order json.Marshal writes)
}

// New builds a pipeline writing through producer.
func New(cfg Config, producer Producer) (*Pipeline, error) {
	if cfg.MaxRecord == 0 {
		cfg.MaxRecord = 256 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reconcile == nil {
		return nil, errors.New("pipeline: Config.Reconcile is required")
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FeedbackOn == nil {
		cfg.FeedbackOn = map[string]bool{string(contract.Mismatch): true, string(contract.NotFound): true, string(contract.InvalidID): true, string(contract.Deceased): true}
	}
	p := &Pipeline{cfg: cfg, datasets: map[string]*datasetState{}, producer: producer}
	for _, d := range cfg.Datasets {
		st := &datasetState{DatasetSchema: d, prefix: contract.AppendWire(nil, d.SchemaID), topic: d.Dataset.Topic()}
		var err error
		switch d.Dataset.Format {
		case schemas.FormatJSON:
			st.json, err = validate.NewJSON(d.Dataset.Schema)
			st.ctype = contract.ContentTypeConfluentJSON
			st.keys = schemaProperties(d.Dataset.Schema)
		case schemas.FormatAvro:
			st.avro, err = validate.NewAvro(d.Dataset.Schema)
			st.ctype = contract.ContentTypeConfluentAvro
			if err == nil {
				st.rowName = st.avro.Schema().(avro.NamedSchema).FullName()
			}
			if d.Envelope == nil {
				err = errors.New("no parsed envelope schema")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("pipeline: dataset %s: %w", d.Dataset.Name, err)
		}
		p.datasets[d.Dataset.Name] = st
	}
	return p, nil
}

// Ticket is a submitted batch; Wait returns when Kafka acknowledged all of it.
type Ticket struct {
	results   []RecordResult
	remaining atomic.Int64
	done      chan struct{}
	mu        sync.Mutex // guards err: completions of different Kafka batches run concurrently
	err       error
	start     time.Time
	obs       Observer
	published map[string]int
	connector string              // for a BatchObserver
	recs      []connectors.Record // for a BatchObserver
}

// Wait blocks until every message of the batch is acknowledged by Kafka or
// failed. A non-nil error means the batch must not be acknowledged to the
// source: it will be re-read and re-sent (at-least-once).
func (t *Ticket) Wait(ctx context.Context) ([]RecordResult, error) {
	select {
	case <-t.done:
		t.mu.Lock()
		defer t.mu.Unlock()
		return t.results, t.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *Ticket) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
}

func (t *Ticket) finish(n int) {
	if t.remaining.Add(int64(-n)) == 0 {
		t.mu.Lock()
		failed := t.err != nil
		t.mu.Unlock()
		if !failed {
			for ds, n := range t.published {
				t.obs.Published(ds, n)
			}
			t.obs.Latency(time.Since(t.start))
			if bo, ok := t.obs.(BatchObserver); ok {
				bo.Batch(t.connector, t.recs, t.results)
			}
		}
		close(t.done)
	}
}

// Completion is the Kafka writer's completion callback; wire it as the
// writer's Completion so tickets learn when their messages are durable.
func Completion(messages []kafka.Message, err error) {
	// Count per ticket first: a batch holds messages of several tickets.
	counts := make(map[*Ticket]int, 2)
	for _, m := range messages {
		if t, ok := m.WriterData.(*Ticket); ok {
			counts[t]++
			if err != nil {
				t.fail(fmt.Errorf("pipeline: Kafka did not acknowledge %s (will be retried from the last acknowledged position): %w", m.Topic, err))
			}
		}
	}
	for t, n := range counts {
		t.finish(n)
	}
}

// Ingest is Submit followed by Wait.
func (p *Pipeline) Ingest(ctx context.Context, connector string, recs []connectors.Record) ([]RecordResult, error) {
	t, err := p.Submit(ctx, connector, recs)
	if err != nil {
		return nil, err
	}
	return t.Wait(ctx)
}

// Submit validates, reconciles and encodes recs from connector and queues
// the resulting messages, in order, on the producer. Callers that need
// per-source order must call Submit for one source from one goroutine.
func (p *Pipeline) Submit(ctx context.Context, connector string, recs []connectors.Record) (*Ticket, error) {
	t := &Ticket{results: make([]RecordResult, len(recs)), done: make(chan struct{}), start: time.Now(), obs: p.cfg.Observer, published: map[string]int{}}
	t.connector, t.recs = connector, recs
	now := p.cfg.Now()
	type processed struct {
		msg   kafka.Message
		extra *kafka.Message
	}
	out := make([]processed, len(recs))
	// Records are independent until they are queued, so a large batch is
	// processed on every core; the messages are then queued in record order.
	workers := min(goruntime.GOMAXPROCS(0), 1+len(recs)/64)
	var wg sync.WaitGroup
	chunk := (len(recs) + workers - 1) / workers
	for lo := 0; lo < len(recs); lo += chunk {
		hi := min(lo+chunk, len(recs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i].msg, out[i].extra, t.results[i] = p.processSafe(connector, &recs[i], now)
			}
		}()
	}
	wg.Wait()
	if p.cfg.Review != nil {
		var reqs []ReviewRequest
		for i := range t.results {
			if rq := t.results[i].review; rq != nil {
				reqs = append(reqs, *rq)
				t.results[i].review = nil
			}
		}
		if len(reqs) > 0 {
			if err := p.cfg.Review(ctx, reqs); err != nil {
				return nil, fmt.Errorf("pipeline: queue %d records for identity review (nothing of the batch was published; it will be retried): %w", len(reqs), err)
			}
		}
	}
	msgs := make([]kafka.Message, 0, len(recs)+len(recs)/8)
	ingested := map[string]int{}
	outcomes := map[string]int{}
	for i := range out {
		ingested[recs[i].Dataset]++
		if id := t.results[i].Identity; id != "" {
			outcomes[id]++
		}
		out[i].msg.WriterData = t
		msgs = append(msgs, out[i].msg)
		if t.results[i].Status == StatusPublished {
			t.published[recs[i].Dataset]++
		}
		if out[i].extra != nil {
			out[i].extra.WriterData = t
			msgs = append(msgs, *out[i].extra)
		}
	}
	for ds, n := range ingested {
		p.cfg.Observer.Ingested(ds, n)
	}
	for o, n := range outcomes {
		p.cfg.Observer.Reconciled(o, n)
	}
	if len(msgs) == 0 {
		close(t.done)
		return t, nil
	}
	t.remaining.Store(int64(len(msgs)))
	if err := p.producer.WriteMessages(ctx, msgs...); err != nil {
		return nil, fmt.Errorf("pipeline: queue %d messages: %w", len(msgs), err)
	}
	return t, nil
}

type sourceBlock struct {
	Connector string `json:"connector"`
	Dataset   string `json:"dataset"`
	Position  string `json:"position"`
	TsMs      int64  `json:"ts_ms"`
}

// appendJSON appends json.Marshal(s)'s bytes: by hand when the names need
// no escaping (connector and dataset names are identifiers, the position
// hex), else through json.Marshal.
func (s sourceBlock) appendJSON(buf []byte) []byte {
	start := len(buf)
	buf = append(buf, `{"connector":`...)
	buf, ok1 := envelope.AppendString(buf, s.Connector)
	buf = append(buf, `,"dataset":`...)
	buf, ok2 := envelope.AppendString(buf, s.Dataset)
	buf = append(buf, `,"position":`...)
	buf, ok3 := envelope.AppendString(buf, s.Position)
	if !ok1 || !ok2 || !ok3 {
		b, _ := json.Marshal(s)
		return append(buf[:start], b...)
	}
	buf = append(buf, `,"ts_ms":`...)
	buf = strconv.AppendInt(buf, s.TsMs, 10)
	return append(buf, '}')
}

// scratch holds the buffers JSON values are built in before their copy.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// appendRow appends json.Marshal(row)'s bytes, without reflection for
// the flat rows connectors hand over.
func appendRow(buf []byte, row map[string]any, keys []string) ([]byte, error) {
	if b, ok := envelope.AppendRowKeys(buf, row, keys); ok {
		return b, nil
	}
	doc, err := json.Marshal(row)
	if err != nil {
		return buf, err
	}
	return append(buf, doc...), nil
}

// schemaProperties lists a JSON Schema's top-level properties, sorted.
func schemaProperties(schema string) []string {
	var doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal([]byte(schema), &doc) != nil {
		return nil // AppendRowKeys then hands every row to AppendRow
	}
	return slices.Sorted(maps.Keys(doc.Properties))
}

// processSafe is process that survives a fault on one record: a stage
// that panics on hostile input (a validator, a reconciler) dead-letters
// that record as internal and the batch, the source and the process go on.
func (p *Pipeline) processSafe(connector string, r *connectors.Record, now time.Time) (msg kafka.Message, extra *kafka.Message, res RecordResult) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		ev := p.event(connector, r, now)
		// The panic value may quote the row, so only its type and the
		// stack (code locations, no values) reach the operator's log.
		p.cfg.Logger.Error("pipeline: a stage failed on a record; it was dead-lettered as internal and the batch went on",
			"connector", connector, "dataset", r.Dataset, "event_id", ev.ID, "panic_type", fmt.Sprintf("%T", v), "stack", string(debug.Stack()))
		schemaID := 0
		if st, ok := p.datasets[r.Dataset]; ok {
			schemaID = st.SchemaID
		}
		res = RecordResult{EventID: ev.ID}
		msg, extra, res = p.deadLetter(connector, r, ev, &res, contract.KindInternal, "$",
			"the bus failed while processing this record; the operator has the details in the log, and the record can be resubmitted once it is fixed", schemaID)
	}()
	return p.process(connector, r, now)
}

// event is the envelope every message made from r starts from.
func (p *Pipeline) event(connector string, r *connectors.Record, now time.Time) envelope.Event {
	srcTime := r.Time
	if srcTime.IsZero() {
		srcTime = now
	}
	return envelope.Event{ID: envelope.EventID(connector, r.Position), Source: envelope.SourceURI(connector), Type: envelope.EventType(r.Dataset, string(r.Op)),
		Time: srcTime, Sequence: r.Position, Dataset: r.Dataset}
}

// checkChange says what is wrong when op, before and after do not make one
// change of one entity, as in Debezium: a create or snapshot read carries
// after only, a delete before only, an update after and, if it has a
// before, one naming the same entity (a changed key is a delete and a
// create).
func checkChange(r *connectors.Record, key []string) (path, problem string) {
	switch r.Op {
	case connectors.OpCreate, connectors.OpRead:
		if r.After == nil {
			return "$.after", fmt.Sprintf("op %q needs after (the row as it is now)", r.Op)
		}
		if r.Before != nil {
			return "$.before", fmt.Sprintf("op %q carries after only; before must be absent", r.Op)
		}
	case connectors.OpDelete:
		if r.Before == nil {
			return "$.before", "op \"d\" needs before (the row that was deleted)"
		}
		if r.After != nil {
			return "$.after", "op \"d\" carries before only; after must be absent"
		}
	case connectors.OpUpdate:
		if r.After == nil {
			return "$.after", "op \"u\" needs after (the row after the change)"
		}
		if r.Before != nil && envelope.Key(r.Before, key) != envelope.Key(r.After, key) {
			return "$.before", "before and after of an update name different entities (their key fields differ); send a delete of the old key and a create of the new one"
		}
	}
	return "", ""
}

// process turns one record into its canonical message (or dead letter) and
// an optional feedback message.
func (p *Pipeline) process(connector string, r *connectors.Record, now time.Time) (kafka.Message, *kafka.Message, RecordResult) {
	ev := p.event(connector, r, now)
	id, srcTime := ev.ID, ev.Time
	res := RecordResult{EventID: id}

	if r.Bad != nil {
		return p.deadLetterBad(connector, r, ev, &res)
	}
	st, ok := p.datasets[r.Dataset]
	if !ok {
		return p.deadLetter(connector, r, ev, &res, contract.KindUnknownDataset, "$", fmt.Sprintf("dataset %q is not in the catalog", r.Dataset), 0)
	}
	if !r.Op.Valid() {
		return p.deadLetter(connector, r, ev, &res, contract.KindMalformed, "$.op", fmt.Sprintf("op %q is not one of c, u, d, r", r.Op), st.SchemaID)
	}
	if path, problem := checkChange(r, st.Dataset.Key); problem != "" {
		return p.deadLetter(connector, r, ev, &res, contract.KindMalformed, path, problem, st.SchemaID)
	}
	row := r.Row()
	key := envelope.Key(row, st.Dataset.Key)
	if len(key) > MaxKey {
		// An entity key travels as the Kafka key, the ce_subject header and
		// in feedback; checked before anything else so the dead letter is
		// cheap and small (see deadLetter).
		return p.deadLetter(connector, r, ev, &res, contract.KindTooLarge, "$."+st.Dataset.Key[0], fmt.Sprintf("the entity key is %d bytes, over the %d-byte key limit", len(key), MaxKey), st.SchemaID)
	}
	ev.Subject = key
	res.Key = key
	ev.SchemaID = st.SchemaID
	ev.ContentType = st.ctype

	src := sourceBlock{Connector: connector, Dataset: r.Dataset, Position: hex.EncodeToString(r.Position), TsMs: srcTime.UnixMilli()}
	var value []byte
	switch {
	case st.json != nil:
		// The Debezium-shaped value after the wire-format prefix:
		// {"op","before","after","source","ts_ms"}, the rows encoded in
		// place in a pooled scratch buffer, then copied once at its exact
		// size; the result's Before and After are sub-slices of the copy.
		sp := scratch.Get().(*[]byte)
		defer func() {
			if cap(*sp) <= 64<<10 { // a huge row's buffer is not kept
				scratch.Put(sp)
			}
		}()
		buf := (*sp)[:0]
		buf = append(buf, st.prefix...)
		buf = append(buf, `{"op":"`...)
		buf = append(buf, r.Op...) // validated: one of c, u, d, r
		buf = append(buf, `","before":`...)
		var docs [2][]byte
		var spans [2][2]int // where docs are in buf
		// A dead letter's rows leave with it: copied out of the scratch buffer.
		own := func() { res.Before, res.After = bytes.Clone(docs[0]), bytes.Clone(docs[1]) }
		for k, row := range [2]map[string]any{r.Before, r.After} {
			if k == 1 {
				buf = append(buf, `,"after":`...)
			}
			if row == nil {
				buf = append(buf, "null"...)
				continue
			}
			start := len(buf)
			var err error
			if buf, err = appendRow(buf, row, st.keys); err != nil {
				own()
				return p.deadLetter(connector, r, ev, &res, contract.KindMalformed, "$", "row cannot be encoded as JSON: "+err.Error(), st.SchemaID)
			}
			doc := buf[start:len(buf):len(buf)]
			if len(doc) > p.cfg.MaxRecord {
				own()
				return p.deadLetter(connector, r, ev, &res, contract.KindTooLarge, "$", fmt.Sprintf("row is %d bytes, over the %d-byte limit", len(doc), p.cfg.MaxRecord), st.SchemaID)
			}
			docs[k], spans[k] = doc, [2]int{start, len(buf)}
			res.Before, res.After = docs[0], docs[1] // for a dead letter, which own copies
			if vs := st.json.Check(row); vs != nil {
				own()
				return p.deadLetter(connector, r, ev, &res, violationKind(vs), vs[0].Path, validate.Summary(vs), st.SchemaID)
			}
		}
		buf = append(buf, `,"source":`...)
		buf = src.appendJSON(buf)
		buf = append(buf, `,"ts_ms":`...)
		buf = strconv.AppendInt(buf, now.UnixMilli(), 10)
		buf = append(buf, '}')
		*sp = buf
		value = slices.Clone(buf)
		for k := range docs {
			if docs[k] != nil {
				docs[k] = value[spans[k][0]:spans[k][1]:spans[k][1]]
			}
		}
		res.Before, res.After = docs[0], docs[1]
	case st.avro != nil:
		env := map[string]any{"op": string(r.Op), "before": nil, "after": nil, "ts_ms": now.UnixMilli(),
			"source": map[string]any{"connector": src.Connector, "dataset": src.Dataset, "position": src.Position, "ts_ms": src.TsMs}}
		for _, part := range []struct {
			row  map[string]any
			name string
		}{{r.Before, "before"}, {r.After, "after"}} {
			if part.row == nil {
				continue
			}
			conv, vs := st.avro.Convert(part.row)
			if vs != nil {
				return p.deadLetter(connector, r, ev, &res, violationKind(vs), vs[0].Path, validate.Summary(vs), st.SchemaID)
			}
			env[part.name] = map[string]any{st.rowName: conv}
		}
		b, err := avro.Marshal(st.Envelope, env)
		if err != nil {
			return p.deadLetter(connector, r, ev, &res, contract.KindSchema, "$", "row cannot be encoded in Avro: "+err.Error(), st.SchemaID)
		}
		if len(b) > p.cfg.MaxRecord {
			return p.deadLetter(connector, r, ev, &res, contract.KindTooLarge, "$", fmt.Sprintf("record is %d bytes, over the %d-byte limit", len(b), p.cfg.MaxRecord), st.SchemaID)
		}
		value = append(append(make([]byte, 0, len(st.prefix)+len(b)), st.prefix...), b...)
	}
	if key == "" {
		return p.deadLetter(connector, r, ev, &res, contract.KindSchema, "$."+st.Dataset.Key[0], "key field is missing", st.SchemaID)
	}

	var v Verdict
	// The register's own stream feeds the index, and a dataset about no
	// person (a land parcel) has nothing to reconcile.
	if !st.Dataset.Register && st.Dataset.Identity.ID != "" {
		cl := claimOf(row, st.Dataset.Identity)
		cl.Dataset = st.Dataset.Name
		v = p.cfg.Reconcile(cl)
	}
	ev.Identity, ev.IdentityFields, ev.Citizen = v.Outcome, v.Fields, v.Citizen
	res.Status, res.Topic, res.Identity = StatusPublished, st.topic, v.Outcome
	res.IdentityFields = v.Fields
	if v.Outcome == OutcomeReview && p.cfg.Review != nil {
		res.review = &ReviewRequest{Connector: connector, Dataset: r.Dataset, Key: key, EventID: id, Candidate: v.Candidate}
	}

	msg := kafka.Message{Topic: st.topic, Key: []byte(key), Value: value, Headers: ev.Headers(), Time: srcTime}
	if n := messageSize(msg); n > p.cfg.MaxRecord {
		return p.deadLetter(connector, r, ev, &res, contract.KindTooLarge, "$", fmt.Sprintf("record is %d bytes with its key and headers, over the %d-byte limit", n, p.cfg.MaxRecord), st.SchemaID)
	}
	var fb *kafka.Message
	if p.cfg.FeedbackOn[v.Outcome] {
		fb = feedback(connector, r.Dataset, key, ev, v)
	}
	return msg, fb, res
}

// feedback tells the source ministry that a record was published but its
// person did not reconcile cleanly. It carries the entity key, never the
// personal number.
func feedback(connector, dataset, key string, ev envelope.Event, v Verdict) *kafka.Message {
	body, _ := json.Marshal(map[string]string{"event_id": ev.ID, "dataset": dataset, "key": key, "identity": v.Outcome, "fields": v.Fields})
	ev.ContentType = contract.ContentTypeJSON // feedback is plain JSON, not the record's framing
	return &kafka.Message{Topic: contract.FeedbackTopic(connector), Key: []byte(key), Value: body, Headers: ev.Headers()}
}

func claimOf(row map[string]any, m schemas.Identity) Claim {
	get := func(f string) string {
		if f == "" {
			return ""
		}
		s, _ := row[f].(string)
		return s
	}
	return Claim{ID: get(m.ID), Name: get(m.Name), DOB: get(m.DOB), Sex: get(m.Sex)}
}

// violationKind is the dead-letter kind of a failed validation.
func violationKind(vs []validate.Violation) string {
	if k := vs[0].Kind; k != "" {
		return k
	}
	return contract.KindSchema
}

// messageSize is what Kafka counts against its message limit, near enough:
// key, value, and each header's name and value.
func messageSize(m kafka.Message) int {
	n := len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// MaxKey is the longest entity key accepted (the dataset's key fields
// joined): an identifier, never a document.
const MaxKey = 1 << 10

// Dead letters must always be producible, whatever the record they carry:
// the value is cut at maxDeadLetterValue and every header value at
// maxDeadLetterHeader (a 1 MB key would otherwise ride along as ce_subject),
// which keeps the whole message under Kafka's default 1 MB limit.
const (
	maxDeadLetterValue  = 512 << 10
	maxDeadLetterHeader = 1 << 10
)

// cut returns s shortened to at most n bytes on a UTF-8 boundary, and
// whether it was shortened.
func cut(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n], true
}

// deadLetterBad dead-letters input the adapter could not parse
// (connectors.BadRecord) with the adapter's kind, path and reason. A kind
// the bus does not know is reported as malformed: consumers of the
// dead-letter topic rely on the documented kinds.
func (p *Pipeline) deadLetterBad(connector string, r *connectors.Record, ev envelope.Event, res *RecordResult) (kafka.Message, *kafka.Message, RecordResult) {
	b := r.Bad
	kind := b.Kind
	if !slices.Contains(contract.DeadLetterKinds, kind) {
		kind = contract.KindMalformed
	}
	path := b.Path
	if path == "" {
		path = "$"
	}
	reason := b.Reason
	if reason == "" {
		reason = "the connector could not read this record"
	}
	schemaID := 0
	if st, ok := p.datasets[r.Dataset]; ok {
		schemaID = st.SchemaID
	}
	return p.deadLetter(connector, r, ev, res, kind, path, reason, schemaID)
}

// deadLetterBody is the dead letter's value: the change as received, with
// the adapter's metadata (file and line, table) when it gave some; for a
// bad record, the raw input instead of the rows (as text when it is UTF-8,
// else base64 under raw_base64).
func deadLetterBody(r *connectors.Record) ([]byte, error) {
	doc := map[string]any{"dataset": r.Dataset, "op": r.Op}
	if r.Bad != nil {
		if utf8.Valid(r.Bad.Raw) {
			doc["raw"] = string(r.Bad.Raw)
		} else {
			doc["raw_base64"] = r.Bad.Raw
		}
	} else {
		doc["before"], doc["after"] = r.Before, r.After
	}
	if len(r.Metadata) > 0 {
		doc["metadata"] = r.Metadata
	}
	return json.Marshal(doc)
}

func (p *Pipeline) deadLetter(connector string, r *connectors.Record, ev envelope.Event, res *RecordResult, kind, path, msg string, schemaID int) (kafka.Message, *kafka.Message, RecordResult) {
	p.cfg.Observer.DeadLettered(connector, r.Dataset, kind)
	body, err := deadLetterBody(r)
	if err != nil {
		body = []byte(fmt.Sprintf(`{"dataset":%q,"unencodable":true}`, r.Dataset))
	}
	sum := sha256.Sum256(body)
	truncated := false
	if len(body) > maxDeadLetterValue {
		body, truncated = body[:maxDeadLetterValue], true
	}
	var cutPath, cutMsg bool
	path, cutPath = cut(path, maxDeadLetterHeader)
	msg, cutMsg = cut(msg, maxDeadLetterHeader)
	ev.ContentType = contract.ContentTypeJSON
	hs := ev.Headers()
	for i := range hs {
		if v, c := cut(string(hs[i].Value), maxDeadLetterHeader); c {
			hs[i].Value, truncated = []byte(v), true
		}
	}
	hs = append(hs,
		kafka.Header{Key: contract.HeaderErrorKind, Value: []byte(kind)},
		kafka.Header{Key: contract.HeaderErrorPath, Value: []byte(path)},
		kafka.Header{Key: contract.HeaderErrorMessage, Value: []byte(msg)},
		kafka.Header{Key: contract.HeaderDigest, Value: []byte("sha256:" + hex.EncodeToString(sum[:]))},
	)
	if schemaID > 0 {
		hs = append(hs, kafka.Header{Key: contract.HeaderErrorSchema, Value: []byte(fmt.Sprint(schemaID))})
	}
	if truncated || cutPath || cutMsg {
		hs = append(hs, kafka.Header{Key: contract.HeaderTruncated, Value: []byte("true")})
	}
	res.Status, res.Topic, res.Kind, res.Path, res.Error = StatusDeadLettered, contract.DeadLetterTopic(connector), kind, path, msg
	return kafka.Message{Topic: contract.DeadLetterTopic(connector), Key: []byte(ev.ID), Value: body, Headers: hs}, rejectedFeedback(connector, r.Dataset, ev, kind, path, msg), *res
}

// rejectedFeedback tells the source ministry which of its rows was
// dead-lettered and why, keyed by the row's entity key (ev.Subject; the
// event id when the key could not be read or is too long to be a key), so
// its IT team can fix the row in its own database. It carries no row
// values.
func rejectedFeedback(connector, dataset string, ev envelope.Event, kind, path, msg string) *kafka.Message {
	ev.Subject, _ = cut(ev.Subject, maxDeadLetterHeader)
	key := ev.Subject
	if key == "" {
		key = ev.ID
	}
	body, _ := json.Marshal(map[string]string{"event_id": ev.ID, "dataset": dataset, "key": ev.Subject, "status": "dead_lettered",
		"error_kind": kind, "error_path": path, "reason": msg, "dlq": contract.DeadLetterTopic(connector)})
	return &kafka.Message{Topic: contract.FeedbackTopic(connector), Key: []byte(key), Value: body, Headers: ev.Headers()}
}

type nopObserver struct{}

func (nopObserver) Ingested(string, int)                {}
func (nopObserver) Published(string, int)               {}
func (nopObserver) DeadLettered(string, string, string) {}
func (nopObserver) Reconciled(string, int)              {}
func (nopObserver) Latency(time.Duration)               {}
