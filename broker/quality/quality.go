// Package quality turns what the bus learns about each ministry's records
// into the loop that cleans the data: scorecards per source, dataset and
// day (records received, valid, reconciled by outcome, duplicates; the
// indicators correct, sufficient, clean and alive; top rejection reasons;
// the trend), and the redrive of every dead-lettered or unreconciled
// record, which its ministry corrects and resubmits through the whole
// pipeline or discards with a reason.
//
// Counting is incremental: the pipeline hands each batch Kafka has
// acknowledged to Quality.Batch (a pipeline.BatchObserver), which adds it
// to counters in memory; Run flushes them to the store as upserts that add,
// so several instances and restarts add up and no topic is ever re-read.
// Register changes reach it through WatchRegister: a change re-checks the
// open items about that citizen, a death turns the rows still active
// about that citizen into "alive" findings, and a new name or residence
// that a dataset's current row does not carry is kept in the store until
// the dataset carries it, or becomes an "alive" finding after
// Config.ReflectWithin.
package quality

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/schemas"
)

// Store is what quality keeps its data in: the scorecards and items, and
// the dataset state (which rows are active about a citizen).
type Store interface {
	store.QualityStore
	StateByCitizen(ctx context.Context, dataset, citizenKey string, limit int) ([]store.StateRow, error)
}

// Ingester is the pipeline's synchronous entry point (a resubmission is
// ingested like a pushed record and waits for Kafka).
type Ingester func(ctx context.Context, connector string, recs []connectors.Record) ([]pipeline.RecordResult, error)

// Config wires a Quality.
type Config struct {
	Store   Store
	Catalog *schemas.Catalog
	// CitizenKey is the audit log's keyed HMAC of a personal number; items
	// and state rows find a citizen by it, never by the number.
	CitizenKey func(personalNumber string) string
	// Reconcile re-checks an open item's person after a register change
	// (the pipeline's reconciler).
	Reconcile pipeline.Reconciler
	// Ingest sends a resubmitted record through the whole pipeline.
	Ingest Ingester
	// Audit records every action on an item (resubmit, discard, a refused
	// attempt) before it is taken.
	Audit func(ctx context.Context, entries []store.AuditEntry) error
	// FlushEvery is how often the counters in memory are added to the
	// store (default 2s): a crash loses at most this much counting.
	FlushEvery time.Duration
	// Zone is the time zone whose days the scorecards count in (default
	// Vietnam, UTC+7).
	Zone *time.Location
	// AliveExempt are datasets whose rows are about the dead by nature
	// (default civil_status.death_registration): no alive finding for them.
	AliveExempt []string
	// ReflectWithin is how long a dataset has to carry a change of the
	// register (a new name, a new residence) before its current row about
	// that citizen becomes an alive finding (default 30 days).
	ReflectWithin time.Duration
	// ReflectExempt are datasets whose rows record a past event as it was
	// (default the birth, death and marriage registrations and land
	// transfers): a later change of the register does not make them stale.
	ReflectExempt []string
	// ResidenceFields names, per dataset, the row field holding the
	// person's own residence, which must follow the register's (default
	// tax.taxpayer's address; a land parcel's address is the parcel's).
	ResidenceFields map[string]string
	// Metrics receives the quality metrics (nil: none).
	Metrics *metrics.Quality
	Logger  *slog.Logger
	Now     func() time.Time
}

// Quality keeps the scorecards and the redrive items.
type Quality struct {
	cfg      Config
	datasets map[string]*dataset

	mu      sync.Mutex
	aggs    map[aggKey]*agg
	items   [][]store.QualityItem // by batch: appended whole, never copied on the pipeline's path
	nitems  int
	changed map[string]regChange      // by personal number, waiting for Run
	seen    map[string]map[string]int // Batch's, per dataset; cleared and kept between batches

	lastSweep time.Time // of the register changes past ReflectWithin (Run's goroutine only)

	jobsMu sync.Mutex
	jobs   map[string]*job
	runCtx context.Context
}

// dataset is what quality needs to know about a catalog dataset.
type dataset struct {
	schemas.Dataset
	fields []string // the row's fields, for completeness
	quoted []byte   // the name as a JSON string, for itemRecord
}

