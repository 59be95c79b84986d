package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// ContentType is what Confluent Schema Registry answers with and what its
// clients send.
const ContentType = "application/vnd.schemaregistry.v1+json"

// maxBody bounds a request body. The largest shared schema is a few KiB; a
// few MiB leaves room for generated schemas without letting one request
// exhaust memory.
const maxBody = 4 << 20

// requestTypes are the request content types Confluent accepts. A request
// without a Content-Type is accepted too, for hand-written curl calls.
var requestTypes = map[string]bool{
	ContentType:                           true,
	"application/vnd.schemaregistry+json": true,
	"application/json":                    true,
	"application/octet-stream":            true,
}

// Handler serves the Confluent REST subset at the root of its own
// listener, so a Confluent client works with the bare URL:
//
//	GET  /                                   {}
//	GET  /subjects
//	GET  /subjects/{subject}/versions
//	GET  /subjects/{subject}/versions/{version}         (number, latest, -1)
//	GET  /subjects/{subject}/versions/{version}/schema  (raw schema text)
//	POST /subjects/{subject}/versions                   register → {"id": N}
//	POST /subjects/{subject}                            is it registered?
//	GET  /schemas/ids/{id}
//	GET  /schemas/ids/{id}/schema                       (raw schema text)
//	GET  /schemas/types
//
// and the rest of the API listed at routes (deletes, config, mode,
// compatibility, referencedby, schema usages).
//
// Errors are answered as Confluent does: the HTTP status plus
// {"error_code": N, "message": "..."}. A request body that is not JSON, or
// whose fields have the wrong JSON type, is 400 with error_code 400 (what
// Confluent's rest-utils answers for Jackson parse and mapping errors); a
// body that is JSON but whose schema does not parse is 422 with 42201.
//
// Without options the handler is open (the registry's own tests). With
// WithAuth every request must authenticate, and changes need the operator
// or a schema steward (see auth.go).
func (r *Registry) Handler(opts ...HandlerOption) http.Handler {
	cfg := &handlerConfig{}
	for _, o := range opts {
		o(cfg)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = handleError
	e.Pre(escapedPath)
	e.Use(recoverPanic, limitBody)
	if cfg.auth != nil {
		cfg.denied = registryDenied(cfg.metrics)
		e.Use(cfg.authenticate)
	}

	e.GET("/", func(c echo.Context) error { return writeJSON(c, http.StatusOK, struct{}{}) })
	e.GET("/schemas/types", func(c echo.Context) error {
		return writeJSON(c, http.StatusOK, []string{TypeAvro, TypeJSON})
	})
	e.GET("/subjects", r.getSubjects)
	e.GET("/subjects/:subject/versions", r.getVersions)
	e.GET("/subjects/:subject/versions/:version", r.getVersion)
	e.GET("/subjects/:subject/versions/:version/schema", r.getVersionSchema)
	e.POST("/subjects/:subject/versions", r.postVersion)
	e.POST("/subjects/:subject", r.postLookup)
	e.GET("/schemas/ids/:id", r.getSchema)
	e.GET("/schemas/ids/:id/schema", r.getRawSchema)
	r.routes(e)
	return e
}

// schemaResponse is Confluent's Schema entity. schemaType is omitted for
// AVRO, as Confluent omits it, because older clients do not know the field;
// metadata and ruleSet are omitted when the schema has none.
type schemaResponse struct {
	Subject    string          `json:"subject,omitempty"`
	Version    int             `json:"version,omitempty"`
	ID         int             `json:"id,omitempty"`
	SchemaType string          `json:"schemaType,omitempty"`
	References []referenceDTO  `json:"references,omitempty"`
	Metadata   json.RawMessage `json:"metadata,omitempty"`
	RuleSet    json.RawMessage `json:"ruleSet,omitempty"`
	Schema     string          `json:"schema"`
}

// rawJSON is a stored data-contract field as it goes out: nil (omitted)
// when there is none.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func newSchemaResponse(s SubjectSchema, refs []referenceDTO) schemaResponse {
	return schemaResponse{Subject: s.Subject, Version: s.Version, ID: s.ID, SchemaType: wireType(s.Type),
		References: refs, Metadata: rawJSON(s.Metadata), RuleSet: rawJSON(s.RuleSet), Schema: s.Schema}
}

// referenceDTO is Confluent's SchemaReference.
type referenceDTO struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func wireType(t string) string {
	if t == TypeAvro {
		return ""
	}
	return t
}

