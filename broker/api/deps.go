package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/pki"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/prometheus/client_golang/prometheus"
)

// The handlers depend on the small interfaces below, each named by what
// they need of the bus, so that they can be tested with fakes in this
// package; the runtime gives one implementation of each. The *Funcs types
// make an implementation out of plain functions, the way http.HandlerFunc
// makes a handler.

// Ingester is the pipeline's synchronous entry point.
type Ingester interface {
	Ingest(ctx context.Context, connector string, recs []connectors.Record) ([]pipeline.RecordResult, error)
}

// ConnectorControl is the connectors this instance runs.
type ConnectorControl interface {
	// States lists each connector's state (position, counts, health).
	States() []runtime.State
	// Reset restarts a connector at pos (ErrNoConnector if unknown).
	Reset(ctx context.Context, name string, pos []byte) error
}

// ConnectorFuncs is a ConnectorControl made of two functions.
type ConnectorFuncs struct {
	StatesFunc func() []runtime.State
	ResetFunc  func(ctx context.Context, name string, pos []byte) error
}

// States calls f.StatesFunc.
func (f ConnectorFuncs) States() []runtime.State { return f.StatesFunc() }

// Reset calls f.ResetFunc.
func (f ConnectorFuncs) Reset(ctx context.Context, name string, pos []byte) error {
	return f.ResetFunc(ctx, name, pos)
}

// AgreementAdmin changes the agreements in force. Each change is validated
// with every other agreement, audited and put in force, or changes
// nothing (see agreements.go for the errors it may return).
type AgreementAdmin interface {
	// Reload loads the agreement files (and the agency registry) again and
	// puts them in force if they are all valid.
	Reload(ctx context.Context) (AgreementChange, error)
	// Put writes one agreement file, YAML, into the agreements folder.
	Put(ctx context.Context, id string, yamlText []byte) (AgreementChange, error)
	// Delete removes one agreement file.
	Delete(ctx context.Context, id string) (AgreementChange, error)
}

// AgreementFuncs is an AgreementAdmin made of three functions.
type AgreementFuncs struct {
	ReloadFunc func(ctx context.Context) (AgreementChange, error)
	PutFunc    func(ctx context.Context, id string, yamlText []byte) (AgreementChange, error)
	DeleteFunc func(ctx context.Context, id string) (AgreementChange, error)
}

// Reload calls f.ReloadFunc.
func (f AgreementFuncs) Reload(ctx context.Context) (AgreementChange, error) {
	return f.ReloadFunc(ctx)
}

// Put calls f.PutFunc.
func (f AgreementFuncs) Put(ctx context.Context, id string, yamlText []byte) (AgreementChange, error) {
	return f.PutFunc(ctx, id, yamlText)
}

// Delete calls f.DeleteFunc.
func (f AgreementFuncs) Delete(ctx context.Context, id string) (AgreementChange, error) {
	return f.DeleteFunc(ctx, id)
}

// AgencyRegistry is the agency registry in force: who owns which source,
// who is an auditor, who is suspended, which systems an agency has.
type AgencyRegistry interface {
	Agencies() *policies.Agencies
}

// RegistryFunc is an AgencyRegistry made of a function.
type RegistryFunc func() *policies.Agencies

// Agencies calls f.
func (f RegistryFunc) Agencies() *policies.Agencies { return f() }

// TokenStore keeps agencies' API tokens (credentials.Tokens).
type TokenStore interface {
	Issue(ctx context.Context, agency string) (id, secret string, err error)
	// Verify returns the agency a secret belongs to; credentials.ErrInvalid
	// for a wrong, unknown or revoked one.
	Verify(ctx context.Context, secret string) (agency, id string, err error)
	Revoke(ctx context.Context, id string) error
	List(ctx context.Context, agency string) ([]store.APIToken, error)
}

// CitizenKeys turns a personal number into the keyed hash under which the
// store and the audit log know the citizen (audit.Log), so that the number
// itself is kept nowhere.
type CitizenKeys interface {
	CitizenKey(personalNumber string) string
}

// CitizenTokens verifies citizens' bearer tokens (citizenauth.Verifier).
type CitizenTokens interface {
	// Verify returns the personal number the token proves.
	Verify(token string) (string, error)
}

// KafkaUsers manages the Kafka users of kafka.auth.
type KafkaUsers interface {
	// RotatePassword gives user a new password and puts it on the cluster
	// (ErrKafkaAuthOff, ErrNoKafkaUser).
	RotatePassword(ctx context.Context, user string) (string, error)
}

// KafkaPasswordFunc is a KafkaUsers made of a function.
type KafkaPasswordFunc func(ctx context.Context, user string) (string, error)

