package consumer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
)

// HeaderAgreement is the header naming the agreement a delivery was released under.
const HeaderAgreement = contract.HeaderAgreement

// Event is one delivered change, decoded. Before and After hold only the
// fields the agreement releases (masked fields arrive already masked).
type Event struct {
	// CloudEvents attributes (from the ce_* headers).
	ID      string    // ce_id: deterministic per (source, position); with Source it identifies the event
	Source  string    // ce_source, e.g. "/lgsp/connectors/civil_status"
	Type    string    // ce_type, e.g. "vn.gov.lgsp.civil_status.birth_registration.created"
	Subject string    // ce_subject
	Time    time.Time // ce_time (zero when absent)

	Dataset   string // ce_dataset, e.g. "civil_status.birth_registration"
	Agreement string // agreement the record was released under
	// Identity is the reconciliation outcome of the record's personal number:
	// verified, mismatch, not_found, invalid_id, deceased, linked, review, unmatched.
	Identity string
	// IdentityFields lists the differing fields of a mismatch ("name:spelling,dob:different").
	IdentityFields string
	SchemaID       int // registry id from the wire-format prefix

	// The change, shaped like Debezium's.
	Op           string         // c (create), u (update), d (delete), r (snapshot read)
	Before       map[string]any // nil for c and r
	After        map[string]any // nil for d
	ChangeSource map[string]any // the change's "source" block (connector, position …)
	ChangeTime   time.Time      // the change's ts_ms (zero when absent)

	// Where the message came from.
	Key       []byte
	Topic     string
	Partition int
	Offset    int64
}

// Row is After, or Before for a delete.
func (e Event) Row() map[string]any {
	if e.After != nil {
		return e.After
	}
	return e.Before
}

type rawChange struct {
	Op        string         `json:"op"`
	Before    map[string]any `json:"before"`
	After     map[string]any `json:"after"`
	Source    map[string]any `json:"source"`
	TsMs      int64          `json:"ts_ms"`
	Agreement string         `json:"agreement"`
}

// Decode turns a delivered Kafka message into an Event without asking the
// registry: it splits the Confluent wire format, parses the JSON change and
// reads the CloudEvents headers. Run uses it (and checks the schema when a
// registry is configured); it is exported for agencies that read topics with
// their own client. Errors wrap ErrNotWireFormat, ErrMissingHeader or
// ErrBadPayload.
func Decode(m kafka.Message) (Event, error) {
	ev, _, err := decode(m)
	return ev, err
}

func decode(m kafka.Message) (Event, []byte, error) {
	ev := Event{Key: m.Key, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	h := func(k string) string {
		for _, x := range m.Headers {
			if x.Key == k {
				return string(x.Value)
			}
		}
		return ""
	}
	// A topic framed "cloudevents" carries plain JSON and says so; every
	// other value is in the Confluent wire format.
	var id int
	payload := m.Value
	if h(contract.HeaderContentType) == contract.ContentTypeJSON {
		n, err := strconv.Atoi(h(contract.HeaderSchemaID))
		if err != nil {
			return ev, nil, fmt.Errorf("%w: %s", ErrMissingHeader, contract.HeaderSchemaID)
		}
		id = n
	} else {
		var err error
		if id, payload, err = contract.SplitWire(m.Value); err != nil {
			return ev, nil, err
		}
	}
	ev.SchemaID = id
	ev.ID, ev.Source = h(contract.HeaderID), h(contract.HeaderSource)
	switch {
	case ev.ID == "":
		return ev, nil, fmt.Errorf("%w: %s", ErrMissingHeader, contract.HeaderID)
	case ev.Source == "":
		return ev, nil, fmt.Errorf("%w: %s", ErrMissingHeader, contract.HeaderSource)
	}
	if s := h(contract.HeaderSchemaID); s != "" && s != strconv.Itoa(id) {
		return ev, nil, fmt.Errorf("%w: header %s=%s, wire-format id %d", ErrSchemaMismatch, contract.HeaderSchemaID, s, id)
	}
	ev.Type, ev.Subject, ev.Dataset = h(contract.HeaderType), h(contract.HeaderSubject), h(contract.HeaderDataset)
	ev.Identity, ev.IdentityFields = h(contract.HeaderIdentity), h(contract.HeaderIdentityFields)
	if s := h(contract.HeaderTime); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return ev, nil, fmt.Errorf("%w: %s %q: %v", ErrBadPayload, contract.HeaderTime, s, err)
		}
		ev.Time = t
	}
	var ch rawChange
	if err := json.Unmarshal(payload, &ch); err != nil {
		return ev, nil, fmt.Errorf("%w: %v", ErrBadPayload, err)
	}
	switch ch.Op {
	case "c", "u", "d", "r":
	default:
		return ev, nil, fmt.Errorf("%w: op %q", ErrBadPayload, ch.Op)
	}
	if ch.Before == nil && ch.After == nil {
		return ev, nil, fmt.Errorf("%w: neither before nor after", ErrBadPayload)
	}
	ev.Op, ev.Before, ev.After, ev.ChangeSource = ch.Op, ch.Before, ch.After, ch.Source
	if ch.TsMs > 0 {
		ev.ChangeTime = time.UnixMilli(ch.TsMs).UTC()
	}
	ev.Agreement = ch.Agreement
	if ev.Agreement == "" {
		ev.Agreement = h(HeaderAgreement)
	}
	return ev, payload, nil
}
