package consumer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lgsp-bus/lgsp/connectors/contract"
)

// Sentinel errors. Test for them with errors.Is; a *DecodeError wraps one of
// them (or the underlying parse error) and says which message failed.
var (
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("consumer: closed")
	// ErrNotWireFormat: the value does not start with the Confluent wire-format
	// prefix (magic byte 0, 4-byte schema id). It is contract.ErrNotWireFormat.
	ErrNotWireFormat = contract.ErrNotWireFormat
	// ErrMissingHeader: a required CloudEvents header (ce_id, ce_source) is absent.
	ErrMissingHeader = errors.New("consumer: required CloudEvents header missing")
	// ErrBadPayload: the payload after the wire-format prefix is not the JSON
	// change {op, before, after, source, ts_ms, agreement}.
	ErrBadPayload = errors.New("consumer: payload is not a JSON change")
	// ErrUnknownSchema: the registry does not know the wire-format schema id.
	ErrUnknownSchema = errors.New("consumer: schema id unknown to the registry")
	// ErrSchemaMismatch: the payload does not match the schema its id names,
	// or the ce_schemaid header disagrees with the wire-format id.
	ErrSchemaMismatch = errors.New("consumer: payload does not match its schema")
	// ErrRegistryUnavailable: the registry could not be asked (network, 5xx).
	// This is transient: the message is retried, never skipped.
	ErrRegistryUnavailable = errors.New("consumer: schema registry unavailable")
)

// ConfigError lists every problem of a Config at once.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "consumer: invalid config: " + strings.Join(e.Problems, "; ")
}

// DecodeError says why a message could not be turned into an Event. Such a
// message is a poison message: Run hands it to the WithOnBadMessage callback,
// logs it and commits it, so it never blocks the stream.
type DecodeError struct {
	Topic     string
	Partition int
	Offset    int64
	Err       error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("consumer: cannot decode %s[%d]@%d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// PermanentError marks a handler error that retrying cannot fix (the event is
// invalid for this agency). See Permanent.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "consumer: permanent handler error: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so that Run does not retry the event: the message is
// handed to the WithOnBadMessage callback (the agency's dead letter) and
// committed. Any other handler error is retried with back-off, without
// committing, until the handler succeeds or the context ends.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}
