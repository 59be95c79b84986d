// Package contract holds the names the bus and everyone who talks to it
// share: topic names, CloudEvents header names and the bus's extensions,
// dead-letter kinds, identity outcomes and the Confluent wire format. The
// bus (broker/...) and the SDKs (the connector SDK, the agency's consumer
// SDK) import it; it imports nothing of the project, so an agency that
// embeds the consumer SDK pulls in none of the bus. A name changes here or
// nowhere.
package contract

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// Topics. Datasets are named "<domain>.<dataset>" (land.land_use_right).

// CanonicalTopic is the change stream of a dataset at a major version:
// "<domain>.<dataset>.v<major>".
func CanonicalTopic(dataset string, major int) string { return dataset + ".v" + strconv.Itoa(major) }

// DeliveryTopic is what one consumer agency may read of a dataset under its
// stream agreement: "deliver.<consumer>.<domain>.<dataset>".
func DeliveryTopic(consumer, dataset string) string { return "deliver." + consumer + "." + dataset }

// DeadLetterTopic holds the records of a source that could not be
// published, with the HeaderError… headers: "dlq.<source>".
func DeadLetterTopic(source string) string { return "dlq." + source }

// FeedbackTopic tells a source ministry about its records that were
// dead-lettered or whose person did not reconcile cleanly: "feedback.<source>".
func FeedbackTopic(source string) string { return "feedback." + source }

// AuditCheckpointsTopic is the default topic where the bus publishes every
// signed checkpoint of its access log for auditors and witnesses.
const AuditCheckpointsTopic = "audit.checkpoints"

// SpecVersion is the CloudEvents version the bus speaks.
const SpecVersion = "1.0"

// Header names: the Kafka protocol binding of CloudEvents (binary content
// mode) and the bus's extensions (lower-case alphanumerics, as CloudEvents
// requires).
const (
	HeaderID          = "ce_id"
	HeaderSource      = "ce_source"
	HeaderType        = "ce_type"
	HeaderSpecVersion = "ce_specversion"
	HeaderTime        = "ce_time"
	HeaderSubject     = "ce_subject"
	HeaderContentType = "content-type"
	HeaderDataSchema  = "ce_dataschema"
	// HeaderSchemaID is the registry id of the value's schema (also in the
	// wire-format prefix).
	HeaderSchemaID = "ce_schemaid"
	// HeaderIdentity is the reconciliation outcome (an Outcome).
	HeaderIdentity = "ce_identity"
	// HeaderIdentityFields lists differing fields for a mismatch,
	// "name:spelling,dob:different".
	HeaderIdentityFields = "ce_identityfields"
	// HeaderCitizen is, on a canonical topic only, the audit log's keyed
	// HMAC of the personal number of the citizen a record without a usable
	// number was linked to (never the number itself), so the deliveries,
	// the lookups and the citizen's own view find the record by citizen.
	// Deliveries to agencies drop it.
	HeaderCitizen = "ce_citizen"
	// HeaderSequence is the source position in hex; it orders events of
	// one source.
	HeaderSequence = "ce_sequence"
	// HeaderDataset names the shared dataset.
	HeaderDataset = "ce_dataset"
	// HeaderAgreement names the agreement a delivered record was released under.
	HeaderAgreement = "ce_agreement"

	// HeaderErrorKind is why a record was dead-lettered (a DeadLetterKind).
	HeaderErrorKind = "lgsp_error_kind"
	// HeaderErrorPath is the JSON path of the offending value, "$" for the
	// whole record.
	HeaderErrorPath = "lgsp_error_path"
	// HeaderErrorMessage is the human-readable reason.
	HeaderErrorMessage = "lgsp_error_message"
	// HeaderErrorSchema is the registry id of the schema the record failed.
	HeaderErrorSchema = "lgsp_error_schemaid"
	// HeaderTruncated is "true" on a dead letter whose value or headers
	// were cut to keep it under Kafka's message limit.
	HeaderTruncated = "lgsp_truncated"
	// HeaderDigest is "sha256:<hex>" of the whole record as received (the
	// dead letter's value before any truncation), so the owner can match a
	// truncated dead letter with the row in their own database.
	HeaderDigest = "lgsp_digest"
)

