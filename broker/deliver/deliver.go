// Package deliver owns the release of canonical records to consuming
// agencies: it reads the canonical topics in a consumer group, asks the
// policy engine which agreements cover each record, projects the record to
// the fields each agreement allows (masked as agreed), writes the audit
// record of each delivery durably, and only then produces to the consumer's
// topic "deliver.<consumer>.<domain>.<dataset>" and commits the offsets.
package deliver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// Schemas is the part of the registry delivery needs.
type Schemas interface {
	Register(ctx context.Context, subject, schemaType, text string) (id int, version int, err error)
	LookupAvro(ctx context.Context, id int) (avro.Schema, error)
}

// Auditor durably records deliveries before they are served.
type Auditor interface {
	CitizenKey(personalNumber string) string
	Append(ctx context.Context, entries []store.AuditEntry) error
}

// Observer receives delivery counts for metrics.
type Observer interface {
	Delivered(consumer, dataset string, n int)
	Filtered(consumer, dataset string)
}

// Config wires the deliverer.
type Config struct {
	Cluster kafkaio.Cluster
	GroupID string // consumer group of the bus instances (default "lgsp-deliver")
	Catalog *schemas.Catalog
	Engine  *policies.Engine
	Schemas Schemas
	Audit   Auditor
	Writer  *kafka.Writer // synchronous, RequireAll
	// State, when set, receives the latest row of every entity so agencies
	// can look it up under a lookup or verify agreement.
	State     store.StateStore
	Observer  Observer
	Logger    *slog.Logger
	BatchSize int           // messages per audit+produce+commit cycle (default 500)
	BatchWait time.Duration // how long to gather a batch (default 50ms)
	// InFlight is how many batches of one partition are prepared and
	// being made durable (audit and state) while an earlier one is
	// produced (default 4). It bounds what a slow delivery topic or a
	// slow store holds back per canonical partition: InFlight × BatchSize
	// messages in memory, plus the reader's fetch buffer; nothing upstream
	// waits on delivery (the pipeline only writes the canonical topics).
	InFlight int
	Now      func() time.Time
}

// Deliverer runs the delivery loop.
type Deliverer struct {
	cfg    Config
	topics map[string]schemas.Dataset

	mu      sync.Mutex
	derived map[string]int // "<consumer>/<dataset>/<fields>" → schema id

	topicNames []string
	lag        atomic.Int64
	state      stateWriter
}