type aggKey struct {
	source, dataset string
	day             int64
}

type agg struct {
	c store.QualityCounts
	// present counts, per field of the dataset's schema (dataset.fields,
	// same order), the valid rows carrying it: a slice, as this is the
	// per-record work.
	present  []int64
	fields   []string
	mismatch map[string]int64
	reasons  map[[2]string]*store.QualityReason
}

// maxPendingItems bounds the items kept in memory while the store is
// unreachable; past it new items are dropped (and counted as such).
const maxPendingItems = 100_000

// New builds a Quality; call Run to flush its counters.
func New(cfg Config) (*Quality, error) {
	if cfg.Store == nil || cfg.Catalog == nil {
		return nil, errors.New("quality: Config.Store and Config.Catalog are required")
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 2 * time.Second
	}
	if cfg.Zone == nil {
		cfg.Zone = time.FixedZone("ICT", 7*3600)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AliveExempt == nil {
		cfg.AliveExempt = []string{"civil_status.death_registration"}
	}
	if cfg.ReflectWithin <= 0 {
		cfg.ReflectWithin = 30 * 24 * time.Hour
	}
	if cfg.ReflectExempt == nil {
		cfg.ReflectExempt = []string{"civil_status.birth_registration", "civil_status.death_registration",
			"civil_status.marriage_registration", "land.land_transfer"}
	}
	if cfg.ResidenceFields == nil {
		cfg.ResidenceFields = map[string]string{"tax.taxpayer": "address"}
	}
	if cfg.CitizenKey == nil {
		cfg.CitizenKey = func(string) string { return "" }
	}
	q := &Quality{cfg: cfg, datasets: map[string]*dataset{}, aggs: map[aggKey]*agg{}, changed: map[string]regChange{},
		jobs: map[string]*job{}, runCtx: context.Background()}
	for _, d := range cfg.Catalog.Datasets() {
		q.datasets[d.Name] = &dataset{Dataset: d, fields: SchemaFields(d), quoted: []byte(jsonString(d.Name))}
	}
	return q, nil
}

// Day is the day number (days since 1970-01-01 in the configured zone) of t.
func (q *Quality) Day(t time.Time) int64 {
	_, off := t.In(q.cfg.Zone).Zone()
	return floorDiv(t.Unix()+int64(off), 86400)
}

// DayOfDate is the day number of a date, YYYY-MM-DD.
func (q *Quality) DayOfDate(s string) (int64, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, q.cfg.Zone)
	if err != nil {
		return 0, err
	}
	return q.Day(t), nil
}

// DayStart is the first instant of day d in the configured zone.
func (q *Quality) DayStart(d int64) time.Time {
	t := time.Unix(d*86400, 0).UTC() // midnight UTC carries the zone's date of day d
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, q.cfg.Zone)
}

func floorDiv(a, b int64) int64 {
	d := a / b
	if a%b < 0 {
		d--
	}
	return d
}

// sourceOf is the catalog source a record of dataset belongs to: the
// dataset's owner, or the connector for a dataset the catalog lacks.
func (q *Quality) sourceOf(connector, ds string) string {
	if d, ok := q.datasets[ds]; ok {
		return d.Owner
	}
	return connector
}

// redrivePrefix starts the position of a resubmitted record, so Batch
// does not make a second item of it (the resubmission settles its item).
const redrivePrefix = "redrive:"

// identityKinds are the reconciliation outcomes that make an item: the
// record was published, but its person disagrees with the register.
var identityKinds = map[string]bool{string(contract.Mismatch): true, string(contract.NotFound): true,
	string(contract.InvalidID): true, string(contract.Deceased): true}

