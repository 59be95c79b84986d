package quality

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// Errors of the redrive; the API answers them as 404, 403 and 409.
var (
	ErrNotFound  = errors.New("quality: no such item")
	ErrForbidden = errors.New("quality: the item belongs to a source of another agency")
	ErrConflict  = errors.New("quality: the item is not open")
)

// BadInput is a request the caller must correct: Field names the
// parameter or JSON path.
type BadInput struct{ Field, Problem string }

func (e *BadInput) Error() string { return e.Problem }

// Unavailable wraps a failure of something quality depends on (the store,
// the audit log, Kafka): the caller should retry.
type Unavailable struct {
	Advice string
	Err    error
}

func (e *Unavailable) Error() string { return e.Advice + ": " + e.Err.Error() }
func (e *Unavailable) Unwrap() error { return e.Err }

// KindDeceasedActive is the kind of an "alive" finding: a row still active
// about a citizen the register says has died.
const KindDeceasedActive = "deceased_active"

// Item is a redrive item as the API shows it.
type Item struct {
	ID          int64           `json:"id"`
	EventID     string          `json:"event_id"`
	Source      string          `json:"source"`
	Connector   string          `json:"connector"`
	Dataset     string          `json:"dataset"`
	Kind        string          `json:"kind"`
	Path        string          `json:"path"`
	Reason      string          `json:"reason"`
	Status      string          `json:"status"`
	Record      json.RawMessage `json:"record"`
	EntityKey   string          `json:"entity_key,omitempty"`
	Attempts    int             `json:"attempts"`
	LastEventID string          `json:"last_event_id,omitempty"`
	Created     time.Time       `json:"created"`
	Updated     time.Time       `json:"updated"`
	// Masked is true when personal numbers were hidden (the viewer does
	// not own the source).
	Masked  bool    `json:"masked,omitempty"`
	History []Event `json:"history,omitempty"`
}

// Event is one line of an item's history.
type Event struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Status  string    `json:"status"`
	Kind    string    `json:"kind"`
	Path    string    `json:"path"`
	Reason  string    `json:"reason"`
	Note    string    `json:"note,omitempty"`
	EventID string    `json:"event_id,omitempty"`
}

// view is it as v may see it.
func view(it store.QualityItem, v Viewer) Item {
	out := Item{ID: it.ID, EventID: it.EventID, Source: it.Source, Connector: it.Connector, Dataset: it.Dataset, Kind: it.Kind,
		Path: it.Path, Reason: it.Reason, Status: it.Status, Record: json.RawMessage(it.Record), EntityKey: it.EntityKey,
		Attempts: it.Attempts, LastEventID: it.LastEventID, Created: it.Created, Updated: it.Updated}
	if len(out.Record) == 0 || !json.Valid(out.Record) {
		out.Record = json.RawMessage(`{}`)
	}
	if !v.Owns(it.Source) {
		out.Masked = true
		out.Record = maskJSON(out.Record)
		out.Reason, out.EntityKey = Mask(out.Reason), Mask(out.EntityKey)
	}
	return out
}

// maskJSON masks personal numbers in every string and number of doc.
func maskJSON(doc []byte) []byte {
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return []byte(`{}`)
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case string:
			return Mask(t)
		case json.Number:
			if m := Mask(t.String()); m != t.String() {
				return m
			}
			return t
		case map[string]any:
			for k, e := range t {
				t[k] = walk(e)
			}
		case []any:
			for i, e := range t {
				t[i] = walk(e)
			}
		}
		return x
	}
	out, err := json.Marshal(walk(v))
	if err != nil {
		return []byte(`{}`)
	}
	return out
}

// ItemQuery selects items for List.
type ItemQuery struct {
	Source, Dataset, Status, Kind, Path string
	AfterID                             int64
	Limit                               int
}

// List returns the items of iq that v may see, in ID order.
func (q *Quality) List(ctx context.Context, v Viewer, iq ItemQuery) ([]Item, error) {
	items, err := q.cfg.Store.ListQualityItems(ctx, store.QualityItemQuery{Sources: v.sources(iq.Source), Dataset: iq.Dataset,
		Status: iq.Status, Kind: iq.Kind, Path: iq.Path, AfterID: iq.AfterID, Limit: iq.Limit})
	if err != nil {
		return nil, &Unavailable{"items unavailable, retry later", err}
	}
	out := make([]Item, len(items))
	for i, it := range items {
		out[i] = view(it, v)
	}
	return out, nil
}

