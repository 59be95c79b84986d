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
// that outlive a connection: replication slots, publications. Every hook is
// called on a source that has not been opened, and is idempotent: the host
// calls it again after a failure or a crash before it could record success.
//
// The connector runtime (connectors/runtime) keeps, next to the connector's
// position, the hash of the config it last ran with (HashConfig), and
// before it opens the source:
//   - with no stored position and no stored hash (the connector's first
//     start) it calls OnCreate;
//   - with a stored hash different from the current config's it calls
//     OnUpdate;
//
// then stores the new hash once the hook succeeded; a failing hook is
// retried with back-off like a failing Open. `lgsp connector delete NAME`
// calls OnDelete.
type LifecycleHooks interface {
	// OnCreate is called before the first Open of a new connector; it
	// checks the source and creates what the source needs.
	OnCreate(ctx context.Context) error
	// OnUpdate is called before the first Open after the connector's
	// config changed (tables added, a publication renamed); it brings what
	// OnCreate made in line with the new config.
	OnUpdate(ctx context.Context) error
	// OnDelete is called when the operator deletes the connector, after the
	// bus stopped running it; it releases what OnCreate or Open created
	// (drops the slot, so the ministry's database stops keeping WAL for the
	// bus). A missing resource is not an error.
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
// tables present, permissions granted. `lgsp connector test NAME` calls it
// (through Test) on a source that has not been opened. The error says what
// to fix.
type ConnectionTester interface {
	TestConnection(ctx context.Context) error
}
