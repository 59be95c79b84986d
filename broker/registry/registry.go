// Package registry is the bus's schema registry: it owns the validation and
// normalisation of Avro and JSON Schema texts, their ids and subject
// versions (persisted through store.SchemaStore), the cache of parsed
// schemas the pipeline validates and encodes with, and the
// Confluent-Schema-Registry-compatible REST API over them, so that any
// Confluent client or (de)serializer works against the bus unchanged.
//
// It covers Confluent's API: registering, looking up and listing schemas,
// soft and hard deletes, references (resolved for parsing, validation and
// compatibility), global and per-subject compatibility levels and modes
// (READWRITE, READONLY, IMPORT), compatibility checks in all seven levels
// for Avro (compat.go) and JSON Schema (jsoncompat.go), ?normalize=true
// and data contracts' metadata and rule sets (normalize.go).
//
// A registration is checked and written as one step even when several
// bus instances share the store: store.RegisterVersion writes it in one
// transaction and refuses it if the subject changed since the check, and
// the registry then checks again (ops.go). A refused request writes
// nothing.
package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/xeipuuv/gojsonschema"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Registry registers and serves schemas. It is safe for concurrent use.
type Registry struct {
	store store.SchemaStore

	// Schema ids are immutable (an id always names the same type and text),
	// so both caches can be filled once and never invalidated.
	schemas sync.Map // int → store.Schema
	parsed  sync.Map // int → avro.Schema or *gojsonschema.Schema
	refs    sync.Map // int → []store.Reference
	compat  sync.Map // int → compiled, for compatibility checks
	canon   sync.Map // int → canonical text, for ?normalize=true

	// locks serialises "check compatibility, then add the version" per
	// subject within this process (subject → *sync.Mutex).
	locks sync.Map
}

// lockSubject locks subject's registrations and returns the unlock.
func (r *Registry) lockSubject(subject string) func() {
	v, _ := r.locks.LoadOrStore(subject, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// New returns a registry over s.
func New(s store.SchemaStore) *Registry {
	return &Registry{store: s}
}

// SubjectSchema is one version of a subject with its schema.
type SubjectSchema struct {
	Subject string
	Version int
	ID      int
	Type    string // TypeAvro or TypeJSON
	Schema  string // normalised text
	// Metadata and RuleSet are the schema's data-contract fields (compact
	// JSON), "" when it has none.
	Metadata string
	RuleSet  string
}

// Register validates and normalises schemaText and registers it under
// subject. schemaType is "AVRO" (the default when empty) or "JSON".
// Registering a schema the subject already has returns its existing id and
// version; registering it under another subject reuses the id.
//
// The subject's mode and compatibility level apply: see RegisterSchema.
func (r *Registry) Register(ctx context.Context, subject, schemaType, schemaText string) (id int, version int, err error) {
	return r.RegisterSchema(ctx, subject, RegisterRequest{SchemaType: schemaType, Schema: schemaText})
}

// Lookup returns the version of subject whose schema is schemaText
// (normalised as Register does), without registering anything. It answers
// ErrSubjectNotFound for an unknown subject and ErrSchemaNotFound when the
// subject does not have this schema.
func (r *Registry) Lookup(ctx context.Context, subject, schemaType, schemaText string) (SubjectSchema, error) {
	return r.LookupSchema(ctx, subject, RegisterRequest{SchemaType: schemaType, Schema: schemaText})
}

// LookupSchema is Lookup for a full request: references (resolved to
// parse it), data-contract fields (compared when given), ?normalize=true
// (canonical forms compared) and ?deleted=true (soft-deleted versions
// searched too).
func (r *Registry) LookupSchema(ctx context.Context, subject string, req RegisterRequest) (SubjectSchema, error) {
	if err := checkSubject(subject); err != nil {
		return SubjectSchema{}, err
	}
	q, err := r.prepareRequest(ctx, req)
	if err != nil {
		return SubjectSchema{}, err
	}
	svs, err := r.subjectVersions(ctx, subject, req.Deleted)
	if err != nil {
		return SubjectSchema{}, err
	}
	// The store has no lookup by text that does not also create, and a
	// subject has few versions: compare them, newest first.
	sv, ok, err := r.findSchema(ctx, svs, q)
	if err != nil {
		return SubjectSchema{}, err
	}
	if !ok {
		return SubjectSchema{}, &Error{Code: ErrSchemaNotFound.Code, Message: "Schema not found",
			Err: fmt.Errorf("subject %q has no such schema", subject)}
	}
	s, err := r.SchemaByID(ctx, sv.SchemaID)
	if err != nil {
		return SubjectSchema{}, err
	}
	return subjectSchema(subject, sv, s), nil
}

// SchemaByID returns the schema with this id.
func (r *Registry) SchemaByID(ctx context.Context, id int) (store.Schema, error) {
	if v, ok := r.schemas.Load(id); ok {
		return v.(store.Schema), nil
	}
	if id < 1 {
		return store.Schema{}, schemaNotFound(id, nil)
	}
	s, err := r.store.SchemaByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Schema{}, schemaNotFound(id, err)
	}
	if err != nil {
		return store.Schema{}, storeErr(fmt.Errorf("schema %d: %w", id, err))
	}
	r.schemas.Store(id, s)
	return s, nil
}

func schemaNotFound(id int, cause error) error {
	return &Error{Code: ErrSchemaNotFound.Code, Message: fmt.Sprintf("Schema %d not found", id), Err: cause}
}

// Latest returns the subject's newest version.
func (r *Registry) Latest(ctx context.Context, subject string) (SubjectSchema, error) {
	return r.Version(ctx, subject, -1)
}

// Version returns version v of subject; v == -1 means the latest, as in
// Confluent's API.
func (r *Registry) Version(ctx context.Context, subject string, v int) (SubjectSchema, error) {
	if v < 1 && v != -1 {
		return SubjectSchema{}, invalidVersion(strconv.Itoa(v))
	}
	svs, err := r.versions(ctx, subject)
	if err != nil {
		return SubjectSchema{}, err
	}
	sv := svs[len(svs)-1]
	if v != -1 {
		i := slices.IndexFunc(svs, func(x store.SubjectVersion) bool { return x.Version == v })
		if i < 0 {
			return SubjectSchema{}, &Error{Code: ErrVersionNotFound.Code, Message: fmt.Sprintf("Version %d not found.", v)}
		}
		sv = svs[i]
	}
	s, err := r.SchemaByID(ctx, sv.SchemaID)
	if err != nil {
		return SubjectSchema{}, err
	}
	return subjectSchema(subject, sv, s), nil
}

func invalidVersion(v string) error {
	return &Error{Code: ErrInvalidVersion.Code, Message: fmt.Sprintf(
		"The specified version '%s' is not a valid version id. "+
			`Allowed values are between [1, 2^31-1] and the string "latest"`, v)}
}

// Subjects lists the subjects that have at least one version, sorted.
func (r *Registry) Subjects(ctx context.Context) ([]string, error) {
	subjects, err := r.store.Subjects(ctx, false)
	if err != nil {
		return nil, storeErr(fmt.Errorf("list subjects: %w", err))
	}
	if subjects == nil {
		subjects = []string{} // JSON [] rather than null
	}
	return subjects, nil
}

// Versions lists the subject's version numbers in ascending order.
func (r *Registry) Versions(ctx context.Context, subject string) ([]int, error) {
	svs, err := r.versions(ctx, subject)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(svs))
	for i, sv := range svs {
		out[i] = sv.Version
	}
	return out, nil
}