// get reads an item v may act on; a refused attempt is audited as action.
func (q *Quality) get(ctx context.Context, v Viewer, id int64, action string) (store.QualityItem, error) {
	it, err := q.cfg.Store.GetQualityItem(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return it, ErrNotFound
	}
	if err != nil {
		return it, &Unavailable{"items unavailable, retry later", err}
	}
	if !v.May(it.Source) {
		if action != "" {
			e := store.AuditEntry{Time: q.cfg.Now(), Actor: v.Name, Action: action, Dataset: it.Dataset, Decision: "deny",
				Reason: fmt.Sprintf("not_source_owner: quality item %d of source %s", id, it.Source), RequestID: uuid.NewString()}
			if err := q.audit(ctx, e); err != nil {
				return it, err
			}
		}
		return it, ErrForbidden
	}
	return it, nil
}

// Get returns an item and its history.
func (q *Quality) Get(ctx context.Context, v Viewer, id int64) (Item, error) {
	it, err := q.get(ctx, v, id, "")
	if err != nil {
		return Item{}, err
	}
	hist, err := q.cfg.Store.QualityItemHistory(ctx, id)
	if err != nil {
		return Item{}, &Unavailable{"items unavailable, retry later", err}
	}
	out := view(it, v)
	out.History = make([]Event, len(hist))
	for i, h := range hist {
		e := Event{At: h.At, Actor: h.Actor, Action: h.Action, Status: h.Status, Kind: h.Kind, Path: h.Path, Reason: h.Reason,
			Note: h.Note, EventID: h.EventID}
		if out.Masked {
			e.Reason, e.Note = Mask(e.Reason), Mask(e.Note)
		}
		out.History[i] = e
	}
	return out, nil
}

func (q *Quality) audit(ctx context.Context, es ...store.AuditEntry) error {
	if q.cfg.Audit == nil {
		return nil
	}
	if err := q.cfg.Audit(ctx, es); err != nil {
		return &Unavailable{"the action could not be audited, so it was not taken; retry", err}
	}
	return nil
}

func (q *Quality) auditEntry(v Viewer, action string, it store.QualityItem, reason string) store.AuditEntry {
	return store.AuditEntry{Time: q.cfg.Now(), Actor: v.Name, Action: action, Dataset: it.Dataset, Decision: "allow",
		Purpose: "data_quality", Reason: fmt.Sprintf("quality item %d: %s", it.ID, reason), RequestID: it.EventID, CitizenKey: it.CitizenKey}
}

// conflict is the error of an action on an item that is not open.
func conflict(it store.QualityItem) error {
	return fmt.Errorf("%w: item %d is %s since %s", ErrConflict, it.ID, it.Status, it.Updated.Format(time.RFC3339))
}

// Discard closes an open item without a resubmission; reason is required.
func (q *Quality) Discard(ctx context.Context, v Viewer, id int64, reason string) (Item, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Item{}, &BadInput{Field: "reason", Problem: "reason is required: say why the record is discarded (it is audited)"}
	}
	if len(reason) > 2000 {
		return Item{}, &BadInput{Field: "reason", Problem: "reason is over 2000 bytes"}
	}
	it, err := q.get(ctx, v, id, "quality.discard")
	if err != nil {
		return Item{}, err
	}
	if it.Status != store.ItemOpen {
		return Item{}, conflict(it)
	}
	if err := q.audit(ctx, q.auditEntry(v, "quality.discard", it, reason)); err != nil {
		return Item{}, err
	}
	done, err := q.cfg.Store.ChangeQualityItem(ctx, id, store.QualityItemChange{From: []string{store.ItemOpen}, Status: store.ItemDiscarded,
		Actor: v.Name, Action: "discard", Note: reason, At: q.cfg.Now()})
	if errors.Is(err, store.ErrConflict) {
		return Item{}, conflict(done)
	}
	if err != nil {
		return Item{}, &Unavailable{"the item was not discarded; retry", err}
	}
	q.cfg.Metrics.Redrive(it.Source, "discarded")
	return q.Get(ctx, v, id)
}

