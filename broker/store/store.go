// Package store is the bus's persistent state behind one interface: the
// schema registry's schemas and subject versions, connector positions, the
// audit log and the population table. Two backends implement it: sqlitestore
// (embedded, dev mode) and pgstore (PostgreSQL, production); storetest holds
// the contract suite both must pass.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// ErrNotFound is returned when the asked-for row does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is everything the bus keeps outside Kafka; both backends implement
// all of it (sqlcore holds the logic). The one optional part is
// AuditStager, a faster append path that only a backend able to hold two
// write transactions at once can offer.
type Store interface {
	SchemaStore
	PositionStore
	AuditStore
	AuditSearcher
	AuditPruner
	AuditFilterStore
	PopulationStore
	StateStore
	StateScanner
	TokenStore
	IdempotencyStore
	ReviewStore
	ClusterKeyStore
	LeaseStore
	SharedDocStore
	QualityStore
	// Ping checks the backend is reachable (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the connection(s).
	Close() error
}

// Lease is which bus instance runs a connector, until when, at which
// epoch (bumped at every takeover).
type Lease struct {
	Name, Owner string
	Epoch       int64
	Expires     time.Time
}

// ErrChainMoved is returned by an audit append whose first Seq is no
// longer the log's next one: another writer (another bus instance)
// appended first. Nothing was stored; read the entries after the last one
// known, chain the batch after them and append again.
var ErrChainMoved = errors.New("store: another writer appended to the audit log first")

// ErrFenced is returned by a write made under a lease its writer no longer
// holds (another instance took the connector over): stop, do not retry.
var ErrFenced = errors.New("store: lease lost to another instance")

// LeaseStore keeps the connectors' leases and saves positions under them.
type LeaseStore interface {
	// AcquireLease takes the lease of name for owner if it is free,
	// expired, or already owner's (a restarted instance), bumping its
	// epoch, and returns the lease as it now is: held when Owner is owner.
	AcquireLease(ctx context.Context, name, owner string, now time.Time, ttl time.Duration) (Lease, error)
	// RenewLease extends a lease held at epoch; false when it is not held.
	RenewLease(ctx context.Context, name, owner string, epoch int64, now time.Time, ttl time.Duration) (bool, error)
	// ReleaseLease lets another instance take the lease at once.
	ReleaseLease(ctx context.Context, name, owner string, epoch int64) error
	// Leases lists every lease.
	Leases(ctx context.Context) ([]Lease, error)
	// PutPositionUnder saves a connector's position only if owner still
	// holds lease at epoch, atomically with that check; ErrFenced if not.
	PutPositionUnder(ctx context.Context, connector string, pos []byte, lease, owner string, epoch int64) error
}

// ClusterKeyStore records the fingerprints of the secrets that every bus
// instance sharing the store must hold alike.
type ClusterKeyStore interface {
	// ClaimClusterKey records fingerprint under name for instance if no
	// instance did before, and returns the fingerprint in force and the
	// instance that recorded it.
	ClaimClusterKey(ctx context.Context, name, fingerprint, instance string) (inForce, by string, err error)
}

// SharedDocStore keeps named documents that every bus instance sharing the
// store reads and writes whole, with compare-and-swap on a version.
type SharedDocStore interface {
	// SharedDoc returns a document and its version; version 0 when there
	// is none yet.
	SharedDoc(ctx context.Context, name string) (doc []byte, version int64, err error)
	// PutSharedDoc writes doc if the stored version is still version (0:
	// there is none yet); the new version is version+1. ErrStale when
	// another writer came first: read again and redo the change.
	PutSharedDoc(ctx context.Context, name string, doc []byte, version int64) error
}

// ErrConflict is returned when a write contradicts what is stored: an
// explicit schema id or subject version (IMPORT mode) already taken by
// another schema, a schema text stored with other references, a permanent
// delete of a version that was not soft-deleted first.
var ErrConflict = errors.New("store: conflict")

// ErrStale is returned by RegisterVersion when the subject's live versions
// are no longer those the caller checked the new schema against: another
// registration or delete (perhaps by another bus instance) came first.
// Nothing was written; check again and retry.
var ErrStale = errors.New("store: subject changed since it was read")

// Schema is a stored schema text. Schemas are deduplicated by exact
// (Type, Text) equality after the registry has normalised the text; never by
// a lossy fingerprint.
type Schema struct {
	ID   int
	Type string // "AVRO", "JSON" or "PROTOBUF", as in Confluent
	Text string
	// Metadata and RuleSet are Confluent's data-contract fields, kept
	// verbatim (as compact JSON) with the schema; "" when it has none.
	// Like the references they belong to the id and never change.
	Metadata string
	RuleSet  string
}

// Registration is one schema registered under a subject, written by
// RegisterVersion in a single transaction.
type Registration struct {
	Subject string
	// Schema is what to store: Type and Text (already normalised by the
	// registry), Metadata and RuleSet. ID is 0, or in IMPORT mode the id
	// to store the schema under.
	Schema     Schema
	References []Reference
	// Version is 0 for the subject's next version, or in IMPORT mode the
	// version number to register.
	Version int
	// Live is the subject's live versions, ascending, as the caller read
	// them to check the schema's compatibility. Outside IMPORT mode
	// RegisterVersion refuses with ErrStale if they have changed since.
	Live []SubjectVersion
}

