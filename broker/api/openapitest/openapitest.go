// Package openapitest checks, in tests, that every answer of the bus's REST
// API agrees with its OpenAPI document (broker/api/openapi.json): the route
// is documented, the status is declared for it, and the body matches the
// declared schema (github.com/getkin/kin-openapi). Tests hook it in where
// they talk to the API, as an http.RoundTripper (Transport) or around the
// handler (Handler), so every request they make is checked.
package openapitest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	// The audit export answers NDJSON: one JSON value a line, checked as
	// the array of those values (the document's schema for it).
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		var out []any
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				return nil, fmt.Errorf("line %d is not JSON: %w", len(out)+1, err)
			}
			out = append(out, v)
		}
		return out, sc.Err()
	})
}

// Validator checks answers against one OpenAPI document.
type Validator struct {
	router routers.Router

	mu       sync.Mutex
	failures []string
	checked  int
}

// New loads and validates the document (OpenAPI 3.1 included). Its servers
// are dropped, so any host the tests' servers listen on matches.
func New(doc []byte) (*Validator, error) {
	l := openapi3.NewLoader()
	t, err := l.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: the document does not load: %w", err)
	}
	t.Servers = nil
	r, err := legacy.NewRouter(t)
	if err != nil {
		return nil, fmt.Errorf("openapitest: the document is not valid: %w", err)
	}
	return &Validator{router: r}, nil
}

// apiPaths are the paths of the REST API's namespace. Requests elsewhere
// (the schema registry's Confluent REST on its own port, the console's
// pages) are not the document's business and are let through unchecked.
var apiPaths = []string{"/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json"}

func inAPI(path string) bool {
	for _, p := range apiPaths {
		if path == strings.TrimSuffix(p, "/") || strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Check validates one answer to req. A request outside the API's paths is
// not checked; one inside them must match a documented operation unless
// the server itself answered that there is no such route (404 or 405).
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	if !inAPI(req.URL.Path) {
		return nil
	}
	err := v.check(req, status, header, body)
	v.mu.Lock()
	v.checked++
	if err != nil {
		v.failures = append(v.failures, err.Error())
	}
	v.mu.Unlock()
	return err
}

func (v *Validator) check(req *http.Request, status int, header http.Header, body []byte) error {
	if status == http.StatusBadRequest && bytes.HasPrefix(body, []byte("Client sent an HTTP request to an HTTPS server")) {
		return nil // net/http's own answer on a TLS listener, before any route
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if errors.As(err, &re) && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
			return nil // the server agrees there is no such operation
		}
		return fmt.Errorf("openapi: %s %s answered %d but the document has no such operation: %v", req.Method, req.URL.Path, status, err)
	}
	if strings.Contains(string(body), zeroTime) {
		return fmt.Errorf("openapi: %s %s answered a zero time (%s): a time that is not set must be left out", req.Method, req.URL.Path, zeroTime)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		b := string(body)
		if len(b) > 600 {
			b = b[:600] + "…"
		}
		return fmt.Errorf("openapi: %s %s (operation %s) answered %d, which the document does not allow: %v\nbody: %s",
			req.Method, req.URL.Path, route.Operation.OperationID, status, err, b)
	}
	return nil
}

// zeroTime is Go's zero time.Time in JSON, which the API never sends.
const zeroTime = `"0001-01-01T00:00:00Z"`

// Failures returns every mismatch seen so far, and how many answers were
// checked.
func (v *Validator) Failures() (failures []string, checked int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.failures...), v.checked
}

// Transport wraps base (nil: http.DefaultTransport) so that every answer
// is checked; a mismatch is returned as the request's error, so the test
// that made it fails where it made it.
func (v *Validator) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, base: base}
}

type transport struct {
	v    *Validator
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || !inAPI(req.URL.Path) {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := t.v.Check(req, resp.StatusCode, resp.Header, body); err != nil {
		return nil, err
	}
	return resp, nil
}

// Handler wraps h so that every answer it writes is checked; a mismatch
// fails t.
func (v *Validator) Handler(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if err := v.Check(r, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Error(err)
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}