// Correction is a corrected record: as pushed to /v1/sources/{source}/records.
type Correction struct {
	Dataset       string
	Op            connectors.Op
	Before, After map[string]any
}

// Outcome is what became of a resubmission.
type Outcome struct {
	Item   Item                  `json:"item"`
	Result pipeline.RecordResult `json:"result"`
}

// Resubmit sends a corrected record through the whole pipeline, linked to
// item id: the item is accepted once the record is published (and, for an
// unreconciled record, reconciles), and stays open with the new reason if
// the corrected record is still refused.
func (q *Quality) Resubmit(ctx context.Context, v Viewer, id int64, c Correction) (Outcome, error) {
	it, err := q.get(ctx, v, id, "quality.resubmit")
	if err != nil {
		return Outcome{}, err
	}
	if c.Dataset == "" {
		c.Dataset = it.Dataset
	}
	if c.Dataset != it.Dataset {
		d, ok := q.datasets[c.Dataset]
		if _, known := q.datasets[it.Dataset]; known || !ok || d.Owner != it.Source {
			return Outcome{}, &BadInput{Field: "$.dataset", Problem: fmt.Sprintf("the corrected record must be of dataset %s, like the item", it.Dataset)}
		}
	}
	if c.Op == "" {
		c.Op = connectors.OpCreate
	}
	if it.Status != store.ItemOpen {
		return Outcome{}, conflict(it)
	}
	if err := q.audit(ctx, q.auditEntry(v, "quality.resubmit", it, "corrected record resubmitted")); err != nil {
		return Outcome{}, err
	}
	outs, err := q.redrive(ctx, v, []store.QualityItem{it}, []connectors.Record{{Dataset: c.Dataset, Op: c.Op, Before: c.Before, After: c.After}})
	if err != nil {
		return Outcome{}, err
	}
	if outs[0].err != nil {
		return Outcome{}, outs[0].err
	}
	item, err := q.Get(ctx, v, id)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Item: item, Result: outs[0].res}, nil
}

type redriven struct {
	res pipeline.RecordResult
	err error // ErrConflict (someone came first) or Unavailable
}

// redrive resubmits recs[i] for items[i] (open, audited already): each
// item goes to resubmitted, the records through the pipeline (per
// connector), and each item settles on its record's fate.
func (q *Quality) redrive(ctx context.Context, v Viewer, items []store.QualityItem, recs []connectors.Record) ([]redriven, error) {
	if q.cfg.Ingest == nil {
		return nil, &Unavailable{"this bus cannot resubmit records", errors.New("no ingester")}
	}
	out := make([]redriven, len(items))
	byConnector := map[string][]int{}
	for i, it := range items {
		pos := connectors.Position(fmt.Sprintf("%s%d:%d", redrivePrefix, it.ID, it.Attempts+1))
		recs[i].Position, recs[i].Time = pos, q.cfg.Now()
		rec, _ := json.Marshal(map[string]any{"dataset": recs[i].Dataset, "op": recs[i].Op, "before": recs[i].Before, "after": recs[i].After})
		changed, err := q.cfg.Store.ChangeQualityItem(ctx, it.ID, store.QualityItemChange{From: []string{store.ItemOpen},
			Status: store.ItemResubmitted, Record: rec, EventID: envelope.EventID(it.Connector, pos), Attempt: true,
			Actor: v.Name, Action: "resubmit", At: q.cfg.Now()})
		switch {
		case errors.Is(err, store.ErrConflict):
			out[i].err = conflict(changed)
			continue
		case err != nil:
			out[i].err = &Unavailable{"the item was not resubmitted; retry", err}
			continue
		}
		items[i] = changed
		byConnector[it.Connector] = append(byConnector[it.Connector], i)
	}
	// The items are marked: whatever becomes of the request, settle them.
	sctx := context.WithoutCancel(ctx)
	for connector, idx := range byConnector {
		batch := make([]connectors.Record, len(idx))
		for j, i := range idx {
			batch[j] = recs[i]
		}
		results, err := q.cfg.Ingest(ctx, connector, batch)
		for j, i := range idx {
			var res pipeline.RecordResult
			if err == nil {
				res = results[j]
			}
			out[i].res = res
			if serr := q.settle(sctx, items[i], res, err); serr != nil {
				out[i].err = serr
			} else if err != nil {
				out[i].err = &Unavailable{"the corrected record was not made durable; the item is open again, resubmit it", err}
			}
		}
	}
	return out, nil
}