// versions returns the live versions of subject, or ErrSubjectNotFound
// when there are none.
func (r *Registry) versions(ctx context.Context, subject string) ([]store.SubjectVersion, error) {
	svs, err := r.store.Versions(ctx, subject, false)
	if err != nil {
		return nil, storeErr(fmt.Errorf("versions of %q: %w", subject, err))
	}
	if len(svs) == 0 {
		return nil, &Error{Code: ErrSubjectNotFound.Code, Message: fmt.Sprintf("Subject '%s' not found.", subject)}
	}
	return svs, nil
}

// LookupAvro returns the parsed Avro schema with this id, parsing it once.
func (r *Registry) LookupAvro(ctx context.Context, id int) (avro.Schema, error) {
	p, err := r.lookupParsed(ctx, id, TypeAvro)
	if err != nil {
		return nil, err
	}
	return p.(avro.Schema), nil
}

// LookupJSON returns the compiled JSON Schema with this id, compiling it
// once.
func (r *Registry) LookupJSON(ctx context.Context, id int) (*gojsonschema.Schema, error) {
	p, err := r.lookupParsed(ctx, id, TypeJSON)
	if err != nil {
		return nil, err
	}
	return p.(*gojsonschema.Schema), nil
}

func (r *Registry) lookupParsed(ctx context.Context, id int, typ string) (any, error) {
	if v, ok := r.parsed.Load(id); ok {
		if parsedType(v) != typ {
			return nil, fmt.Errorf("%w: schema %d is %s, not %s", ErrSchemaTypeMismatch, id, parsedType(v), typ)
		}
		return v, nil
	}
	s, err := r.SchemaByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.Type != typ {
		return nil, fmt.Errorf("%w: schema %d is %s, not %s", ErrSchemaTypeMismatch, id, s.Type, typ)
	}
	deps, err := r.storedDeps(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := parseWithDeps(typ, s.Text, deps)
	if err != nil {
		// Only a schema written to the store behind the registry's back
		// can get here.
		return nil, invalidSchema(fmt.Errorf("stored schema %d: %w", id, err))
	}
	v, _ := r.parsed.LoadOrStore(id, p)
	return v, nil
}

func parsedType(v any) string {
	if _, ok := v.(*gojsonschema.Schema); ok {
		return TypeJSON
	}
	return TypeAvro
}

func subjectSchema(subject string, sv store.SubjectVersion, s store.Schema) SubjectSchema {
	return SubjectSchema{Subject: subject, Version: sv.Version, ID: s.ID, Type: s.Type, Schema: s.Text,
		Metadata: s.Metadata, RuleSet: s.RuleSet}
}

// checkSubject rejects names no Kafka topic strategy produces and that
// would be unreadable in logs and URLs: blank, with control characters,
// or not UTF-8.
func checkSubject(subject string) error {
	bad := strings.TrimSpace(subject) == "" || strings.IndexFunc(subject, unicode.IsControl) >= 0 ||
		!utf8.ValidString(subject)
	if bad {
		return &Error{Code: ErrInvalidSubject.Code, Message: fmt.Sprintf("The specified subject '%s' is not valid.", subject)}
	}
	return nil
}
