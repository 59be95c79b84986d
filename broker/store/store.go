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
)

// ErrNotFound is returned when the asked-for row does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is everything the bus keeps outside Kafka.
type Store interface {
	SchemaStore
	PositionStore
	AuditStore
	PopulationStore
	// Ping checks the backend is reachable (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the connection(s).
	Close() error
}

// Schema is a stored schema text. Schemas are deduplicated by exact
// (Type, Text) equality after the registry has normalised the text; never by
// a lossy fingerprint.
type Schema struct {
	ID   int
	Type string // "AVRO", "JSON" or "PROTOBUF", as in Confluent
	Text string
}

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
	Seq         int64     // 1, 2, 3 … in append order, no gaps
	Time        time.Time // UTC, microsecond precision is kept
	Actor       string    // agency (and system) that acted or received
	Action      string    // deliver, lookup, verify, schema.register, …
	Dataset     string
	Fields      []string // fields released
	Purpose     string
	LegalBasis  string
	AgreementID string
	Decision    string // allow | deny
	Reason      string
	RequestID   string // for deliveries: the CloudEvents id of the record
	CitizenKey  string // keyed HMAC of the personal number, hex; never the number
	PrevHash    []byte
	Hash        []byte
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

// Citizen is one person of the population register.
type Citizen struct {
	ID            string // 12-digit personal identification number (CCCD)
	OldID         string // 9-digit CMND number, "" if none
	FullName      string // as registered, NFC
	DOB           string // YYYY-MM-DD
	Sex           string // "M" or "F"
	BirthProvince string // 3-digit code, as in the CCCD prefix
	Deceased      bool
}

// PopulationStore holds the population register that feeds the index.
type PopulationStore interface {
	// PutCitizens inserts or replaces citizens by ID, in bulk.
	PutCitizens(ctx context.Context, cs []Citizen) error
	// CountCitizens returns how many citizens are stored.
	CountCitizens(ctx context.Context) (int64, error)
	// ScanCitizens calls fn for every citizen, in ID order; an error from fn stops the scan.
	ScanCitizens(ctx context.Context, fn func(Citizen) error) error
}