// settle closes or reopens a resubmitted item after its record's fate.
func (q *Quality) settle(ctx context.Context, it store.QualityItem, res pipeline.RecordResult, ingestErr error) error {
	ch := store.QualityItemChange{From: []string{store.ItemResubmitted}, Actor: "bus", At: q.cfg.Now(), EventID: res.EventID}
	result := ""
	switch {
	case ingestErr != nil:
		ch.Status, ch.Action, ch.Note, result = store.ItemOpen, "resubmit_failed", "the corrected record was not made durable; resubmit it again", "failed"
	case res.Status != pipeline.StatusPublished:
		ch.Status, ch.Action, result = store.ItemOpen, "rejected", "rejected"
		ch.Kind, ch.Path, ch.Reason = res.Kind, res.Path, res.Error
	case identityKinds[res.Identity]:
		ch.Status, ch.Action, result = store.ItemOpen, "rejected", "rejected"
		ch.Kind = res.Identity
		ch.Path, ch.Reason = identityProblem(q.datasets[it.Dataset], res.Identity, res.IdentityFields)
	default:
		ch.Status, ch.Action, result = store.ItemAccepted, "accepted", "accepted"
		ch.Note = "published to " + res.Topic
	}
	if _, err := q.cfg.Store.ChangeQualityItem(ctx, it.ID, ch); err != nil {
		q.cfg.Logger.Error("quality: a resubmitted item could not be settled; it stays resubmitted", "item", it.ID, "error", err)
		return &Unavailable{"the record was sent, but its item could not be updated; retry later", err}
	}
	q.cfg.Metrics.Redrive(it.Source, result)
	return nil
}

// ParseID reads an item id.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, &BadInput{Field: "id", Problem: "the item id must be a positive number, as listed by GET /v1/quality/items"}
	}
	return id, nil
}

// storedRecord reads back the change an item keeps; ok is false for input
// the adapter could not read (it must be corrected, not resent as is).
func storedRecord(it store.QualityItem) (connectors.Record, bool) {
	var doc struct {
		Dataset string         `json:"dataset"`
		Op      string         `json:"op"`
		Before  map[string]any `json:"before"`
		After   map[string]any `json:"after"`
		Raw     *string        `json:"raw"`
	}
	if json.Unmarshal(it.Record, &doc) != nil || doc.Raw != nil || (doc.Before == nil && doc.After == nil) {
		return connectors.Record{}, false
	}
	if doc.Dataset == "" {
		doc.Dataset = it.Dataset
	}
	return connectors.Record{Dataset: doc.Dataset, Op: connectors.Op(doc.Op), Before: doc.Before, After: doc.After}, true
}

// ---- register changes --------------------------------------------------------

// Index is the population index the updater keeps current
// (population.Index).
type Index interface {
	Add(c store.Citizen) error
}

// WatchRegister returns idx with every change of the register also noted
// for Run: the open items about that citizen are re-checked, a death
// turns the rows still active about the citizen into alive findings, and
// a name or residence a dataset's current rows do not carry is kept until
// they do (or becomes a finding after ReflectWithin).
func (q *Quality) WatchRegister(idx Index) Index { return watched{idx, q} }

// regChange is the latest state of a citizen the register changed, and
// whether any change since the last round was a death.
type regChange struct {
	c        store.Citizen
	deceased bool
}

type watched struct {
	Index
	q *Quality
}

func (w watched) Add(c store.Citizen) error {
	if err := w.Index.Add(c); err != nil {
		return err
	}
	w.q.mu.Lock()
	prev := w.q.changed[c.ID]
	w.q.changed[c.ID] = regChange{c: c, deceased: prev.deceased || c.Deceased}
	w.q.mu.Unlock()
	return nil
}

// PendingRegisterChanges is how many register changes wait for Run.
func (q *Quality) PendingRegisterChanges() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.changed)
}