func (r *Registry) getSubjects(c echo.Context) error {
	ctx, prefix := c.Request().Context(), c.QueryParam("subjectPrefix")
	deletedOnly := boolParam(c, "deletedOnly")
	subjects, err := r.ListSubjects(ctx, prefix, deletedOnly || boolParam(c, "deleted"))
	if err != nil || !deletedOnly {
		return writeOrErr(c, subjects, err)
	}
	// Only the subjects whose every version is soft-deleted.
	live, err := r.ListSubjects(ctx, prefix, false)
	if err != nil {
		return err
	}
	out := []string{}
	for _, s := range subjects {
		if !slices.Contains(live, s) {
			out = append(out, s)
		}
	}
	return writeJSON(c, http.StatusOK, out)
}

func writeOrErr(c echo.Context, v any, err error) error {
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, v)
}

func (r *Registry) getVersions(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	deletedOnly := boolParam(c, "deletedOnly")
	svs, err := r.subjectVersions(c.Request().Context(), subject, deletedOnly || boolParam(c, "deleted"))
	if err != nil {
		return err
	}
	vs := []int{}
	for _, sv := range svs {
		if sv.Deleted || !deletedOnly {
			vs = append(vs, sv.Version)
		}
	}
	return writeJSON(c, http.StatusOK, vs)
}

func (r *Registry) subjectVersion(c echo.Context) (SubjectSchema, error) {
	subject, err := subjectParam(c)
	if err != nil {
		return SubjectSchema{}, err
	}
	v, err := versionParam(c)
	if err != nil {
		return SubjectSchema{}, err
	}
	return r.VersionOf(c.Request().Context(), subject, v, boolParam(c, "deleted"))
}

func (r *Registry) getVersion(c echo.Context) error {
	s, err := r.subjectVersion(c)
	if err != nil {
		return err
	}
	refs, err := r.refsDTO(c, s.ID)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, newSchemaResponse(s, refs))
}

func (r *Registry) getVersionSchema(c echo.Context) error {
	s, err := r.subjectVersion(c)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, ContentType, []byte(s.Schema))
}

// schemaRequest is Confluent's RegisterSchemaRequest. metadata and ruleSet
// (data contracts) are checked and kept with the schema; fields newer
// clients send that this registry does not implement (guid, …) are
// ignored, as Confluent ignores unknown fields.
type schemaRequest struct {
	Schema     string          `json:"schema"`
	SchemaType string          `json:"schemaType"`
	References []referenceDTO  `json:"references"`
	ID         int             `json:"id"`
	Version    int             `json:"version"`
	Metadata   json.RawMessage `json:"metadata"`
	RuleSet    json.RawMessage `json:"ruleSet"`
}

// registerRequest is the request with the query parameters that apply to
// every schema endpoint: ?normalize=true and (lookup) ?deleted=true.
func (q schemaRequest) registerRequest(c echo.Context) RegisterRequest {
	req := RegisterRequest{Schema: q.Schema, SchemaType: q.SchemaType, ID: q.ID, Version: q.Version,
		Metadata: string(q.Metadata), RuleSet: string(q.RuleSet),
		Normalize: boolParam(c, "normalize"), Deleted: boolParam(c, "deleted")}
	for _, x := range q.References {
		req.References = append(req.References, store.Reference{Name: x.Name, Subject: x.Subject, Version: x.Version})
	}
	return req
}

func readSchemaRequest(c echo.Context) (schemaRequest, error) {
	var req schemaRequest
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !requestTypes[mt] {
			return req, echo.NewHTTPError(http.StatusUnsupportedMediaType)
		}
	}
	return req, readBody(c, &req)
}

// bodyTooLarge is the answer to a request body over maxBody: Confluent's
// 42209 (schema too large) with HTTP's own status for it, 413.
func bodyTooLarge() error {
	return &Error{Code: ErrSchemaTooLarge.Code, Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf(
		"Request body is larger than the registry's limit of %d bytes (%d MiB); split the schema into referenced schemas",
		maxBody, maxBody>>20)}
}

func (r *Registry) postVersion(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	req, err := readSchemaRequest(c)
	if err != nil {
		return err
	}
	if done, err := r.registerAccess(c, subject, req.registerRequest(c)); done || err != nil {
		return err
	}
	id, _, err := r.RegisterSchema(c.Request().Context(), subject, req.registerRequest(c))
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]int{"id": id})
}