// Batch implements pipeline.BatchObserver: it counts a batch Kafka has
// acknowledged and keeps its rejected and unreconciled records as items.
func (q *Quality) Batch(connector string, recs []connectors.Record, results []pipeline.RecordResult) {
	now := q.cfg.Now()
	day := q.Day(now)
	var items []store.QualityItem
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.clearSeen()
	var seen map[string]int // the dataset's entity key → record index, for duplicates
	// A batch is mostly of one dataset: its scorecard is looked up once.
	var lastDataset, source string
	var ds *dataset
	var a *agg
	for i := range recs {
		r, res := &recs[i], &results[i]
		if a == nil || r.Dataset != lastDataset {
			lastDataset = r.Dataset
			ds = q.datasets[r.Dataset]
			source = q.sourceOf(connector, r.Dataset)
			a = q.agg(aggKey{source, r.Dataset, day}, ds)
			seen = nil
		}
		a.c.Received++
		at := r.Time
		if at.IsZero() || at.After(now) {
			at = now
		}
		if at.After(a.c.LastSeen) {
			a.c.LastSeen = at
		}
		redrive := bytes.HasPrefix(r.Position, []byte(redrivePrefix))
		if res.Status != pipeline.StatusPublished {
			rk := [2]string{res.Kind, res.Path}
			reason := a.reasons[rk]
			if reason == nil {
				reason = &store.QualityReason{Kind: res.Kind, Path: res.Path}
				a.reasons[rk] = reason
			}
			reason.N++
			reason.Example = res.Error
			if !redrive {
				items = append(items, q.item(connector, source, r, res, ds, res.Kind, res.Path, res.Error))
			}
			continue
		}
		a.c.Valid++
		countOutcome(&a.c, res.Identity, 1)
		row := r.Row()
		if ds != nil {
			for j, f := range ds.fields {
				if v, ok := row[f]; ok && v != nil && v != "" {
					a.present[j]++
				}
			}
			if r.Op == connectors.OpUpdate && r.Before != nil && equalRows(r.Before, r.After) {
				a.c.Duplicates++ // an update that changes nothing
			} else if len(ds.Key) > 0 {
				if seen == nil {
					seen = q.seenOf(r.Dataset, len(recs))
				}
				key := res.Key // as the pipeline made it for Kafka
				if key == "" {
					key = envelope.Key(row, ds.Key)
				}
				if j, ok := seen[key]; ok && recs[j].Op == r.Op && equalRows(recs[j].Row(), row) {
					a.c.Duplicates++ // the same change twice
				}
				seen[key] = i
			}
		}
		if res.Identity == string(contract.Mismatch) {
			for f := range strings.SplitSeq(res.IdentityFields, ",") {
				if name, _, _ := strings.Cut(f, ":"); name != "" {
					a.mismatch[name]++
				}
			}
		}
		if identityKinds[res.Identity] && !redrive {
			path, reason := identityProblem(ds, res.Identity, res.IdentityFields)
			items = append(items, q.item(connector, source, r, res, ds, res.Identity, path, reason))
		}
	}
	if q.nitems+len(items) > maxPendingItems {
		q.cfg.Metrics.ItemsDropped(len(items))
		q.cfg.Logger.Warn("quality: the store is behind; items of a batch were not kept", "items", len(items))
		return
	}
	if len(items) > 0 {
		q.items = append(q.items, items)
		q.nitems += len(items)
	}
}

// seenOf is Batch's map of the entity keys of dataset ds seen in the
// batch: one per dataset, keyed by the key alone (a string key hashes
// fastest), made once and reused by later batches. Called with q.mu held.
func (q *Quality) seenOf(ds string, n int) map[string]int {
	m := q.seen[ds]
	if m == nil {
		if q.seen == nil {
			q.seen = map[string]map[string]int{}
		}
		m = make(map[string]int, n)
		q.seen[ds] = m
	}
	return m
}

// clearSeen empties the maps of seenOf after a batch, so they keep no key
// of it; one an unusually large batch grew is let go. Called with q.mu
// held.
func (q *Quality) clearSeen() {
	for ds, m := range q.seen {
		if len(m) > 4096 {
			delete(q.seen, ds)
		} else {
			clear(m)
		}
	}
}

func (q *Quality) agg(k aggKey, ds *dataset) *agg {
	a := q.aggs[k]
	if a == nil {
		a = &agg{mismatch: map[string]int64{}, reasons: map[[2]string]*store.QualityReason{}}
		if ds != nil {
			a.fields, a.present = ds.fields, make([]int64, len(ds.fields))
		}
		q.aggs[k] = a
	}
	return a
}

