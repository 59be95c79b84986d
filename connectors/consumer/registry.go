package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/xeipuuv/gojsonschema"
)

// Schema is a schema fetched from the registry by id.
type Schema struct {
	ID int
	// Type is AVRO, JSON or PROTOBUF (Confluent omits it for AVRO).
	Type string
	// Text is the schema document.
	Text string

	validator *gojsonschema.Schema // JSON schemas only
}

// registry fetches schemas by id from a Confluent-compatible REST API
// (GET /schemas/ids/{id}) and caches them: a schema id never changes meaning.
type registry struct {
	base   string
	token  string // the agency's API token, "" for none
	client *http.Client

	mu    sync.Mutex
	cache map[int]*Schema
}

func newRegistry(base, token string, client *http.Client) *registry {
	if client == nil {
		client = http.DefaultClient
	}
	return &registry{base: strings.TrimRight(base, "/"), token: token, client: client, cache: map[int]*Schema{}}
}

// schema returns the schema with id, from the cache or the registry. A 404
// is ErrUnknownSchema (the message is poison); anything else that goes wrong
// is ErrRegistryUnavailable (transient, retried).
func (r *registry) schema(ctx context.Context, id int) (*Schema, error) {
	r.mu.Lock()
	s, ok := r.cache[id]
	r.mu.Unlock()
	if ok {
		return s, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/schemas/ids/%d", r.base, id), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistryUnavailable, err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistryUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRegistryUnavailable, err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%w: id %d", ErrUnknownSchema, id)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// Retried like an outage (a token may be issued or an agency
		// reactivated meanwhile), but the log says what to fix.
		return nil, fmt.Errorf("%w: GET /schemas/ids/%d: HTTP %d: set Config.RegistryToken to the agency's API token: %s",
			ErrRegistryUnavailable, id, resp.StatusCode, strings.TrimSpace(string(body)))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: GET /schemas/ids/%d: HTTP %d: %s", ErrRegistryUnavailable, id, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var dto struct {
		SchemaType string `json:"schemaType"`
		Schema     string `json:"schema"`
	}
	if err := json.Unmarshal(body, &dto); err != nil || dto.Schema == "" {
		return nil, fmt.Errorf("%w: GET /schemas/ids/%d: unreadable answer", ErrRegistryUnavailable, id)
	}
	s = &Schema{ID: id, Type: strings.ToUpper(dto.SchemaType), Text: dto.Schema}
	if s.Type == "" {
		s.Type = "AVRO"
	}
	if s.Type == "JSON" {
		v, err := gojsonschema.NewSchema(gojsonschema.NewStringLoader(s.Text))
		if err != nil {
			return nil, fmt.Errorf("%w: schema %d does not compile: %v", ErrSchemaMismatch, id, err)
		}
		s.validator = v
	}
	r.mu.Lock()
	r.cache[id] = s
	r.mu.Unlock()
	return s, nil
}

// check validates a JSON payload against s.
func (s *Schema) check(payload []byte) error {
	switch s.Type {
	case "JSON":
	default:
		return fmt.Errorf("%w: schema %d is %s, payload is JSON", ErrSchemaMismatch, s.ID, s.Type)
	}
	res, err := s.validator.Validate(gojsonschema.NewBytesLoader(payload))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSchemaMismatch, err)
	}
	if !res.Valid() {
		var msgs []string
		for _, e := range res.Errors() {
			msgs = append(msgs, e.String())
		}
		return fmt.Errorf("%w: schema %d: %s", ErrSchemaMismatch, s.ID, strings.Join(msgs, "; "))
	}
	return nil
}