func (q *Quality) processRegisterChanges(ctx context.Context) {
	q.mu.Lock()
	changed := q.changed
	q.changed = map[string]regChange{}
	q.mu.Unlock()
	for id, rc := range changed {
		if ctx.Err() != nil {
			return
		}
		key := q.cfg.CitizenKey(id)
		if key == "" {
			continue
		}
		if err := q.recheck(ctx, key); err != nil {
			q.cfg.Logger.Warn("quality: open items not re-checked after a register change", "error", err)
		}
		if rc.deceased {
			if err := q.aliveFindings(ctx, key); err != nil {
				q.cfg.Logger.Warn("quality: alive findings not made after a death", "error", err)
			}
		} else if err := q.noteRegisterChange(ctx, key, rc.c); err != nil {
			q.cfg.Logger.Warn("quality: a change of the register not noted for its datasets", "error", err)
		}
	}
}

// recheck reconciles the open identity items of a citizen again: one the
// register now confirms is accepted, one with another outcome gets it.
func (q *Quality) recheck(ctx context.Context, citizenKey string) error {
	if q.cfg.Reconcile == nil {
		return nil
	}
	items, err := q.cfg.Store.OpenQualityItemsByCitizen(ctx, citizenKey, 100)
	if err != nil {
		return err
	}
	for _, it := range items {
		ds := q.datasets[it.Dataset]
		rec, ok := storedRecord(it)
		if !identityKinds[it.Kind] || ds == nil || !ok {
			continue
		}
		row := rec.Row()
		get := func(f string) string { s, _ := row[f].(string); return s }
		verdict := q.cfg.Reconcile(pipeline.Claim{ID: get(ds.Identity.ID), Name: get(ds.Identity.Name), DOB: get(ds.Identity.DOB), Sex: get(ds.Identity.Sex), Dataset: ds.Name})
		ch := store.QualityItemChange{From: []string{store.ItemOpen}, Actor: "bus", Action: "recheck", At: q.cfg.Now()}
		switch {
		case verdict.Outcome == string(contract.Verified):
			ch.Status, ch.Note = store.ItemAccepted, "the register changed: the record now reconciles as verified"
		case verdict.Outcome != it.Kind && identityKinds[verdict.Outcome]:
			ch.Status, ch.Kind = store.ItemOpen, verdict.Outcome
			ch.Path, ch.Reason = identityProblem(ds, verdict.Outcome, verdict.Fields)
			ch.Note = "the register changed: the record now reconciles as " + verdict.Outcome
		default:
			continue
		}
		if _, err := q.cfg.Store.ChangeQualityItem(ctx, it.ID, ch); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
		q.cfg.Metrics.Redrive(it.Source, "rechecked")
	}
	return nil
}

// aliveFindings makes an item of every row still active about a citizen
// who has died, and counts it once (several instances may see the death).
func (q *Quality) aliveFindings(ctx context.Context, citizenKey string) error {
	now := q.cfg.Now()
	for _, d := range q.datasets {
		if d.Register || d.Identity.ID == "" || q.exempt(d.Name) {
			continue
		}
		rows, err := q.cfg.Store.StateByCitizen(ctx, d.Name, citizenKey, 100)
		if err != nil {
			return err
		}
		for _, r := range rows {
			var row map[string]any
			_ = json.Unmarshal(r.Row, &row)
			rec, _ := json.Marshal(map[string]any{"dataset": d.Name, "op": "r", "after": row})
			it := store.QualityItem{EventID: "alive:" + d.Name + ":" + r.Key + ":" + citizenKey, Source: d.Owner, Connector: d.Owner,
				Dataset: d.Name, Kind: KindDeceasedActive, Path: "$.after." + d.Identity.ID,
				Reason: "the register records this citizen as deceased, but this record is still active: close or update it at the source",
				Record: rec, EntityKey: r.Key, CitizenKey: citizenKey}
			added, err := q.cfg.Store.AddQualityItems(ctx, []store.QualityItem{it}, now)
			if err != nil {
				return err
			}
			if added == 1 {
				q.cfg.Metrics.ItemsCreated(1)
				q.mu.Lock()
				q.agg(aggKey{d.Owner, d.Name, q.Day(now)}, d).c.DeceasedActive++
				q.mu.Unlock()
			}
		}
	}
	return nil
}

func (q *Quality) exempt(ds string) bool {
	for _, e := range q.cfg.AliveExempt {
		if e == ds {
			return true
		}
	}
	return false
}