func countOutcome(c *store.QualityCounts, outcome string, n int64) {
	switch contract.Outcome(outcome) {
	case contract.Verified:
		c.Verified += n
	case contract.Mismatch:
		c.Mismatch += n
	case contract.NotFound:
		c.NotFound += n
	case contract.InvalidID:
		c.InvalidID += n
	case contract.Linked:
		c.Linked += n
	case contract.Review:
		c.Review += n
	case contract.Deceased:
		c.Deceased += n
	case contract.Unmatched:
		c.Unmatched += n
	}
}

// identityProblem is the path and reason of an unreconciled record.
func identityProblem(ds *dataset, outcome, fields string) (path, reason string) {
	path = "$"
	if ds != nil && ds.Identity.ID != "" {
		path = "$.after." + ds.Identity.ID
	}
	switch contract.Outcome(outcome) {
	case contract.Mismatch:
		if ds != nil {
			if f, _, _ := strings.Cut(fields, ":"); f != "" {
				if col := identityColumn(ds, f); col != "" {
					path = "$.after." + col
				}
			}
		}
		return path, "the personal number exists, but the register disagrees on: " + fields
	case contract.NotFound:
		return path, "no citizen of the register has this personal number"
	case contract.InvalidID:
		return path, "the personal number is malformed, or contradicts the birth year or sex given"
	case contract.Deceased:
		return path, "the register records this citizen as deceased"
	}
	return path, outcome
}

// identityColumn is the row column of an identity field named by the
// reconciler (name, dob, sex, id).
func identityColumn(ds *dataset, field string) string {
	switch field {
	case "name":
		return ds.Identity.Name
	case "dob":
		return ds.Identity.DOB
	case "sex":
		return ds.Identity.Sex
	case "id":
		return ds.Identity.ID
	}
	return ""
}

// item makes the item of a record as received.
func (q *Quality) item(connector, source string, r *connectors.Record, res *pipeline.RecordResult, ds *dataset, kind, path, reason string) store.QualityItem {
	it := store.QualityItem{EventID: res.EventID, Source: source, Connector: connector, Dataset: r.Dataset, Kind: kind, Path: path,
		Reason: reason, Record: itemRecord(r, res, ds)}
	if ds != nil {
		row := r.Row()
		if it.EntityKey = res.Key; it.EntityKey == "" && len(ds.Key) > 0 && row != nil { // res.Key: as the pipeline made it
			it.EntityKey = envelope.Key(row, ds.Key)
		}
		if ds.Identity.ID != "" && row != nil {
			if id, _ := row[ds.Identity.ID].(string); id != "" {
				it.CitizenKey = q.cfg.CitizenKey(id)
			}
		}
	}
	return it
}

// RecordJSON is a record as received, as an item keeps it: the change
// (dataset, op, before, after) or, for input the adapter could not read,
// the raw text, with the adapter's metadata.
func RecordJSON(r *connectors.Record) []byte {
	doc := map[string]any{"dataset": r.Dataset, "op": r.Op}
	if r.Bad != nil {
		doc["raw"] = string(bytes.ToValidUTF8(r.Bad.Raw, []byte("\uFFFD")))
	} else {
		if r.Before != nil {
			doc["before"] = r.Before
		}
		if r.After != nil {
			doc["after"] = r.After
		}
	}
	if len(r.Metadata) > 0 {
		doc["metadata"] = r.Metadata
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return []byte(`{"dataset":` + jsonString(r.Dataset) + `,"unencodable":true}`)
	}
	return b
}

