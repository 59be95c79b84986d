package registry

import (
	"errors"
	"net/http"
)

// Error is a registry error carrying its Confluent error code, so the REST
// layer can answer exactly as Confluent Schema Registry does and Go callers
// can still test for the kind with errors.Is(err, ErrSubjectNotFound).
type Error struct {
	// Code is the Confluent error_code, e.g. 40401. Its first three digits
	// are the HTTP status.
	Code int
	// Message is worded as Confluent words it and is safe to show clients.
	Message string
	// Err is the underlying cause; it is shown to clients only for 422xx
	// errors, which are about the caller's own input.
	Err error
	// Status, when not 0, is the HTTP status to answer with instead of the
	// one the code implies (42209 goes out as 413 Content Too Large).
	Status int
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Message
	}
	return e.Message + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches on the Confluent code alone, so every "subject not found",
// whatever the subject, is ErrSubjectNotFound.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// HTTPStatus is the HTTP status Confluent pairs with the code.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	if e.Code >= 400 && e.Code <= 599 {
		return e.Code // 409: Confluent's incompatible-schema code is the status itself
	}
	if s := e.Code / 100; s >= 400 && s <= 599 {
		return s
	}
	return http.StatusInternalServerError
}

// The errors the registry returns, by Confluent code. Compare with errors.Is.
var (
	ErrSubjectNotFound = &Error{Code: 40401, Message: "Subject not found."}
	ErrVersionNotFound = &Error{Code: 40402, Message: "Version not found."}
	ErrSchemaNotFound  = &Error{Code: 40403, Message: "Schema not found"}
	ErrInvalidSchema   = &Error{Code: 42201, Message: "Invalid schema"}
	ErrInvalidVersion  = &Error{Code: 42202, Message: "Invalid version"}
	ErrInvalidSubject  = &Error{Code: 42208, Message: "Invalid subject"}
	ErrSchemaTooLarge  = &Error{Code: 42209, Message: "Schema too large"}
	ErrInvalidRuleSet  = &Error{Code: 42210, Message: "Invalid ruleset"}

	ErrSubjectSoftDeleted    = &Error{Code: 40404, Message: "Subject was soft deleted"}
	ErrSubjectNotSoftDeleted = &Error{Code: 40405, Message: "Subject was not soft deleted first"}
	ErrVersionSoftDeleted    = &Error{Code: 40406, Message: "Version was soft deleted"}
	ErrVersionNotSoftDeleted = &Error{Code: 40407, Message: "Version was not soft deleted first"}
	ErrSubjectCompatNotSet   = &Error{Code: 40408, Message: "Subject does not have subject-level compatibility configured"}
	ErrSubjectModeNotSet     = &Error{Code: 40409, Message: "Subject does not have subject-level mode configured"}
	ErrIncompatibleSchema    = &Error{Code: 409, Message: "Schema being registered is incompatible with an earlier schema"}
	ErrInvalidCompatibility  = &Error{Code: 42203, Message: "Invalid compatibility level"}
	ErrInvalidMode           = &Error{Code: 42204, Message: "Invalid mode"}
	ErrOperationNotPermitted = &Error{Code: 42205, Message: "Operation not permitted"}
	ErrReferenceExists       = &Error{Code: 42206, Message: "One or more references exist to the schema"}
	ErrIDDoesNotMatch        = &Error{Code: 42207, Message: "Schema id does not match"}
	// ErrStore is a failure of the backing store (Confluent's 50001).
	ErrStore = &Error{Code: 50001, Message: "Error in the backend datastore"}
)

// ErrSchemaTypeMismatch is returned by LookupAvro / LookupJSON when the id
// names a schema of the other type. It has no Confluent code: it is a
// programming error of the caller, never a client's.
var ErrSchemaTypeMismatch = errors.New("registry: schema type mismatch")

func storeErr(err error) error {
	return &Error{Code: ErrStore.Code, Message: ErrStore.Message, Err: err}
}