func (r *Registry) postLookup(c echo.Context) error {
	subject, err := subjectParam(c)
	if err != nil {
		return err
	}
	req, err := readSchemaRequest(c)
	if err != nil {
		return err
	}
	s, err := r.LookupSchema(c.Request().Context(), subject, req.registerRequest(c))
	if err != nil {
		return err
	}
	refs, err := r.refsDTO(c, s.ID)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, newSchemaResponse(s, refs))
}

func (r *Registry) schemaParam(c echo.Context) (SubjectSchema, error) {
	id, err := strconv.Atoi(c.Param("id"))
	if err != nil {
		// Confluent's id is an Integer path parameter; Jersey answers a
		// value that does not convert with a plain 404.
		return SubjectSchema{}, echo.ErrNotFound
	}
	s, err := r.SchemaByID(c.Request().Context(), id)
	if err != nil {
		return SubjectSchema{}, err
	}
	return SubjectSchema{ID: s.ID, Type: s.Type, Schema: s.Text, Metadata: s.Metadata, RuleSet: s.RuleSet}, nil
}

func (r *Registry) getSchema(c echo.Context) error {
	s, err := r.schemaParam(c)
	if err != nil {
		return err
	}
	refs, err := r.refsDTO(c, s.ID)
	if err != nil {
		return err
	}
	s.ID = 0 // Confluent's SchemaString entity has no id: the caller gave it
	return writeJSON(c, http.StatusOK, newSchemaResponse(s, refs))
}

func (r *Registry) getRawSchema(c echo.Context) error {
	s, err := r.schemaParam(c)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, ContentType, []byte(s.Schema))
}

// escapedPath makes echo route on the escaped path of every request. Echo
// routes on URL.RawPath when net/url set it and on the decoded URL.Path
// otherwise, so a parameter would arrive escaped or not depending on the
// rest of the URL; with RawPath always set, a subject such as
// "a/b" sent as "a%2Fb" stays one segment, and subjectParam unescapes
// exactly once.
func escapedPath(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := c.Request().URL
		u.RawPath = u.EscapedPath()
		return next(c)
	}
}

func subjectParam(c echo.Context) (string, error) {
	s, err := url.PathUnescape(c.Param("subject"))
	if err != nil {
		return "", &Error{Code: ErrInvalidSubject.Code,
			Message: fmt.Sprintf("The specified subject '%s' is not valid.", c.Param("subject")), Err: err}
	}
	return s, nil
}

// limitBody bounds every request body, whatever route reads it, so a
// handler added later cannot be made to buffer an unbounded body; readBody
// answers a body over maxBody with 413 before this limit is reached.
func limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		req.Body = http.MaxBytesReader(c.Response(), req.Body, maxBody+1)
		return next(c)
	}
}

// recoverPanic answers a panicking handler with a 500 instead of dropping
// the connection.
func recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				err = fmt.Errorf("registry: handler panic: %v", p)
			}
		}()
		return next(c)
	}
}

// errorResponse is Confluent's ErrorMessage entity.
type errorResponse struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// errorFor maps an error to the status and body Confluent would answer.
func errorFor(err error) (int, errorResponse) {
	var re *Error
	if errors.As(err, &re) {
		msg := re.Message
		if re.HTTPStatus() == http.StatusUnprocessableEntity {
			// The caller's own input: say what is wrong with it.
			msg = re.Error()
		}
		return re.HTTPStatus(), errorResponse{ErrorCode: re.Code, Message: msg}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		msg, _ := he.Message.(string)
		if msg == "" || msg == http.StatusText(he.Code) {
			// Jersey's wording for its own errors.
			msg = fmt.Sprintf("HTTP %d %s", he.Code, http.StatusText(he.Code))
		}
		return he.Code, errorResponse{ErrorCode: he.Code, Message: msg}
	}
	return http.StatusInternalServerError, errorResponse{
		ErrorCode: http.StatusInternalServerError,
		Message:   "HTTP 500 Internal Server Error",
	}
}

func handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := errorFor(err)
	if status >= 500 {
		// The client gets a generic message; the cause is only here.
		slog.ErrorContext(c.Request().Context(), "schema registry request failed",
			"method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if err := writeJSON(c, status, body); err != nil {
		slog.ErrorContext(c.Request().Context(), "schema registry: writing error response", "err", err)
	}
}

func writeJSON(c echo.Context, status int, v any) error {
	b, err := marshalCompact(v)
	if err != nil {
		return fmt.Errorf("registry: encoding response: %w", err)
	}
	return c.Blob(status, ContentType, []byte(b))
}
