package quality

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
)

// BulkQuery selects the open items a bulk resubmission sends again: all
// of one reason (Kind, and Path when given) after its cause was fixed (a
// schema rollout, a corrected register), of one source and dataset when
// given.
type BulkQuery struct {
	Source  string `json:"source,omitempty"`
	Dataset string `json:"dataset,omitempty"`
	Kind    string `json:"kind"`
	Path    string `json:"path,omitempty"`
}

// Job is a bulk resubmission and its progress. Jobs live in the memory of
// the instance that runs them.
type Job struct {
	ID       string    `json:"id"`
	By       string    `json:"by"`
	Query    BulkQuery `json:"query"`
	State    string    `json:"state"` // running, done
	Total    int       `json:"total"`
	Done     int       `json:"done"`
	Accepted int       `json:"accepted"`
	// StillOpen were resubmitted and refused again (the item has the new
	// reason); Skipped could not be resent as they are (input the
	// connector could not read: correct each one) or were taken by
	// someone else first; Failed were not made durable (retry).
	StillOpen int       `json:"still_open"`
	Skipped   int       `json:"skipped"`
	Failed    int       `json:"failed"`
	Started   time.Time `json:"started"`
	Finished  time.Time `json:"finished,omitzero"`
}

// job is a running Job.
type job struct {
	mu sync.Mutex
	Job
}

// snapshot copies the job's progress.
func (j *job) snapshot() Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.Job
}

// maxBulk bounds the items of one bulk resubmission.
const maxBulk = 100_000

// StartBulk starts resubmitting, unchanged, every open item of bq that v
// may act on, and returns at once with the job; JobStatus follows it.
func (q *Quality) StartBulk(ctx context.Context, v Viewer, bq BulkQuery) (Job, error) {
	if bq.Kind == "" {
		return Job{}, &BadInput{Field: "$.kind", Problem: "kind is required: a bulk resubmission sends the items of one reason (kind, and path) again"}
	}
	if bq.Source != "" && !v.May(bq.Source) {
		return Job{}, ErrForbidden
	}
	var items []store.QualityItem
	iq := store.QualityItemQuery{Sources: v.sources(bq.Source), Dataset: bq.Dataset, Status: store.ItemOpen, Kind: bq.Kind, Path: bq.Path}
	for len(items) < maxBulk {
		page, err := q.cfg.Store.ListQualityItems(ctx, iq)
		if err != nil {
			return Job{}, &Unavailable{"items unavailable, retry later", err}
		}
		items = append(items, page...)
		if len(page) < store.QualityListLimit(0) {
			break
		}
		iq.AfterID = page[len(page)-1].ID
	}
	j := &job{Job: Job{ID: uuid.NewString(), By: v.Name, Query: bq, State: "running", Total: len(items), Started: q.cfg.Now()}}
	e := store.AuditEntry{Time: q.cfg.Now(), Actor: v.Name, Action: "quality.resubmit_bulk", Dataset: bq.Dataset, Decision: "allow",
		Purpose: "data_quality", RequestID: j.ID, Reason: "resubmit " + itoa(len(items)) + " open items of kind " + bq.Kind + " " + bq.Path}
	if err := q.audit(ctx, e); err != nil {
		return Job{}, err
	}
	q.jobsMu.Lock()
	q.jobs[j.ID] = j
	runCtx := q.runCtx
	q.jobsMu.Unlock()
	go q.runBulk(context.WithoutCancel(runCtx), v, j, items)
	return j.snapshot(), nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }

// JobStatus returns a bulk job's progress; ok is false for an unknown job
// (or one started on another instance).
func (q *Quality) JobStatus(v Viewer, id string) (Job, bool) {
	q.jobsMu.Lock()
	j := q.jobs[id]
	q.jobsMu.Unlock()
	if j == nil {
		return Job{}, false
	}
	s := j.snapshot()
	if !v.Operator && s.By != v.Name {
		return Job{}, false
	}
	return s, true
}

// Jobs lists the bulk jobs v started (the operator: all), newest first.
func (q *Quality) Jobs(v Viewer) []Job {
	q.jobsMu.Lock()
	var out []Job
	for _, j := range q.jobs {
		if s := j.snapshot(); v.Operator || s.By == v.Name {
			out = append(out, s)
		}
	}
	q.jobsMu.Unlock()
	sort.Slice(out, func(a, b int) bool { return out[a].Started.After(out[b].Started) })
	if out == nil {
		out = []Job{}
	}
	return out
}

// runBulk resubmits items 100 at a time, each audited.
func (q *Quality) runBulk(ctx context.Context, v Viewer, j *job, items []store.QualityItem) {
	for len(items) > 0 && ctx.Err() == nil {
		n := min(len(items), 100)
		page := items[:n]
		items = items[n:]
		var sendItems []store.QualityItem
		var recs []connectors.Record
		var audits []store.AuditEntry
		skipped := 0
		for _, it := range page {
			rec, ok := storedRecord(it)
			if !ok {
				skipped++
				continue
			}
			sendItems, recs = append(sendItems, it), append(recs, rec)
			audits = append(audits, q.auditEntry(v, "quality.resubmit", it, "resubmitted unchanged by bulk job "+j.ID))
		}
		var outs []redriven
		err := q.audit(ctx, audits...)
		if err == nil && len(sendItems) > 0 {
			outs, err = q.redrive(ctx, v, sendItems, recs)
		}
		j.mu.Lock()
		j.Skipped += skipped
		j.Done += len(page)
		if err != nil {
			j.Failed += len(sendItems)
		}
		for i, o := range outs {
			switch {
			case o.err != nil && isConflict(o.err):
				j.Skipped++
			case o.err != nil:
				j.Failed++
			case sendItems[i].ID != 0 && o.res.Status == "published" && !identityKinds[o.res.Identity]:
				j.Accepted++
			default:
				j.StillOpen++
			}
		}
		j.mu.Unlock()
	}
	j.mu.Lock()
	j.State, j.Finished = "done", q.cfg.Now()
	j.mu.Unlock()
}
