package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lgsp-bus/lgsp/broker/store"

	"github.com/xeipuuv/gojsonschema"
)

// FuzzRegisterJSON feeds arbitrary text to Register, as a JSON Schema and
// as an Avro schema (both are JSON documents). Register must never panic or
// hang, must reject with ErrInvalidSchema only, and whatever it accepts must
// be stable: normalised, re-registrable under the same id (and, with
// ?normalize=true, canonical to a fixed point), parseable again
// from the store, and (for JSON Schema) usable to validate values without
// looping. The seed corpus is in testdata/fuzz/FuzzRegisterJSON.
func FuzzRegisterJSON(f *testing.F) {
	samples := []any{nil, "x", 1, true, []any{[]any{}, 2}, map[string]any{"a": map[string]any{"a": 1}, "b": []any{"c"}}}
	f.Fuzz(func(t *testing.T, text string) {
		ctx := context.Background()
		for _, typ := range []string{TypeJSON, TypeAvro} {
			ms := newMemStore()
			r := New(ms)
			id, v, err := r.Register(ctx, "fuzz-value", typ, text)
			// Through the authenticated handler: the operator's
			// registration answers as Register did, and a plain agency's
			// "registration" of the schema the subject has is its id.
			h := r.Handler(WithAuth(fuzzAuth{}, &memAudit{}))
			for _, who := range []string{"op", "plain"} {
				status, got := postRegister(h, who, typ, text)
				switch {
				case !utf8.ValidString(text):
				case err == nil && (status != 200 || got != id):
					t.Fatalf("%s: %s registering what Register accepted as %d: %d %d", typ, who, id, status, got)
				case err != nil && who == "op" && status != 422 && status != 400:
					t.Fatalf("%s: the operator registering what Register refused (%v): %d", typ, err, status)
				case err != nil && who == "plain" && status != 403:
					t.Fatalf("%s: a plain agency registering a new schema: %d", typ, status)
				}
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidSchema) {
					t.Fatalf("%s: error is not ErrInvalidSchema: %v", typ, err)
				}
				continue
			}
			s, err := r.SchemaByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := normalizeJSON(s.Text); err != nil || n != s.Text {
				t.Fatalf("%s: stored text is not normalised:\n%s\n%s (%v)", typ, s.Text, n, err)
			}
			if id2, v2, err := r.Register(ctx, "fuzz-value", typ, s.Text); err != nil || id2 != id || v2 != v {
				t.Fatalf("%s: re-registering the stored text = %d %d %v, want %d %d", typ, id2, v2, err, id, v)
			}
			// ?normalize=true accepts whatever Register accepts, and its
			// canonical text is a fixed point: normalised again it is the
			// same schema, under the same id.
			nid, _, err := r.RegisterSchema(ctx, "fuzz-norm-value", RegisterRequest{SchemaType: typ, Schema: text, Normalize: true})
			if err != nil {
				t.Fatalf("%s: registering with normalize: %v", typ, err)
			}
			ns, err := r.SchemaByID(ctx, nid)
			if err != nil {
				t.Fatal(err)
			}
			if again, _, err := r.RegisterSchema(ctx, "fuzz-norm-value", RegisterRequest{SchemaType: typ, Schema: ns.Text, Normalize: true}); err != nil || again != nid {
				t.Fatalf("%s: the canonical text registered with normalize = %d, %v; want %d", typ, again, err, nid)
			}
			cold := New(ms)
			if typ == TypeAvro {
				if _, err := cold.LookupAvro(ctx, id); err != nil {
					t.Fatalf("stored Avro schema does not parse again: %v", err)
				}
				continue
			}
			js, err := cold.LookupJSON(ctx, id)
			if err != nil {
				t.Fatalf("stored JSON Schema does not compile again: %v", err)
			}
			for _, x := range samples {
				if _, err := js.Validate(gojsonschema.NewGoLoader(x)); err != nil {
					t.Fatalf("validating %v: %v", x, err)
				}
			}
		}
	})
}