// New prepares the deliverer; Run starts consuming.
func New(cfg Config) *Deliverer {
	if cfg.GroupID == "" {
		cfg.GroupID = "lgsp-deliver"
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	if cfg.BatchWait == 0 {
		cfg.BatchWait = 50 * time.Millisecond
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	d := &Deliverer{cfg: cfg, topics: map[string]schemas.Dataset{}, derived: map[string]int{}}
	d.state = stateWriter{st: cfg.State, slot: make(chan struct{}, 1)}
	var topics []string
	for _, ds := range cfg.Catalog.Datasets() {
		d.topics[ds.Topic()] = ds
		topics = append(topics, ds.Topic())
	}
	d.topicNames = topics
	d.lag.Store(-1)
	return d
}

// Close releases what Run holds; Run itself stops with its context.
func (d *Deliverer) Close() error { return nil }

// Lag is the delivery group's lag over the canonical topics, refreshed every
// few seconds while Run runs (-1 until first measured).
func (d *Deliverer) Lag() int64 { return d.lag.Load() }

func (d *Deliverer) measureLag(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		if lag, err := kafkaio.GroupLag(ctx, d.cfg.Cluster, d.cfg.GroupID, d.topicNames); err == nil {
			d.lag.Store(lag)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Run consumes until ctx is done. The canonical topics are shared by every
// bus instance through one consumer group; each partition this instance is
// assigned is delivered by its own loop under the group's generation, and
// the generation cannot end (so no other instance can be given the
// partition) until that loop has stopped. A batch is therefore never
// delivered by an instance that has lost its partition to another one
// that already started (short of a process paused past the rebalance
// timeout, whose writes are then duplicates consumers drop by ce_id). A
// failure to audit or produce is retried without committing, so nothing
// is lost and nothing is served unaudited.
func (d *Deliverer) Run(ctx context.Context) error {
	go d.measureLag(ctx)
	group, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:          d.cfg.GroupID,
		Brokers:     d.cfg.Cluster.Brokers,
		Dialer:      d.cfg.Cluster.Dialer(),
		Topics:      d.topicNames,
		StartOffset: kafka.FirstOffset,
		// Rebalancing is rare here and kfake answers quickly; keep startup short.
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("deliver: join consumer group %s: %w", d.cfg.GroupID, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = group.Close() })
	defer stop()
	for ctx.Err() == nil {
		gen, err := group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				return nil
			}
			d.cfg.Logger.Warn("delivery group: joining failed, retrying", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		for topic, parts := range gen.Assignments {
			for _, p := range parts {
				gen.Start(func(gctx context.Context) { d.runPartition(gctx, gen, topic, p.ID, p.Offset) })
			}
		}
	}
	return nil
}

// runPartition delivers one assigned partition from offset until its
// generation ends; it returns only then, since a returning function ends
// the generation for every partition of this instance.
func (d *Deliverer) runPartition(ctx context.Context, gen *kafka.Generation, topic string, partition int, offset int64) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   d.cfg.Cluster.Brokers,
		Dialer:    d.cfg.Cluster.Dialer(),
		Topic:     topic,
		Partition: partition,
		MinBytes:  1,
		MaxBytes:  8 << 20,
		// A fetch returns as soon as data arrives; a short MaxWait only adds
		// reconnects, as kafka-go allows a fetch little slack past it.
		MaxWait: time.Second,
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		d.cfg.Logger.Error("delivery: cannot start partition; the group rebalances and retries", "topic", topic, "partition", partition, "error", err)
		<-ctx.Done()
		return
	}
	runPipeline(ctx, stages{
		fetch:   func(ctx context.Context) ([]kafka.Message, error) { return d.fetch(ctx, r) },
		prepare: d.prepare,
		durable: d.durable,
		produce: d.produce,
		commit: func(next int64) error {
			return gen.CommitOffsets(map[string]map[int]int64{topic: {partition: next}})
		},
	}, d.cfg.InFlight, d.cfg.Logger.With("topic", topic, "partition", partition))
}

// stages are the steps of one partition's delivery; runPipeline runs them
// with several batches in flight (a test gives its own fetch and produce).
type stages struct {
	fetch   func(ctx context.Context) ([]kafka.Message, error)
	prepare func(ctx context.Context, batch []kafka.Message) (*prepared, error)
	// durable writes the audit entries and the state of a batch, only the
	// part that is not durable yet, so a retry after a failed state write
	// does not append the batch's audit entries again.
	durable func(ctx context.Context, p *prepared) error
	produce func(ctx context.Context, p *prepared) error
	commit  func(next int64) error
}

// runPipeline delivers one partition until ctx ends. Batches are fetched
// and prepared, and their audit and state written, up to depth ahead of
// the batch being produced, so the store's commits (group-committed with
// the other partitions') overlap the produce and the next fetch instead of
// following each other. Batches are produced and committed strictly in
// offset order, and a batch is produced only once its audit entries are
// durable; a failed step is retried alone until it succeeds or ctx ends.
// It returns once nothing it started is running.
func runPipeline(ctx context.Context, s stages, depth int, log *slog.Logger) {
	queue := make(chan *prepared, max(depth-1, 0))
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		stopped := false
		for p := range queue {
			<-p.done
			if stopped || ctx.Err() != nil {
				stopped = true // later batches wait for the next owner, in order
				continue
			}
			if !retry(ctx, log, "delivery: audit or state write failed; retrying it (nothing of the batch is served yet)", p.err,
				func() error { return s.durable(ctx, p) }) {
				stopped = true
				continue
			}
			if !retry(ctx, log, "delivery: produce failed; retrying it (its audit entries are durable already)",
				s.produce(ctx, p), func() error { return s.produce(ctx, p) }) {
				stopped = true
				continue
			}
			// Committed even when the generation is ending: until this
			// instance rejoins, its generation is the group's, and a batch
			// it delivered is then not delivered again by the next owner.
			if err := s.commit(p.next); err != nil && ctx.Err() == nil {
				// Uncommitted messages are re-delivered after a restart; consumers dedupe on (ce_source, ce_id).
				log.Warn("commit failed", "error", err)
			}
		}
	}()
	defer func() { close(queue); <-finished }()
	for ctx.Err() == nil {
		batch, err := s.fetch(ctx)
		if err != nil || len(batch) == 0 {
			if ctx.Err() == nil {
				log.Warn("delivery fetch failed, retrying", "error", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		p, err := s.prepare(ctx, batch)
		if !retry(ctx, log, "delivery: preparing a batch failed; retrying", err, func() (err error) {
			p, err = s.prepare(ctx, batch)
			return err
		}) {
			return
		}
		p.next, p.done = batch[len(batch)-1].Offset+1, make(chan struct{})
		go func() { defer close(p.done); p.err = s.durable(ctx, p) }()
		select {
		case queue <- p: // blocks while depth batches are ahead: the back-pressure bound
		case <-ctx.Done():
			<-p.done
			return
		}
	}
}

// retry runs fn again after err until it succeeds; false when ctx ended
// first. The first call is the caller's (err is its result).
func retry(ctx context.Context, log *slog.Logger, msg string, err error, fn func() error) bool {
	for attempt := 1; err != nil; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		log.Error(msg, "error", err, "attempt", attempt)
		sleep(ctx, time.Duration(min(attempt, 10))*500*time.Millisecond)
		if ctx.Err() != nil {
			return false
		}
		err = fn()
	}
	return true
}

func (d *Deliverer) fetch(ctx context.Context, r *kafka.Reader) ([]kafka.Message, error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	batch := []kafka.Message{m}
	gather, cancel := context.WithTimeout(ctx, d.cfg.BatchWait)
	defer cancel()
	for len(batch) < d.cfg.BatchSize {
		m, err := r.FetchMessage(gather)
		if err != nil {
			break
		}
		batch = append(batch, m)
	}
	return batch, nil
}

// prepared is a batch decoded and projected: what its durable and produce
// steps write, and how far they got.
type prepared struct {
	out     []kafka.Message
	entries []store.AuditEntry
	upserts []store.StateRow
	deletes []store.StateKey
	// audited and stated are set once that part is durable, so a retry
	// does only what failed.
	audited, stated bool
	next            int64         // the offset to commit once produced
	done            chan struct{} // closed when the first durable attempt ended, with err
	err             error
}

// prepare decodes and projects one batch (no side effects but the
// registration of a projected schema).
func (d *Deliverer) prepare(ctx context.Context, batch []kafka.Message) (*prepared, error) {
	now := d.cfg.Now()
	p := &prepared{}
	out, entries, upserts, deletes := p.out, p.entries, p.upserts, p.deletes
	grantsOf := map[string][]policies.Grant{}
	schemaOf := map[string][]int{} // the grants' projected schema ids, looked up once per batch
	for _, m := range batch {
		ds, ok := d.topics[m.Topic]
		if !ok {
			continue
		}
		grants, seen := grantsOf[ds.Name]
		if !seen {
			grants = d.cfg.Engine.StreamTargets(ds.Name, now) // once per dataset and batch
			grantsOf[ds.Name] = grants
		}
		if len(grants) == 0 && d.cfg.State == nil {
			continue
		}
		ch, err := d.decode(ctx, ds, m.Value)
		if err != nil {
			// A canonical record the bus wrote itself cannot be read: skip it
			// loudly rather than block every consumer behind it.
			d.cfg.Logger.Error("undecodable canonical record skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "error", err)
			continue
		}
		row := ch.after
		if row == nil {
			row = ch.before
		}
		citizen := ""
		if id, _ := row[ds.Identity.ID].(string); id != "" {
			citizen = d.cfg.Audit.CitizenKey(id)
		} else {
			citizen = envelope.HeaderValue(m.Headers, contract.HeaderCitizen) // linked by the pipeline
		}
		if d.cfg.State != nil {
			if ch.op == "d" || ch.after == nil {
				deletes = append(deletes, store.StateKey{Dataset: ds.Name, Key: string(m.Key),
					EventID: envelope.HeaderValue(m.Headers, contract.HeaderID), Updated: m.Time, Version: m.Offset})
			} else if doc, err := ch.afterJSON(); err == nil {
				upserts = append(upserts, store.StateRow{Dataset: ds.Name, Key: string(m.Key), CitizenKey: citizen, Row: doc,
					EventID: envelope.HeaderValue(m.Headers, contract.HeaderID), Updated: m.Time, Version: m.Offset})
			}
		}
		for gi, g := range grants {
			after, released, okA := project(g, ch.after)
			before, _, okB := project(g, ch.before)
			if !okA && !okB {
				d.cfg.Observer.Filtered(g.Consumer, ds.Name)
				continue
			}
			ids := schemaOf[ds.Name]
			if ids == nil {
				ids = make([]int, len(grants))
				schemaOf[ds.Name] = ids
			}
			if ids[gi] == 0 {
				id, err := d.derivedSchema(ctx, g, ds)
				if err != nil {
					return nil, err
				}
				ids[gi] = id
			}
			schemaID := ids[gi]
			ctype, prefix := contract.ContentTypeConfluentJSON, contract.AppendWire(make([]byte, 0, 512), schemaID)
			if g.Framing == contract.FramingCloudEvents {
				ctype, prefix = contract.ContentTypeJSON, prefix[:0]
			}
			value, err := appendDelivered(prefix, ch, before, after, g.AgreementID)
			if err != nil {
				return nil, fmt.Errorf("deliver: encode: %w", err)
			}
			hs := rewriteHeaders(m.Headers, schemaID, g.AgreementID, ctype)
			out = append(out, kafka.Message{Topic: contract.DeliveryTopic(g.Consumer, ds.Name), Key: m.Key, Value: value, Headers: hs})
			e := store.AuditEntry{
				Time: now, Actor: g.Consumer, Action: "deliver", Dataset: ds.Name, Fields: released,
				Purpose: strings.Join(g.Purposes, ","), LegalBasis: g.LegalBasis, AgreementID: g.AgreementID,
				Decision: "allow", RequestID: envelope.HeaderValue(m.Headers, contract.HeaderID), CitizenKey: citizen,
			}
			if g.HiddenFromCitizen > 0 { // the agreement keeps it from the citizen's view for a while
				e.HiddenUntil = now.Add(g.HiddenFromCitizen)
			}
			entries = append(entries, e)
		}
	}
	p.out, p.entries, p.upserts, p.deletes = out, entries, upserts, deletes
	return p, nil
}

// durable writes what of the batch's audit entries and state is not
// durable yet: the state write (group-committed with the other
// partitions') and the audit append at once. The delivery topics are
// written only after it succeeded, so nothing is served unaudited; a part
// that succeeded is not written again when the other is retried (state
// writes are idempotent by version anyway, but the audit would hold the
// entries twice).
func (d *Deliverer) durable(ctx context.Context, p *prepared) error {
	var stateDone chan error
	if !p.stated && len(p.upserts)+len(p.deletes) > 0 {
		stateDone = make(chan error, 1)
		go func() { stateDone <- d.state.apply(ctx, p.upserts, p.deletes) }()
	} else {
		p.stated = true
	}
	var auditErr error
	if !p.audited && len(p.out) > 0 {
		auditErr = d.cfg.Audit.Append(ctx, p.entries)
	}
	p.audited = p.audited || auditErr == nil
	var stateErr error
	if stateDone != nil {
		stateErr = <-stateDone
		p.stated = stateErr == nil
	}
	return errors.Join(auditErr, stateErr)
}

// produce writes a durable batch to the delivery topics.
func (d *Deliverer) produce(ctx context.Context, p *prepared) error {
	if len(p.out) == 0 {
		return nil
	}
	if err := d.cfg.Writer.WriteMessages(ctx, p.out...); err != nil {
		return fmt.Errorf("deliver: produce %d messages: %w", len(p.out), err)
	}
	counts := map[[2]string]int{}
	for _, e := range p.entries {
		counts[[2]string{e.Actor, e.Dataset}]++
	}
	for k, n := range counts {
		d.cfg.Observer.Delivered(k[0], k[1], n)
	}
	return nil
}

func project(g policies.Grant, row map[string]any) (map[string]any, []string, bool) {
	if row == nil {
		return nil, nil, false
	}
	return g.Project(row)
}

func rewriteHeaders(in []kafka.Header, schemaID int, agreement, contentType string) []kafka.Header {
	out := make([]kafka.Header, 0, len(in)+1)
	for _, h := range in {
		switch h.Key {
		case contract.HeaderSchemaID, contract.HeaderContentType, contract.HeaderCitizen:
			continue
		}
		out = append(out, h)
	}
	return append(out,
		kafka.Header{Key: contract.HeaderSchemaID, Value: []byte(fmt.Sprint(schemaID))},
		kafka.Header{Key: contract.HeaderContentType, Value: []byte(contentType)},
		kafka.Header{Key: contract.HeaderAgreement, Value: []byte(agreement)},
	)
}

type change struct {
	op            string
	before, after map[string]any
	source        json.RawMessage // encoded once for every agency
	tsMs          int64
	// afterRaw is the row as the pipeline encoded it (JSON datasets), kept
	// as the dataset state instead of encoding the decoded map again.
	afterRaw json.RawMessage
}

// appendDelivered appends what an agency receives for a change: the same
// bytes as json.Marshal of {"op","before","after","source","ts_ms",
// "agreement"} (keys sorted, as Marshal sorts a map's), with the source
// block encoded once per message instead of once per agency.
func appendDelivered(buf []byte, ch change, before, after map[string]any, agreement string) ([]byte, error) {
	buf = append(buf, `{"after":`...)
	buf, err := appendJSON(buf, after)
	if err != nil {
		return nil, err
	}
	buf = append(buf, `,"agreement":`...)
	if buf, err = appendJSON(buf, agreement); err != nil {
		return nil, err
	}
	buf = append(buf, `,"before":`...)
	if buf, err = appendJSON(buf, before); err != nil {
		return nil, err
	}
	buf = append(buf, `,"op":`...)
	if buf, err = appendJSON(buf, ch.op); err != nil {
		return nil, err
	}
	buf = append(buf, `,"source":`...)
	buf = append(buf, ch.source...)
	buf = append(buf, `,"ts_ms":`...)
	buf = strconv.AppendInt(buf, ch.tsMs, 10)
	return append(buf, '}'), nil
}

// appendJSON appends json.Marshal(v), written without reflection where
// envelope can (flat rows and plain strings: the same bytes).
func appendJSON(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case map[string]any:
		if out, ok := envelope.AppendRow(buf, x); ok {
			return out, nil
		}
	case string:
		if out, ok := envelope.AppendString(buf, x); ok {
			return out, nil
		}
	}
	b, err := json.Marshal(v)
	return append(buf, b...), err
}

// afterJSON is the row after the change as JSON.
func (c change) afterJSON() ([]byte, error) {
	if len(c.afterRaw) > 0 {
		return c.afterRaw, nil
	}
	return json.Marshal(c.after)
}

// decode reads a canonical value (Confluent wire format, JSON or Avro).
func (d *Deliverer) decode(ctx context.Context, ds schemas.Dataset, v []byte) (change, error) {
	id, payload, err := contract.SplitWire(v)
	if err != nil {
		return change{}, err
	}
	switch ds.Format {
	case schemas.FormatJSON:
		var raw struct {
			Op     string          `json:"op"`
			Before json.RawMessage `json:"before"`
			After  json.RawMessage `json:"after"`
			Source json.RawMessage `json:"source"`
			TsMs   int64           `json:"ts_ms"`
		}
		if err := json.Unmarshal(payload, &raw); err != nil {
			return change{}, err
		}
		// The source block is passed on as the pipeline wrote it (the same
		// bytes json.Marshal of its decoded map would give: keys in order).
		ch := change{op: raw.Op, source: raw.Source, tsMs: raw.TsMs}
		if len(ch.source) == 0 {
			ch.source = json.RawMessage("null")
		}
		if len(raw.Before) > 0 && string(raw.Before) != "null" {
			if err := json.Unmarshal(raw.Before, &ch.before); err != nil {
				return change{}, err
			}
		}
		if len(raw.After) > 0 && string(raw.After) != "null" {
			if err := json.Unmarshal(raw.After, &ch.after); err != nil {
				return change{}, err
			}
			// payload is the reader's buffer of this message alone; the
			// slice is kept only until the state is written.
			ch.afterRaw = raw.After
		}
		return ch, nil
	default:
		sch, err := d.cfg.Schemas.LookupAvro(ctx, id)
		if err != nil {
			return change{}, fmt.Errorf("schema %d: %w", id, err)
		}
		var m map[string]any
		if err := avro.Unmarshal(sch, payload, &m); err != nil {
			return change{}, err
		}
		ch := change{op: fmt.Sprint(m["op"]), before: unwrapRow(m["before"]), after: unwrapRow(m["after"])}
		source, _ := m["source"].(map[string]any)
		if ch.source, err = json.Marshal(source); err != nil {
			return change{}, err
		}
		ch.tsMs, _ = m["ts_ms"].(int64)
		return ch, nil
	}
}

// unwrapRow removes hamba's union wrapping ({"Type": value}) from a row and
// from its nullable fields.
func unwrapRow(v any) map[string]any {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return nil
	}
	for _, inner := range m {
		row, ok := inner.(map[string]any)
		if !ok {
			return nil
		}
		out := make(map[string]any, len(row))
		for k, fv := range row {
			if w, ok := fv.(map[string]any); ok && len(w) == 1 {
				for _, x := range w {
					fv = x
				}
			}
			out[k] = fv
		}
		return out
	}
	return nil
}

// derivedSchema registers (once) the JSON Schema of what a grant releases,
// under "deliver.<consumer>.<dataset>-value", so a Confluent deserializer can
// read delivery topics too.
func (d *Deliverer) derivedSchema(ctx context.Context, g policies.Grant, ds schemas.Dataset) (int, error) {
	key := g.Consumer + "/" + ds.Name + "/" + strings.Join(g.Fields, ",") + "/" + fmt.Sprint(sortedMasks(g.Masks))
	d.mu.Lock()
	id, ok := d.derived[key]
	d.mu.Unlock()
	if ok {
		return id, nil
	}
	text, err := ProjectedSchema(ds, g.Fields, g.Masks)
	if err != nil {
		return 0, err
	}
	id, _, err = d.cfg.Schemas.Register(ctx, contract.DeliveryTopic(g.Consumer, ds.Name)+"-value", "JSON", text)
	if err != nil {
		return 0, fmt.Errorf("deliver: register projected schema for %s: %w", g.AgreementID, err)
	}
	d.mu.Lock()
	d.derived[key] = id
	d.mu.Unlock()
	return id, nil
}

func sortedMasks(m map[string]policies.MaskKind) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+string(v))
	}
	sort.Strings(out)
	return out
}