// DeadLetterKind says why a record was dead-lettered (HeaderErrorKind).
type DeadLetterKind = string

// Dead-letter kinds.
const (
	KindSchema         DeadLetterKind = "schema"          // the row does not match its dataset's schema
	KindUnknownDataset DeadLetterKind = "unknown_dataset" // the dataset is not in the catalog
	KindTooLarge       DeadLetterKind = "too_large"       // the key, or key, value and headers together, over the limit
	KindMalformed      DeadLetterKind = "malformed"       // op, before and after do not make one change; a number that cannot be kept exactly; text with invalid UTF-8 or control characters
	KindInternal       DeadLetterKind = "internal"        // the bus failed on this record; the fault is in the operator's log
)

// DeadLetterKinds lists every kind, for documentation and metrics.
var DeadLetterKinds = []DeadLetterKind{KindSchema, KindUnknownDataset, KindTooLarge, KindMalformed, KindInternal}

// Outcome is the reconciliation status of a record's person against the
// population register (HeaderIdentity).
type Outcome string

// Identity outcomes.
const (
	Verified  Outcome = "verified"   // number found, every given field agrees
	Mismatch  Outcome = "mismatch"   // number found, some field differs (see HeaderIdentityFields)
	NotFound  Outcome = "not_found"  // well-formed number, nobody has it
	InvalidID Outcome = "invalid_id" // malformed number, or one contradicting the claimed birth year/sex
	Deceased  Outcome = "deceased"   // number found, the citizen has died
	Linked    Outcome = "linked"     // no usable number, matched with a score
	Review    Outcome = "review"     // no usable number, the candidate needs a person's decision
	Unmatched Outcome = "unmatched"  // no usable number, no candidate
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{Verified, Mismatch, NotFound, InvalidID, Deceased, Linked, Review, Unmatched}

// Content types: the content-type header says what the value's bytes are,
// so a CloudEvents SDK is never told "application/json" for framed bytes.
const (
	// ContentTypeConfluentJSON is the Confluent wire format (magic byte 0,
	// 4-byte schema id) followed by JSON: what a Confluent JSON Schema
	// deserializer reads. Canonical topics of JSON datasets, and delivery
	// topics framed "confluent".
	ContentTypeConfluentJSON = "application/vnd.lgsp.confluent-json"
	// ContentTypeConfluentAvro is the Confluent wire format followed by
	// Avro binary: canonical topics of Avro datasets.
	ContentTypeConfluentAvro = "application/vnd.lgsp.confluent-avro"
	// ContentTypeJSON is plain JSON, the CloudEvents data as it is:
	// delivery topics framed "cloudevents", dead letters and feedback.
	ContentTypeJSON = "application/json"
)

// Framing of a delivery topic, chosen per agreement (its framing key).
const (
	// FramingConfluent frames each value in the Confluent wire format
	// (the default): any Confluent deserializer reads it with the registry.
	FramingConfluent = "confluent"
	// FramingCloudEvents sends the value as plain JSON with content-type
	// application/json and the schema id in ce_schemaid: any CloudEvents
	// SDK reads it with DataAs.
	FramingCloudEvents = "cloudevents"
)

// ErrNotWireFormat marks a value that does not start with the Confluent
// magic byte.
var ErrNotWireFormat = errors.New("not in Confluent wire format")

// AppendWire appends the Confluent wire-format prefix (magic byte 0, 4-byte
// big-endian schema id) to dst.
func AppendWire(dst []byte, schemaID int) []byte {
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint32(dst, uint32(schemaID))
}

// SplitWire returns the schema id and payload of a wire-format value.
func SplitWire(v []byte) (schemaID int, payload []byte, err error) {
	if len(v) < 5 || v[0] != 0 {
		return 0, nil, ErrNotWireFormat
	}
	return int(binary.BigEndian.Uint32(v[1:5])), v[5:], nil
}