// postRegister registers text through h as who and returns the status
// and the id answered.
func postRegister(h http.Handler, who, typ, text string) (int, int) {
	body, _ := json.Marshal(map[string]string{"schemaType": typ, "schema": text})
	req := httptest.NewRequest("POST", "http://registry/subjects/fuzz-value/versions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+who)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out struct{ ID int }
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out.ID
}

// snapshot is the store's whole state, to compare before and after.
func (m *memStore) snapshot() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprint(len(m.schemas), m.subjects, m.refs, m.settings)
}

// fuzzAuth is the fuzz targets' authenticator: three fixed bearer tokens.
type fuzzAuth struct{}

func (fuzzAuth) Authenticate(_ context.Context, c Credential) (Principal, error) {
	switch {
	case c.Secret == "op" && (!c.Basic || c.User == OperatorUser):
		return Principal{Name: OperatorUser, Operator: true, Active: true}, nil
	case c.Secret == "steward" && (!c.Basic || c.User == "steward"):
		return Principal{Name: "steward", Active: true, Steward: true}, nil
	case c.Secret == "plain" && (!c.Basic || c.User == "plain"):
		return Principal{Name: "plain", Active: true}, nil
	}
	return Principal{}, ErrUnauthenticated
}

// memAudit is an in-memory Auditor.
type memAudit struct{ entries []store.AuditEntry }

func (m *memAudit) Append(_ context.Context, es []store.AuditEntry) error {
	m.entries = append(m.entries, es...)
	return nil
}

// FuzzAuthenticatedHandler sends arbitrary requests (method, path,
// Authorization header, body) to the authenticated handler. It must never
// panic or answer 5xx; a caller that may not change the registry never
// changes it (the store is the same afterwards) and gets no 2xx for a
// change unless it was a registration of a schema the subject already has;
// every change that answered 2xx is audited. The seed corpus is in
// testdata/fuzz/FuzzAuthenticatedHandler.
func FuzzAuthenticatedHandler(f *testing.F) {
	f.Add("PUT", "/config/s-value", "Bearer plain", `{"compatibility":"NONE"}`)
	f.Add("POST", "/subjects/s-value/versions", "Basic cGxhaW46cGxhaW4=", `{"schemaType":"JSON","schema":"{\"type\":\"integer\"}"}`)
	f.Add("DELETE", "/subjects/s-value/versions/1", "", "")
	f.Add("PUT", "/mode", "Bearer steward", `{"mode":"READONLY"}`)
	f.Add("POST", "/subjects/s-value", "Bearer op", `{"schema":"\"string\""}`)
	f.Add("GET", "/subjects", "Basic !!!", "")
	f.Fuzz(func(t *testing.T, method, path, authz, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") || len(method) == 0 || len(method) > 10 {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // net/http answers 400 before any handler runs
		}
		for _, r := range method {
			if r < 'A' || r > 'Z' {
				return
			}
		}
		ms := newMemStore()
		reg := New(ms)
		ctx := context.Background()
		if _, _, err := reg.Register(ctx, "s-value", TypeJSON, `{"type":"string"}`); err != nil {
			t.Fatal(err)
		}
		log := &memAudit{}
		h := reg.Handler(WithAuth(fuzzAuth{}, log))
		req := httptest.NewRequest(method, "http://registry"+path, strings.NewReader(body))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		before := ms.snapshot()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%q): %d %s", method, path, authz, rec.Code, rec.Body)
		}
		cred, present, err := credentialOf(req)
		p, aerr := fuzzAuth{}.Authenticate(ctx, cred)
		writer := present && err == nil && aerr == nil && p.mayChange()
		if !writer && ms.snapshot() != before {
			t.Fatalf("%s %s (%q) by a caller who may not change the registry changed it: %d %s", method, path, authz, rec.Code, rec.Body)
		}
		if writer && ms.snapshot() != before && len(log.entries) == 0 {
			t.Fatalf("%s %s (%q) changed the registry without an audit entry", method, path, authz)
		}
	})
}