// Reference is Confluent's SchemaReference: the schema registered as
// Version of Subject, known inside the referring schema as Name (an Avro
// full name or a JSON Schema $ref URL).
type Reference struct {
	Name    string
	Subject string
	Version int
}

// Setting names what a subject (or, with the subject "", the whole
// registry) can be configured with.
type Setting string

// The settings of the registry.
const (
	SettingCompatibility Setting = "compatibility" // NONE, BACKWARD, …
	SettingMode          Setting = "mode"          // READWRITE, READONLY, IMPORT
)

// SubjectVersion is one version of a subject.
type SubjectVersion struct {
	Subject  string
	Version  int
	SchemaID int
	Deleted  bool
}

// SchemaStore holds the registry's data.
type SchemaStore interface {
	// PutSchema returns the id of the schema with this exact type and text,
	// creating it if it does not exist yet; created says which.
	PutSchema(ctx context.Context, schemaType, text string) (id int, created bool, err error)
	// SchemaByID returns ErrNotFound for an unknown id.
	SchemaByID(ctx context.Context, id int) (Schema, error)
	// AddVersion registers schemaID under subject as the next version. If the
	// subject already has a non-deleted version with this schema id, that
	// version is returned and nothing is written.
	AddVersion(ctx context.Context, subject string, schemaID int) (SubjectVersion, error)
	// Versions lists a subject's versions in ascending order; soft-deleted
	// ones only when includeDeleted. An unknown subject gives an empty list.
	Versions(ctx context.Context, subject string, includeDeleted bool) ([]SubjectVersion, error)
	// Subjects lists subject names that have at least one version, sorted.
	Subjects(ctx context.Context, includeDeleted bool) ([]string, error)

	// PutSchemaRefs is PutSchema for a schema with references; the
	// references are part of what is stored with a new schema. If the
	// same type and text is already stored with other references it
	// returns ErrConflict.
	PutSchemaRefs(ctx context.Context, schemaType, text string, refs []Reference) (id int, created bool, err error)
	// References returns the references schema id was stored with, in
	// their registration order; an empty list when none (or unknown id).
	References(ctx context.Context, id int) ([]Reference, error)
	// PutSchemaWithID stores a schema under an explicit id (IMPORT mode).
	// Storing the same schema under the same id again is a no-op; an id
	// taken by another schema, or a schema stored under another id, is
	// ErrConflict. Later PutSchema calls never reuse the id.
	PutSchemaWithID(ctx context.Context, id int, schemaType, text string, refs []Reference) error
	// AddVersionAt registers schemaID as the given version of subject
	// (IMPORT mode). The same (version, schemaID) again is a no-op; a
	// version taken by another schema is ErrConflict; an unknown schemaID
	// is ErrNotFound.
	AddVersionAt(ctx context.Context, subject string, version, schemaID int) (SubjectVersion, error)
	// DeleteVersion soft-deletes (permanent false) or removes (permanent
	// true) one version. ErrNotFound when the version does not exist (or,
	// for a soft delete, is already soft-deleted); ErrConflict for a
	// permanent delete of a version that is not soft-deleted.
	DeleteVersion(ctx context.Context, subject string, version int, permanent bool) error
	// DeleteSubject soft-deletes every live version of subject, or, with
	// permanent, removes every version (all must be soft-deleted already,
	// else ErrConflict) and the subject's settings. It returns the version
	// numbers affected, ascending; ErrNotFound when there are none.
	DeleteSubject(ctx context.Context, subject string, permanent bool) ([]int, error)
	// SchemaVersions lists every subject version (soft-deleted ones only
	// when includeDeleted) that uses schema id, by subject then version.
	SchemaVersions(ctx context.Context, id int, includeDeleted bool) ([]SubjectVersion, error)
	// ReferencedBy returns the ids, ascending, of schemas that reference
	// version of subject and are used by at least one live version.
	ReferencedBy(ctx context.Context, subject string, version int) ([]int, error)
	// GetSetting returns the value of setting for subject ("" is the
	// global one), or ErrNotFound when it has none of its own.
	GetSetting(ctx context.Context, setting Setting, subject string) (string, error)
	// PutSetting sets it.
	PutSetting(ctx context.Context, setting Setting, subject, value string) error
	// DeleteSetting removes it; ErrNotFound when there was none.
	DeleteSetting(ctx context.Context, setting Setting, subject string) error

	// RegisterVersion stores reg.Schema with its references and makes it
	// a version of reg.Subject in one transaction, serialised per subject
	// across every process sharing the store: after any error nothing of
	// it is written.
	//
	// The schema is deduplicated on exact type and text. A stored schema
	// with other references, or with another non-empty Metadata or
	// RuleSet, is ErrConflict; an empty Metadata or RuleSet in reg
	// matches whatever the stored schema has. The returned version's
	// SchemaID is the schema's id.
	//
	// Outside IMPORT mode (reg.Schema.ID == 0): if the subject already
	// has a live version with this schema, that version is returned and
	// nothing is written; otherwise, if the subject's live versions are
	// not reg.Live, it is ErrStale; otherwise the schema becomes the next
	// version (soft-deleted versions keep their numbers).
	//
	// In IMPORT mode the schema is stored under reg.Schema.ID (an id
	// taken by another schema, or the schema stored under another id, is
	// ErrConflict) as version reg.Version, or the next one when 0 (a
	// version taken by another schema is ErrConflict; the same schema
	// again is a no-op). Later registrations never reuse the id.
	RegisterVersion(ctx context.Context, reg Registration) (SubjectVersion, error)
}

