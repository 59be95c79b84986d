// Package envelope owns the shape of every message the bus writes to Kafka:
// the CloudEvents 1.0 binary-mode headers, the deterministic event id, the
// message key, the Debezium-shaped change value and the Confluent wire
// format around it, and the dead-letter headers that say why a record failed.
package envelope

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"
)

// SpecVersion is the CloudEvents version the bus speaks.
const SpecVersion = "1.0"

// Header names, Kafka protocol binding of CloudEvents (binary content mode),
// plus the bus's extensions. Extension names are lower-case alphanumerics as
// CloudEvents requires.
const (
	HeaderID          = "ce_id"
	HeaderSource      = "ce_source"
	HeaderType        = "ce_type"
	HeaderSpecVersion = "ce_specversion"
	HeaderTime        = "ce_time"
	HeaderSubject     = "ce_subject"
	HeaderContentType = "content-type"
	HeaderDataSchema  = "ce_dataschema"
	// HeaderSchemaID is the registry id of the value's schema (also in the wire-format prefix).
	HeaderSchemaID = "ce_schemaid"
	// HeaderIdentity is the reconciliation outcome (verified, mismatch, …).
	HeaderIdentity = "ce_identity"
	// HeaderIdentityFields lists differing fields for a mismatch, "name:spelling,dob:different".
	HeaderIdentityFields = "ce_identityfields"
	// HeaderCitizen is, on a canonical topic only, the audit log's keyed
	// HMAC of the personal number of the citizen a record without a usable
	// number was linked to (never the number itself), so the deliveries,
	// the lookups and the citizen's own view find the record by citizen.
	// Deliveries to agencies drop it.
	HeaderCitizen = "ce_citizen"
	// HeaderSequence is the source position in hex; it orders events of one source.
	HeaderSequence = "ce_sequence"
	// HeaderDataset names the shared dataset.
	HeaderDataset = "ce_dataset"
	// HeaderAgreement names the agreement a delivered record was released under.
	HeaderAgreement = "ce_agreement"

	// Dead-letter headers.
	HeaderErrorKind    = "lgsp_error_kind"    // one of the Kind… constants below
	HeaderErrorPath    = "lgsp_error_path"    // JSON path of the offending value, "$" for the whole record
	HeaderErrorMessage = "lgsp_error_message" // human-readable reason
	HeaderErrorSchema  = "lgsp_error_schemaid"
	// HeaderTruncated is "true" on a dead letter whose value or headers
	// were cut to keep it under Kafka's message limit.
	HeaderTruncated = "lgsp_truncated"
	// HeaderDigest is "sha256:<hex>" of the whole record as received (the
	// dead letter's value before any truncation), so the owner can match a
	// truncated dead letter with the row in their own database.
	HeaderDigest = "lgsp_digest"
)

// Dead-letter kinds: why a record was dead-lettered (HeaderErrorKind).
const (
	KindSchema          = "schema"          // the row does not match its dataset's schema
	KindUnknownDataset  = "unknown_dataset" // the dataset is not in the catalog
	KindTooLarge        = "too_large"       // key, value and headers together exceed pipeline.max_record_bytes
	KindMalformed       = "malformed"       // op, before and after do not make a change, or the row cannot be encoded
	KindUnrepresentable = "unrepresentable" // a number that cannot be kept exactly
	KindInternal        = "internal"        // the bus failed on this record; the fault is logged for the operator
)

// namespace for deterministic event ids (UUID v5 over source and position).
var namespace = uuid.MustParse("6f1c1a52-9b1e-4d0e-a6f3-4c2f1f6b7a10")

// EventID is deterministic from (source, position), so a record re-read
// after a crash keeps its id and consumers can dedupe on (ce_source, ce_id).
func EventID(source string, position []byte) string {
	b := make([]byte, 0, len(source)+1+len(position))
	b = append(b, source...)
	b = append(b, 0)
	b = append(b, position...)
	return uuid.NewSHA1(namespace, b).String()
}

// SourceURI is the ce_source of records read by a connector.
func SourceURI(connector string) string { return "/lgsp/connectors/" + connector }

// EventType is the ce_type of a change of a dataset, e.g.
// "vn.gov.lgsp.land.land_use_right.created".
func EventType(dataset, op string) string {
	verb := map[string]string{"c": "created", "u": "updated", "d": "deleted", "r": "snapshot"}[op]
	if verb == "" {
		verb = "changed"
	}
	return "vn.gov.lgsp." + dataset + "." + verb
}

// Key joins the values of the key fields of row, so every change of one
// entity lands in one partition and stays in order. An empty result means
// the row lacks its key and must be dead-lettered.
func Key(row map[string]any, fields []string) string {
	var sb strings.Builder
	for i, f := range fields {
		v, ok := row[f]
		if !ok || v == nil {
			return ""
		}
		if i > 0 {
			sb.WriteByte('|')
		}
		switch x := v.(type) {
		case string:
			sb.WriteString(x)
		default:
			fmt.Fprint(&sb, v)
		}
	}
	return sb.String()
}

// Event is what the headers describe.
type Event struct {
	ID, Source, Type, Subject, ContentType, Dataset string
	Time                                            time.Time
	SchemaID                                        int
	Sequence                                        []byte
	Identity                                        string
	IdentityFields                                  string
	Citizen                                         string // HeaderCitizen
}

// Headers renders e as Kafka headers in CloudEvents binary mode.
func (e Event) Headers() []kafka.Header {
	h := make([]kafka.Header, 0, 12)
	add := func(k, v string) {
		if v != "" {
			h = append(h, kafka.Header{Key: k, Value: []byte(v)})
		}
	}
	add(HeaderSpecVersion, SpecVersion)
	add(HeaderID, e.ID)
	add(HeaderSource, e.Source)
	add(HeaderType, e.Type)
	if !e.Time.IsZero() {
		add(HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	}
	add(HeaderSubject, e.Subject)
	add(HeaderContentType, e.ContentType)
	add(HeaderDataset, e.Dataset)
	if e.SchemaID > 0 {
		add(HeaderSchemaID, fmt.Sprint(e.SchemaID))
	}
	if len(e.Sequence) > 0 {
		add(HeaderSequence, hex.EncodeToString(e.Sequence))
	}
	add(HeaderIdentity, e.Identity)
	add(HeaderIdentityFields, e.IdentityFields)
	add(HeaderCitizen, e.Citizen)
	return h
}

// HeaderValue returns the value of the first header named key.
func HeaderValue(hs []kafka.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// ErrNotWireFormat marks a value that does not start with the Confluent magic byte.
var ErrNotWireFormat = errors.New("envelope: not in Confluent wire format")

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
