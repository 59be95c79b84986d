// Package envelope builds every message the bus writes to Kafka: the
// CloudEvents 1.0 binary-mode headers, the deterministic event id and the
// message key. The names it writes (headers, topics, dead-letter kinds,
// the wire format) are the shared contract in connectors/contract.
package envelope

import (
	"encoding/hex"
	"fmt"
	"strconv"
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
	verb := "changed"
	switch op {
	case "c":
		verb = "created"
	case "u":
		verb = "updated"
	case "d":
		verb = "deleted"
	case "r":
		verb = "snapshot"
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

// Headers renders e as Kafka headers in CloudEvents binary mode. The
// values share one buffer (two allocations per message, not one per
// header); each is capped at its length, so appending to one cannot
// overwrite the next.
func (e Event) Headers() []kafka.Header {
	n := 4 // spec version, id, source, type (the last three are always set by the bus)
	for _, v := range [...]string{e.Subject, e.ContentType, e.Dataset, e.Identity, e.IdentityFields, e.Citizen} {
		if v != "" {
			n++
		}
	}
	if !e.Time.IsZero() {
		n++
	}
	if e.SchemaID > 0 {
		n++
	}
	if len(e.Sequence) > 0 {
		n++
	}
	h := make([]kafka.Header, 0, n) // exactly (a larger array is a larger allocation on every message)
	buf := make([]byte, 0, len(contract.SpecVersion)+len(e.ID)+len(e.Source)+len(e.Type)+len(time.RFC3339Nano)+8+
		len(e.Subject)+len(e.ContentType)+len(e.Dataset)+20+2*len(e.Sequence)+len(e.Identity)+len(e.IdentityFields)+len(e.Citizen))
	add := func(k string, start int) {
		if len(buf) > start {
			h = append(h, kafka.Header{Key: k, Value: buf[start:len(buf):len(buf)]})
		}
	}
	addString := func(k, v string) {
		start := len(buf)
		buf = append(buf, v...)
		add(k, start)
	}
	addString(contract.HeaderSpecVersion, contract.SpecVersion)
	addString(contract.HeaderID, e.ID)
	addString(contract.HeaderSource, e.Source)
	addString(contract.HeaderType, e.Type)
	if !e.Time.IsZero() {
		start := len(buf)
		buf = e.Time.UTC().AppendFormat(buf, time.RFC3339Nano)
		add(contract.HeaderTime, start)
	}
	addString(contract.HeaderSubject, e.Subject)
	addString(contract.HeaderContentType, e.ContentType)
	addString(contract.HeaderDataset, e.Dataset)
	if e.SchemaID > 0 {
		start := len(buf)
		buf = strconv.AppendInt(buf, int64(e.SchemaID), 10)
		add(contract.HeaderSchemaID, start)
	}
	if len(e.Sequence) > 0 {
		start := len(buf)
		buf = hex.AppendEncode(buf, e.Sequence)
		add(contract.HeaderSequence, start)
	}
	addString(contract.HeaderIdentity, e.Identity)
	addString(contract.HeaderIdentityFields, e.IdentityFields)
	addString(contract.HeaderCitizen, e.Citizen)
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
