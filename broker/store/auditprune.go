package store

import "context"

// AuditPruner deletes the oldest entries of the audit log under a retention
// setting. It is the only way entries leave the log: the append-only guard
// of each backend lets a delete through only inside PruneAudit's own
// transaction, and only for the entries it names. Both backends implement
// it.
type AuditPruner interface {
	// PruneAudit deletes every entry with Seq <= through and appends
	// record (the entries that record the deletion, continuing the log as
	// AppendAudit requires) in one transaction: either both happen or
	// neither does. Sequence numbers are never reused, so CountAudit (the
	// highest Seq) is unchanged by the deletion. through must be below the
	// Seq of the last stored entry: the tail of the log is never deleted.
	PruneAudit(ctx context.Context, through int64, record []AuditEntry) error
}
