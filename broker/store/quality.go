package store

import (
	"context"
	"time"
)

// QualityCounts are the scorecard counters of one source and dataset over
// a day (or, summed, over a period); broker/quality defines the indicators
// over them.
type QualityCounts struct {
	Received   int64 // records received
	Valid      int64 // of which valid against the schema (not dead-lettered)
	Duplicates int64 // of which repeats of a change already received
	// Identity outcomes of the valid records (pipeline.Verdict.Outcome).
	Verified, Mismatch, NotFound, InvalidID, Linked, Review, Deceased, Unmatched int64
	// DeceasedActive counts "alive" findings: rows still active about a
	// citizen the register says has died.
	DeceasedActive int64
	// Unreflected counts the other "alive" findings: a change of the
	// register (a new name, a new residence) a dataset still did not carry
	// after quality.reflect_within.
	Unreflected int64
	// LastSeen is when the source last sent a record (UTC, millisecond
	// precision); zero when it never did.
	LastSeen time.Time
}

// Add adds o to c (LastSeen: the later one).
func (c *QualityCounts) Add(o QualityCounts) {
	c.Received += o.Received
	c.Valid += o.Valid
	c.Duplicates += o.Duplicates
	c.Verified += o.Verified
	c.Mismatch += o.Mismatch
	c.NotFound += o.NotFound
	c.InvalidID += o.InvalidID
	c.Linked += o.Linked
	c.Review += o.Review
	c.Deceased += o.Deceased
	c.Unmatched += o.Unmatched
	c.DeceasedActive += o.DeceasedActive
	c.Unreflected += o.Unreflected
	if o.LastSeen.After(c.LastSeen) {
		c.LastSeen = o.LastSeen
	}
}

// QualityFieldCount counts one field: Kind "present" (valid rows carrying
// it) or "mismatch" (identity mismatches on it).
type QualityFieldCount struct {
	Kind, Field string
	N           int64
}

// QualityReason counts rejections of one kind at one JSON path, with one
// example reason (the latest stored).
type QualityReason struct {
	Kind, Path, Example string
	N                   int64
}

// QualityDelta is what to add to the counters of one source, dataset and
// day (days since 1970-01-01 UTC, see QualityDay).
type QualityDelta struct {
	Source, Dataset string
	Day             int64
	QualityCounts
	Fields  []QualityFieldCount
	Reasons []QualityReason
}

// QualityDay is the day number of t (UTC).
func QualityDay(t time.Time) int64 { return t.UTC().Unix() / 86400 }