// ProjectedSchema is the JSON Schema of a delivered change: the envelope with
// a row of only the allowed fields, masked fields typed as strings.
func ProjectedSchema(ds schemas.Dataset, fields []string, masks map[string]policies.MaskKind) (string, error) {
	props, err := fieldSchemas(ds)
	if err != nil {
		return "", err
	}
	rowProps := map[string]any{}
	for _, f := range fields {
		p, ok := props[f]
		if !ok {
			return "", fmt.Errorf("deliver: field %s is not in dataset %s", f, ds.Name)
		}
		if _, masked := masks[f]; masked {
			p = map[string]any{"type": "string"}
		}
		rowProps[f] = p
	}
	row := map[string]any{"type": "object", "additionalProperties": false, "properties": rowProps}
	doc := map[string]any{
		"$schema":  "http://json-schema.org/draft-07/schema#",
		"title":    ds.Name + " as released under an agreement",
		"type":     "object",
		"required": []string{"op", "agreement"},
		"properties": map[string]any{
			"op":        map[string]any{"enum": []string{"c", "u", "d", "r"}},
			"before":    map[string]any{"oneOf": []any{map[string]any{"type": "null"}, map[string]any{"$ref": "#/definitions/row"}}},
			"after":     map[string]any{"oneOf": []any{map[string]any{"type": "null"}, map[string]any{"$ref": "#/definitions/row"}}},
			"source":    map[string]any{"type": "object"},
			"ts_ms":     map[string]any{"type": "integer"},
			"agreement": map[string]any{"type": "string"},
		},
		"definitions": map[string]any{"row": row},
	}
	b, err := json.Marshal(doc)
	return string(b), err
}