// itemRecord is RecordJSON(r), byte for byte, put together from the rows
// the pipeline already encoded (RecordResult.Before/After) rather than
// encoding them again: this is most of the upkeep of a bad record. The
// keys are in json.Marshal's order (sorted), and the rows are
// json.Marshal's output, as RecordJSON nests them.
func itemRecord(r *connectors.Record, res *pipeline.RecordResult, ds *dataset) []byte {
	if ds == nil || r.Bad != nil || (r.Before != nil) != (res.Before != nil) || (r.After != nil) != (res.After != nil) {
		return RecordJSON(r) // the pipeline did not encode the rows (an Avro dataset, an early dead letter)
	}
	var meta []byte
	if len(r.Metadata) > 0 {
		var err error
		if meta, err = json.Marshal(r.Metadata); err != nil {
			return RecordJSON(r)
		}
	}
	b := make([]byte, 0, len(res.After)+len(res.Before)+len(ds.quoted)+len(meta)+48)
	b = append(b, '{')
	if res.After != nil {
		b = append(append(b, `"after":`...), res.After...)
		b = append(b, ',')
	}
	if res.Before != nil {
		b = append(append(b, `"before":`...), res.Before...)
		b = append(b, ',')
	}
	b = append(append(b, `"dataset":`...), ds.quoted...)
	if meta != nil {
		b = append(append(b, `,"metadata":`...), meta...)
	}
	b = append(b, `,"op":`...)
	if r.Op.Valid() { // c, u, d or r: nothing to escape
		b = append(append(append(b, '"'), r.Op...), '"')
	} else {
		b = append(b, jsonString(string(r.Op))...)
	}
	return append(b, '}')
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// equalRows compares two rows as decoded JSON values.
func equalRows(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || !equalValue(va, vb) {
			return false
		}
	}
	return true
}

func equalValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		return ok && equalRows(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		defer func() { _ = recover() }() // uncomparable values are not equal
		return a == b
	}
}

// Flush adds the counters and items gathered so far to the store. What
// could not be stored is kept for the next Flush.
func (q *Quality) Flush(ctx context.Context) error {
	q.mu.Lock()
	aggs, items := q.aggs, slices.Concat(q.items...)
	q.aggs, q.items, q.nitems = map[aggKey]*agg{}, nil, 0
	q.mu.Unlock()
	deltas := make([]store.QualityDelta, 0, len(aggs))
	for k, a := range aggs {
		d := store.QualityDelta{Source: k.source, Dataset: k.dataset, Day: k.day, QualityCounts: a.c}
		for j, n := range a.present {
			d.Fields = append(d.Fields, store.QualityFieldCount{Kind: FieldPresent, Field: a.fields[j], N: n})
		}
		for f, n := range a.mismatch {
			d.Fields = append(d.Fields, store.QualityFieldCount{Kind: FieldMismatch, Field: f, N: n})
		}
		for _, r := range a.reasons {
			d.Reasons = append(d.Reasons, *r)
		}
		deltas = append(deltas, d)
	}
	var errs []error
	if err := q.cfg.Store.AddQuality(ctx, deltas); err != nil {
		errs = append(errs, err)
		q.mu.Lock()
		for k, a := range aggs {
			q.merge(k, a)
		}
		q.mu.Unlock()
	} else {
		for _, d := range deltas {
			q.cfg.Metrics.Counted(d.Source, d.Dataset, d.QualityCounts)
		}
	}
	for len(items) > 0 {
		n := min(len(items), 500)
		added, err := q.cfg.Store.AddQualityItems(ctx, items[:n], q.cfg.Now())
		if err != nil {
			errs = append(errs, err)
			q.mu.Lock()
			q.items = append([][]store.QualityItem{items}, q.items...)
			q.nitems += len(items)
			q.mu.Unlock()
			break
		}
		q.cfg.Metrics.ItemsCreated(added)
		items = items[n:]
	}
	return errors.Join(errs...)
}

func (q *Quality) merge(k aggKey, from *agg) {
	a := q.agg(k, q.datasets[k.dataset])
	a.c.Add(from.c)
	for j, n := range from.present {
		if j < len(a.present) {
			a.present[j] += n
		}
	}
	for f, n := range from.mismatch {
		a.mismatch[f] += n
	}
	for rk, r := range from.reasons {
		if x := a.reasons[rk]; x != nil {
			x.N += r.N
		} else {
			a.reasons[rk] = r
		}
	}
}

// Field count kinds.
const (
	FieldPresent  = "present"
	FieldMismatch = "mismatch"
)