// QualityDayTime is the start of day d (UTC).
func QualityDayTime(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// QualityQuery selects counters: Sources nil is every source (an empty
// non-nil list is none), Dataset "" every dataset, days FromDay…ToDay
// inclusive.
type QualityQuery struct {
	Sources        []string
	Dataset        string
	FromDay, ToDay int64
}

// QualityRow is one source, dataset and day of counters.
type QualityRow struct {
	Source, Dataset string
	Day             int64
	QualityCounts
}

// QualityFieldRow is a field count summed over a period.
type QualityFieldRow struct {
	Source, Dataset string
	QualityFieldCount
}

// QualityReasonRow is a rejection count summed over a period.
type QualityReasonRow struct {
	Source, Dataset string
	QualityReason
}

// Quality item statuses.
const (
	ItemOpen        = "open"
	ItemResubmitted = "resubmitted"
	ItemAccepted    = "accepted"
	ItemDiscarded   = "discarded"
)

// QualityItem is a dead-lettered or unreconciled record, or an "alive"
// finding, that the owning ministry corrects and resubmits or discards.
type QualityItem struct {
	ID      int64
	EventID string // unique: the record's ce_id, or the finding's own id
	// Source is the catalog source (dataset owner) the item belongs to;
	// Connector the connector it came through (a resubmission enters
	// there).
	Source, Connector, Dataset string
	Kind, Path, Reason         string // what is wrong, as the dead letter says
	Status                     string
	Record                     []byte // JSON: {"dataset","op","before","after"} or {"raw"} as received
	EntityKey                  string
	CitizenKey                 string // keyed HMAC of the row's personal number, "" if none
	Attempts                   int    // resubmissions so far
	LastEventID                string // event id of the latest resubmission
	Created, Updated           time.Time
}

// QualityEvent is one line of an item's history.
type QualityEvent struct {
	ItemID                                          int64
	At                                              time.Time
	Actor, Action, Status, Kind, Path, Reason, Note string
	EventID                                         string
}

// QualityItemQuery selects items; zero fields do not filter (Sources nil:
// every source; an empty non-nil list: none). Items come in ID order after
// AfterID; Limit ≤ 0 or over 1000 is 1000.
type QualityItemQuery struct {
	Sources                     []string
	Dataset, Status, Kind, Path string
	AfterID                     int64
	Limit                       int
}

// QualityItemChange changes an item whose status is one of From, and
// records it in the item's history.
type QualityItemChange struct {
	From                []string
	Status              string
	Kind, Path, Reason  string // "" keeps the item's
	Record              []byte // nil keeps the item's
	EventID             string // a resubmission's event id ("" keeps)
	Attempt             bool   // count a resubmission
	Actor, Action, Note string
	At                  time.Time
}

// QualityStore keeps the scorecards and the redrive items.
type QualityStore interface {
	// AddQuality adds deltas to the counters, in one transaction.
	AddQuality(ctx context.Context, deltas []QualityDelta) error
	// QualityDays returns the counters of q per source, dataset and day,
	// in that order.
	QualityDays(ctx context.Context, q QualityQuery) ([]QualityRow, error)
	// QualityFields sums the field counts of q per source, dataset, kind
	// and field.
	QualityFields(ctx context.Context, q QualityQuery) ([]QualityFieldRow, error)
	// QualityReasons sums the rejections of q per source, dataset, kind
	// and path, most frequent first, up to limit (≤ 0: 20).
	QualityReasons(ctx context.Context, q QualityQuery, limit int) ([]QualityReasonRow, error)
	// AddQualityItems stores items as open, with a "created" history line;
	// an item whose EventID is stored already is skipped. It returns how
	// many were new.
	AddQualityItems(ctx context.Context, items []QualityItem, at time.Time) (int, error)
	// GetQualityItem returns ErrNotFound for an unknown id.
	GetQualityItem(ctx context.Context, id int64) (QualityItem, error)
	// ListQualityItems returns the items of q in ID order.
	ListQualityItems(ctx context.Context, q QualityItemQuery) ([]QualityItem, error)
	// OpenQualityItemsByCitizen returns the open items about a citizen.
	OpenQualityItemsByCitizen(ctx context.Context, citizenKey string, limit int) ([]QualityItem, error)
	// ChangeQualityItem applies ch to item id if its status is one of
	// ch.From, with its history line, in one transaction, and returns the
	// item as stored. ErrNotFound for an unknown id; ErrConflict, with
	// the item as stored, when its status is not one of ch.From.
	ChangeQualityItem(ctx context.Context, id int64, ch QualityItemChange) (QualityItem, error)
	// QualityItemHistory returns an item's history, oldest first.
	QualityItemHistory(ctx context.Context, id int64) ([]QualityEvent, error)
	// NoteRegisterChanges keeps changes of the register a dataset does not
	// carry yet. A change whose Expected equals the one stored for its
	// source, dataset, citizen and field keeps the earlier Changed (a
	// replay or a second instance does not restart the clock); another
	// Expected replaces the stored change.
	NoteRegisterChanges(ctx context.Context, chs []RegisterChange) error
	// ResolveRegisterChanges deletes, for each change, the stored one of
	// its source, dataset, citizen and field if it was noted at or before
	// its Changed (a newer change stays).
	ResolveRegisterChanges(ctx context.Context, chs []RegisterChange) error
	// DueRegisterChanges returns up to limit (≤ 0: 1000) changes noted at
	// or before due, oldest first.
	DueRegisterChanges(ctx context.Context, due time.Time, limit int) ([]RegisterChange, error)
}

// RegisterChange is a change of the register (Field "name" or
// "residence") that the current rows of a dataset about the citizen did
// not carry when it was seen. Expected is a keyed hash of the new value,
// never the value.
type RegisterChange struct {
	Source, Dataset, CitizenKey, Field string
	Expected                           string
	Changed                            time.Time // UTC, millisecond precision
}

// QualityListLimit is the effective page size of a list limit.
func QualityListLimit(limit int) int {
	if limit <= 0 || limit > 1000 {
		return 1000
	}
	return limit
}