// fieldSchemas gives a JSON Schema per row field, from the dataset's JSON
// Schema properties or mapped from its Avro field types.
func fieldSchemas(ds schemas.Dataset) (map[string]any, error) {
	out := map[string]any{}
	switch ds.Format {
	case schemas.FormatJSON:
		var doc struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal([]byte(ds.Schema), &doc); err != nil {
			return nil, err
		}
		return doc.Properties, nil
	default:
		s, err := avro.Parse(ds.Schema)
		if err != nil {
			return nil, err
		}
		rs, ok := s.(*avro.RecordSchema)
		if !ok {
			return nil, errors.New("deliver: Avro row schema is not a record")
		}
		for _, f := range rs.Fields() {
			out[f.Name()] = avroToJSON(f.Type())
		}
		return out, nil
	}
}

func avroToJSON(s avro.Schema) any {
	switch s.Type() {
	case avro.String, avro.Bytes:
		return map[string]any{"type": "string"}
	case avro.Int, avro.Long:
		return map[string]any{"type": "integer"}
	case avro.Float, avro.Double:
		return map[string]any{"type": "number"}
	case avro.Boolean:
		return map[string]any{"type": "boolean"}
	case avro.Null:
		return map[string]any{"type": "null"}
	case avro.Enum:
		return map[string]any{"enum": s.(*avro.EnumSchema).Symbols()}
	case avro.Union:
		var any_ []any
		for _, t := range s.(*avro.UnionSchema).Types() {
			any_ = append(any_, avroToJSON(t))
		}
		return map[string]any{"anyOf": any_}
	}
	return map[string]any{}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

type nopObserver struct{}

func (nopObserver) Delivered(string, string, int) {}
func (nopObserver) Filtered(string, string)       {}

// stateWriter group-commits the dataset state of the partitions' batches:
// whichever caller gets the slot writes everything queued in one
// ApplyState (one transaction, one fsync on SQLite) and answers the
// others, as the audit log does with its appends.
type stateWriter struct {
	st    store.StateStore
	mu    sync.Mutex
	queue []*statePending
	slot  chan struct{}
}

type statePending struct {
	rows    []store.StateRow
	deletes []store.StateKey
	done    chan error
}

func (w *stateWriter) apply(ctx context.Context, rows []store.StateRow, deletes []store.StateKey) error {
	me := &statePending{rows: rows, deletes: deletes, done: make(chan error, 1)}
	w.mu.Lock()
	w.queue = append(w.queue, me)
	w.mu.Unlock()
	for {
		select {
		case err := <-me.done:
			return err
		case w.slot <- struct{}{}:
			w.flush(ctx)
			<-w.slot
		}
	}
}

func (w *stateWriter) flush(ctx context.Context) {
	w.mu.Lock()
	pend := w.queue
	w.queue = nil
	w.mu.Unlock()
	if len(pend) == 0 {
		return
	}
	var rows []store.StateRow
	var deletes []store.StateKey
	for _, p := range pend {
		rows = append(rows, p.rows...)
		deletes = append(deletes, p.deletes...)
	}
	err := w.st.ApplyState(ctx, rows, deletes)
	for _, p := range pend {
		p.done <- err
	}
}