// Run flushes the counters every FlushEvery, re-checks items after
// register changes and refreshes the metrics, until ctx ends; it then
// flushes once more.
func (q *Quality) Run(ctx context.Context) {
	q.jobsMu.Lock()
	q.runCtx = ctx
	q.jobsMu.Unlock()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second) // even when stopped at once
	q.reopenStale(sctx)
	cancel()
	tick := time.NewTicker(q.cfg.FlushEvery)
	defer tick.Stop()
	var refreshed time.Time
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := q.Flush(fctx); err != nil {
				q.cfg.Logger.Error("quality: the last counters could not be stored", "error", err)
			}
			cancel()
			return
		case <-tick.C:
		}
		q.Tick(ctx)
		if q.cfg.Metrics != nil && time.Since(refreshed) > 30*time.Second {
			refreshed = time.Now()
			q.refreshIndicators(ctx)
		}
	}
}

// staleResubmission is how long an item may stay resubmitted before Run,
// at start, takes it for one whose bus stopped before the record's fate
// was known, and opens it again.
const staleResubmission = 10 * time.Minute

// reopenStale opens again the items left resubmitted by a bus that
// stopped (or crashed) between sending a correction and settling it.
func (q *Quality) reopenStale(ctx context.Context) {
	cutoff := q.cfg.Now().Add(-staleResubmission)
	iq := store.QualityItemQuery{Status: store.ItemResubmitted}
	for ctx.Err() == nil {
		items, err := q.cfg.Store.ListQualityItems(ctx, iq)
		if err != nil {
			q.cfg.Logger.Warn("quality: stale resubmissions not checked", "error", err)
			return
		}
		for _, it := range items {
			if it.Updated.After(cutoff) {
				continue
			}
			_, err := q.cfg.Store.ChangeQualityItem(ctx, it.ID, store.QualityItemChange{From: []string{store.ItemResubmitted}, Status: store.ItemOpen,
				Actor: "bus", Action: "resubmit_lost", Note: "the bus stopped before the resubmission was settled; if the record is not on the canonical topic, resubmit it again",
				At: q.cfg.Now()})
			if err != nil && !errors.Is(err, store.ErrConflict) {
				q.cfg.Logger.Warn("quality: a stale resubmission was not reopened", "item", it.ID, "error", err)
			}
		}
		if len(items) < store.QualityListLimit(0) {
			return
		}
		iq.AfterID = items[len(items)-1].ID
	}
}

// Tick is one round of Run: flush the counters, then handle the register
// changes noted since the last round.
func (q *Quality) Tick(ctx context.Context) {
	if err := q.Flush(ctx); err != nil && ctx.Err() == nil {
		q.cfg.Logger.Warn("quality: counters not stored yet, retrying", "error", err)
	}
	q.processRegisterChanges(ctx)
	if err := q.sweepUnreflected(ctx); err != nil && ctx.Err() == nil {
		q.cfg.Logger.Warn("quality: register changes past quality.reflect_within not checked yet, retrying", "error", err)
	}
}

// Observer returns obs (the metrics) with q's Batch added: wire it as the
// pipeline's Observer so both see every batch.
func (q *Quality) Observer(obs pipeline.Observer) pipeline.Observer {
	if obs == nil {
		obs = nopObserver{}
	}
	return observer{obs, q}
}

type observer struct {
	pipeline.Observer
	q *Quality
}

func (o observer) Batch(connector string, recs []connectors.Record, results []pipeline.RecordResult) {
	o.q.Batch(connector, recs, results)
}

type nopObserver struct{}

func (nopObserver) Ingested(string, int)                {}
func (nopObserver) Published(string, int)               {}
func (nopObserver) DeadLettered(string, string, string) {}
func (nopObserver) Reconciled(string, int)              {}
func (nopObserver) Latency(time.Duration)               {}

// refreshIndicators sets the indicator gauges to today's scorecard.
func (q *Quality) refreshIndicators(ctx context.Context) {
	today := q.Day(q.cfg.Now())
	sc, err := q.Scorecard(ctx, Viewer{Operator: true}, Query{FromDay: today, ToDay: today})
	if err != nil {
		return
	}
	for _, r := range sc.Datasets {
		q.cfg.Metrics.Indicators(r.Source, r.Dataset, r.Indicators.Correct, r.Indicators.Sufficient, r.Indicators.Clean, r.Indicators.Alive)
	}
}