// RotatePassword calls f.
func (f KafkaPasswordFunc) RotatePassword(ctx context.Context, user string) (string, error) {
	return f(ctx, user)
}

// Instance describes this bus instance.
type Instance interface {
	// Status is the answer of GET /v1/status (counts, lags, uptime).
	Status() any
	// Role is this instance's part in the cluster, shown by /readyz: its
	// id, the connectors it runs, whether it signs checkpoints, the
	// cluster's members (nil: not shown).
	Role() any
}

// InstanceFuncs is an Instance made of two functions (RoleFunc may be nil).
type InstanceFuncs struct {
	StatusFunc func() any
	RoleFunc   func() any
}

// Status calls f.StatusFunc.
func (f InstanceFuncs) Status() any { return f.StatusFunc() }

// Role calls f.RoleFunc, if any.
func (f InstanceFuncs) Role() any {
	if f.RoleFunc == nil {
		return nil
	}
	return f.RoleFunc()
}

// Deps is what the API serves from. A nil interface turns off what it
// serves, as each field says.
type Deps struct {
	// Catalog is the datasets the bus carries: GET /v1/datasets, and the
	// datasets a lookup or verification may name.
	Catalog *schemas.Catalog
	// SchemaIDs maps a dataset to its envelope schema's id in the registry.
	SchemaIDs map[string]int
	// Sources are the sources allowed to push (their DLQ topics exist).
	Sources map[string]bool
	// Ingest takes pushed records through the pipeline.
	Ingest Ingester
	// Idempotency remembers push answers by Idempotency-Key (nil: keys only
	// make event ids stable).
	Idempotency store.IdempotencyStore
	// Connectors lists and resets the connectors (GET /v1/connectors, POST
	// /v1/connectors/{name}/reset); nil: this instance runs none.
	Connectors ConnectorControl
	// Engine decides lookups and verifications under the agreements in
	// force, and lists them.
	Engine *policies.Engine
	// Agreements changes the agreements through /v1/operator/agreements
	// (reload, PUT, DELETE). With Agreements nil, or AgreementsDir empty
	// for PUT and DELETE, the agreements are built into the binary and
	// cannot be changed through the API.
	Agreements AgreementAdmin
	// AgreementsDir is the folder of agreement files (policies.dir), which
	// a preview reads.
	AgreementsDir string
	// Registry is the agency registry in force (auth.go decides every
	// route with it); nil: no agency is registered, and issuing a
	// credential does not check the agency.
	Registry AgencyRegistry
	// OperatorToken guards /v1/operator/… (token management).
	OperatorToken string
	// Tokens authenticates agencies' API calls (lookup, verify, push).
	Tokens TokenStore
	// CA issues and checks agencies' client certificates (mutual TLS); nil
	// when the API listener has no TLS (api.tls.enabled off).
	CA *pki.CA
	// CitizenKeys hashes personal numbers for the store and the audit log.
	CitizenKeys CitizenKeys
	// CitizenTokens verifies citizens' e-ID tokens; nil disables the
	// citizen endpoint (GET /v1/citizen/accesses).
	CitizenTokens CitizenTokens
	// Audit searches the access log; AuditLog appends to it and proves it.
	Audit    store.AuditSearcher
	AuditLog AuditLog
	// InspectionHiddenFor hides an auditor's search by citizen from that
	// citizen's view for this long (audit.inspection_hidden_for).
	InspectionHiddenFor time.Duration
	// State holds the latest row per entity, for lookups and verifications.
	State store.StateStore
	// Review is the identity linkage's review queue, under /v1/operator/review
	// (nil: those routes answer 503).
	Review linkage.ReviewQueue
	// Quality keeps the data-quality scorecards and the redrive items,
	// under /v1/quality (nil: those routes answer 503).
	Quality *quality.Quality
	// KafkaUsers rotates Kafka passwords (nil: kafka.auth is off).
	KafkaUsers KafkaUsers
	// Instance is this instance's status and role (nil: /v1/status is
	// empty and /readyz shows no role).
	Instance Instance
	// Ready are the readiness checks of /readyz, by name.
	Ready map[string]func(context.Context) error
	// Metrics is the registry /metrics serves.
	Metrics *prometheus.Registry
	// MaxBody is the largest request body accepted (default 8 MiB).
	MaxBody int64
	// Logger receives the causes of 5xx answers, which clients see only
	// as a reference (nil: discarded).
	Logger *slog.Logger
	// Console is the web console, served under /ui/ with / sent there (nil:
	// no console). It authenticates its own sessions and calls this API.
	Console http.Handler
}
