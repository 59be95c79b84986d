package connectors

import "context"

// Optional capabilities. A source implements only the ones it needs; the
// runtime and the CLI discover them with a type assertion, so adding one
// never breaks an existing adapter.

// Snapshotter is a source that starts with a consistent snapshot of the rows
// already in the source (records with op "r") before it streams changes.
type Snapshotter interface {
	// SnapshotStatus reports whether the initial snapshot is running and how
	// many rows it has read so far; the runtime shows it in the state API.
	SnapshotStatus() SnapshotStatus
}

// SnapshotStatus is the progress of a source's initial snapshot.
type SnapshotStatus struct {
	Running bool   `json:"running"`
	Done    bool   `json:"done"`
	Rows    uint64 `json:"rows"`
	Table   string `json:"table,omitempty"` // the table being read
}

// LifecycleHooks is a source that owns resources in the ministry's system
// that outlive a connection: replication slots, publications. Both hooks
// are called on a source that has not been opened.
type LifecycleHooks interface {
	// OnCreate is called once when an operator creates the connector; it
	// checks the source and creates what the source needs. It is idempotent.
	OnCreate(ctx context.Context) error
	// OnDelete is called once when the connector is deleted, after the last
	// Close; it releases what OnCreate or Open created (drops the slot, so
	// the ministry's database stops keeping WAL for the bus). It is
	// idempotent: a missing resource is not an error.
	OnDelete(ctx context.Context) error
}

// Heartbeater is a source that must tell its server it is alive even when no
// record flows, for example so that an idle replication slot does not pin
// WAL. The source sends heartbeats itself while it is open; the runtime may
// also call Heartbeat when the connector has been idle for a while.
type Heartbeater interface {
	Heartbeat(ctx context.Context) error
}

// ConnectionTester is a source that can check its configuration against the
// real system without reading anything: reachable, credentials accepted,
// tables present, permissions granted. `lgsp connector test` calls it. The
// error says what to fix.
type ConnectionTester interface {
	TestConnection(ctx context.Context) error
}
