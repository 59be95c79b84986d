// Package envelope builds every message the bus writes to Kafka: the
// CloudEvents 1.0 binary-mode headers, the deterministic event id and the
// message key. The names it writes (headers, topics, dead-letter kinds,
// the wire format) are the shared contract in connectors/contract.
package envelope

import (
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
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
	Citizen                                         string // contract.HeaderCitizen
}

// Headers renders e as Kafka headers in CloudEvents binary mode.
func (e Event) Headers() []kafka.Header {
	h := make([]kafka.Header, 0, 12)
	add := func(k, v string) {
		if v != "" {
			h = append(h, kafka.Header{Key: k, Value: []byte(v)})
		}
	}
	add(contract.HeaderSpecVersion, contract.SpecVersion)
	add(contract.HeaderID, e.ID)
	add(contract.HeaderSource, e.Source)
	add(contract.HeaderType, e.Type)
	if !e.Time.IsZero() {
		add(contract.HeaderTime, e.Time.UTC().Format(time.RFC3339Nano))
	}
	add(contract.HeaderSubject, e.Subject)
	add(contract.HeaderContentType, e.ContentType)
	add(contract.HeaderDataset, e.Dataset)
	if e.SchemaID > 0 {
		add(contract.HeaderSchemaID, fmt.Sprint(e.SchemaID))
	}
	if len(e.Sequence) > 0 {
		add(contract.HeaderSequence, hex.EncodeToString(e.Sequence))
	}
	add(contract.HeaderIdentity, e.Identity)
	add(contract.HeaderIdentityFields, e.IdentityFields)
	add(contract.HeaderCitizen, e.Citizen)
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