// PositionStore holds each connector's last acknowledged position.
type PositionStore interface {
	// GetPosition returns ErrNotFound when the connector has none yet.
	GetPosition(ctx context.Context, connector string) ([]byte, error)
	// PutPosition durably records pos as the connector's position.
	PutPosition(ctx context.Context, connector string, pos []byte) error
}

// AuditEntry is one row of the append-only access log. Seq, PrevHash and Hash
// are set by the audit package before the entry is stored.
type AuditEntry struct {
	Seq         int64     `json:"seq"`    // 1, 2, 3 … in append order, no gaps
	Time        time.Time `json:"time"`   // UTC, microsecond precision is kept
	Actor       string    `json:"actor"`  // agency (and system) that acted or received
	Action      string    `json:"action"` // deliver, lookup, verify, schema.register, …
	Dataset     string    `json:"dataset,omitempty"`
	Fields      []string  `json:"fields,omitempty"` // fields released
	Purpose     string    `json:"purpose,omitempty"`
	LegalBasis  string    `json:"legal_basis,omitempty"`
	AgreementID string    `json:"agreement_id,omitempty"`
	Decision    string    `json:"decision"` // allow | deny
	Reason      string    `json:"reason,omitempty"`
	RequestID   string    `json:"request_id,omitempty"`  // for deliveries: the CloudEvents id of the record
	CitizenKey  string    `json:"citizen_key,omitempty"` // keyed HMAC of the personal number, hex; never the number
	// HiddenUntil, when not zero, hides the entry from the citizen's own
	// view until that time (an agreement's investigation secrecy);
	// auditors always see it. UTC, microsecond precision is kept. Absent
	// from JSON when zero.
	HiddenUntil time.Time `json:"hidden_until,omitzero"`
	PrevHash    []byte    `json:"prev_hash"`
	Hash        []byte    `json:"hash"`
}

// AuditQuery filters ListAudit; zero fields do not filter.
type AuditQuery struct {
	CitizenKey string
	RequestID  string
	Actor      string
	AfterSeq   int64 // exclusive cursor
	Limit      int   // 0 means 100
}

// AuditStore is the append-only log.
type AuditStore interface {
	// AppendAudit stores entries atomically, in one durable write. Seq values
	// must continue the log without gaps; a duplicate Seq is an error.
	AppendAudit(ctx context.Context, entries []AuditEntry) error
	// LastAudit returns the entry with the highest Seq, or ErrNotFound.
	LastAudit(ctx context.Context) (AuditEntry, error)
	// ListAudit returns entries matching q in ascending Seq order.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// CountAudit returns the number of entries.
	CountAudit(ctx context.Context) (int64, error)
}

// AuditStager is implemented by a store that can write a batch of audit
// entries while the batch before it is still being committed: the audit log
// stages group N+1 (its rows sent, its transaction open) during group N's
// durable commit, so the database's work on one overlaps the disk's flush of
// the other. Commits still happen in order, and a batch is only committed
// once the log ends right before it.
type AuditStager interface {
	// StageAudit writes entries (checked as AppendAudit checks them) in a
	// transaction it leaves open. The entries may start past the stored
	// log's end, on top of a batch staged but not yet committed.
	StageAudit(ctx context.Context, entries []AuditEntry) (StagedAudit, error)
}

// StagedAudit is a staged batch of audit entries: exactly one of Commit and
// Rollback must be called.
type StagedAudit interface {
	// Commit durably stores the batch, or nothing of it, in which case the
	// caller must not serve the accesses it records. It fails unless the
	// stored log ends right before the batch; call it only after the batch
	// before has committed.
	Commit(ctx context.Context) error
	// Rollback discards the batch.
	Rollback(ctx context.Context)
}

// Citizen is one person of the population register; the type is shared
// with population sources (connectors/contract), which must not import the bus.
type Citizen = contract.Citizen

// PopulationStore holds the population register that feeds the index.
type PopulationStore interface {
	// PutCitizens inserts or replaces citizens by ID, in bulk.
	PutCitizens(ctx context.Context, cs []Citizen) error
	// CountCitizens returns how many citizens are stored.
	CountCitizens(ctx context.Context) (int64, error)
	// ScanCitizens calls fn for every citizen, in ID order; an error from fn stops the scan.
	ScanCitizens(ctx context.Context, fn func(Citizen) error) error
}
