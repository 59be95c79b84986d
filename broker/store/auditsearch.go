package store

import (
	"context"
	"time"
)

// AuditSearch filters SearchAudit, for auditors and for citizens; zero
// fields do not filter.
type AuditSearch struct {
	CitizenKey string
	RequestID  string
	Actor      string // agency
	Dataset    string
	Purpose    string // matches an entry whose purposes (comma-separated) include it
	Decision   string // allow | deny
	Action     string
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	// VisibleAt, when not zero, leaves out the entries still hidden at that
	// time (HiddenUntil after it): the citizen's view passes the current time.
	VisibleAt time.Time
	// Newest returns newest first, paging with BeforeSeq; otherwise oldest
	// first, paging with AfterSeq. Sequence numbers never change, so the
	// cursor is stable while the log grows.
	Newest    bool
	AfterSeq  int64
	BeforeSeq int64
	Limit     int // 0 means 100; at most 1000
}

// AuditBucketShift groups the audit log into buckets of 1 << 14
// consecutive entries (bucket = Seq >> AuditBucketShift). Both backends
// lead their citizen and request-id indexes with the bucket (migration
// 0006), so appends, whose keys are random, touch only the newest bucket's
// part of those indexes, and a search by citizen or request seeks once per
// bucket. The migrations hold the same number.
const AuditBucketShift = 14

// AuditSearcher searches the audit log; both backends implement it.
type AuditSearcher interface {
	SearchAudit(ctx context.Context, q AuditSearch) ([]AuditEntry, error)
}

// SearchLimit is the effective page size of q.
func (q AuditSearch) SearchLimit() int {
	switch {
	case q.Limit <= 0:
		return 100
	case q.Limit > 1000:
		return 1000
	}
	return q.Limit
}
