package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/xeipuuv/gojsonschema"
)

const (
	avroUser = `{"type":"record","name":"User","namespace":"test","fields":[{"name":"id","type":"string"},{"name":"age","type":["null","int"],"default":null}]}`
	jsonUser = `{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"age":{"type":"integer"}}}`
)

func mustRegister(t *testing.T, r *Registry, subject, typ, text string) (int, int) {
	t.Helper()
	id, v, err := r.Register(context.Background(), subject, typ, text)
	if err != nil {
		t.Fatalf("Register(%s, %s): %v", subject, typ, err)
	}
	return id, v
}

func TestRegisterDeduplicates(t *testing.T) {
	r := New(newMemStore())
	id, v := mustRegister(t, r, "users-value", "", avroUser)
	if id != 1 || v != 1 {
		t.Fatalf("first register = id %d v %d, want 1 1", id, v)
	}

	variants := []struct {
		name, subject, typ, text string
		wantID, wantVersion      int
	}{
		{"same text, same subject", "users-value", "AVRO", avroUser, 1, 1},
		{"lower-case type", "users-value", "avro", avroUser, 1, 1},
		{"whitespace", "users-value", "AVRO", " {\n\t\"type\": \"record\", \"name\": \"User\", \"namespace\": \"test\",\n \"fields\": [ {\"name\":\"id\", \"type\":\"string\"}, {\"name\":\"age\",\"type\":[\"null\",\"int\"],\"default\":null} ] }\n", 1, 1},
		{"key order", "users-value", "AVRO", `{"fields":[{"type":"string","name":"id"},{"default":null,"type":["null","int"],"name":"age"}],"namespace":"test","name":"User","type":"record"}`, 1, 1},
		{"other subject", "people-value", "AVRO", avroUser, 1, 1},
		{"different default is a different schema", "users-value", "AVRO", strings.Replace(avroUser, `"type":"string"}`, `"type":"string","default":"x"}`, 1), 2, 2},
		{"doc is kept, so a different schema", "users-value", "AVRO", strings.Replace(avroUser, `"name":"User",`, `"name":"User","doc":"a user",`, 1), 3, 3},
		{"json schema", "users-json-value", "JSON", jsonUser, 4, 1},
		{"json schema, key order and spaces", "users-json-value", "JSON", `{ "properties": {"age": {"type": "integer"}, "id": {"type": "string"}}, "required": ["id"], "type": "object" }`, 4, 1},
		{"same text as AVRO is another schema", "users-json2-value", "JSON", `"string"`, 0, 0},
		{"back to version 1", "users-value", "AVRO", avroUser, 1, 1},
	}
	for _, tc := range variants {
		t.Run(tc.name, func(t *testing.T) {
			id, v, err := r.Register(context.Background(), tc.subject, tc.typ, tc.text)
			if tc.wantID == 0 {
				if !errors.Is(err, ErrInvalidSchema) {
					t.Fatalf("err = %v, want ErrInvalidSchema", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id != tc.wantID || v != tc.wantVersion {
				t.Errorf("id %d v %d, want %d %d", id, v, tc.wantID, tc.wantVersion)
			}
		})
	}
}

func TestNormalisedTextKeepsNumbersAndCharacters(t *testing.T) {
	r := New(newMemStore())
	text := "{\"type\":\"object\",\"description\":\"a < b & c — đ\",\"properties\":{\"n\":{\"type\":\"integer\",\"maximum\":123456789012345678901234567890,\"multipleOf\":0.10}}}"
	id, _ := mustRegister(t, r, "n-value", "JSON", text)
	s, err := r.SchemaByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"description":"a < b & c — đ","properties":{"n":{"maximum":123456789012345678901234567890,"multipleOf":0.10,"type":"integer"}},"type":"object"}`
	if s.Text != want {
		t.Errorf("stored text\n%s\nwant\n%s", s.Text, want)
	}
}

func TestInvalidSchemas(t *testing.T) {
	cases := []struct{ name, typ, text, wantDetail string }{
		{"empty", "AVRO", "  ", "empty schema"},
		{"not json", "AVRO", `{"type":`, "not valid JSON"},
		{"trailing data", "JSON", `{} {}`, "after the top-level value"},
		{"bare word", "AVRO", `string`, "not valid JSON"},
		{"unknown avro type", "AVRO", `{"type":"record","name":"A","fields":[{"name":"b","type":"B"}]}`, "unknown type: B"},
		{"bad avro default", "AVRO", `{"type":"record","name":"A","fields":[{"name":"a","type":"int","default":"x"}]}`, "invalid default"},
		{"json schema array", "JSON", `[]`, "schema is invalid"},
		{"json schema bad type", "JSON", `{"type":12}`, "Invalid type"},
		{"json schema bad regex", "JSON", `{"pattern":"("}`, "regex"},
		{"unsupported type", "PROTOBUF", `syntax = "proto3";`, "not supported"},
	}
	r := New(newMemStore())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := r.Register(context.Background(), "x-value", tc.typ, tc.text)
			if !errors.Is(err, ErrInvalidSchema) {
				t.Fatalf("err = %v, want ErrInvalidSchema", err)
			}
			var re *Error
			if !errors.As(err, &re) || re.Code != 42201 {
				t.Fatalf("err %v is not a 42201 *Error", err)
			}
			if !strings.Contains(err.Error(), tc.wantDetail) {
				t.Errorf("err = %q, want it to mention %q", err, tc.wantDetail)
			}
		})
	}
	if subjects, _ := r.Subjects(context.Background()); len(subjects) != 0 {
		t.Errorf("invalid schemas created subjects %v", subjects)
	}
}

// A named Avro type must be defined in the schema that uses it. hamba's
// avro.Parse would resolve it from every schema parsed before in the
// process.
func TestAvroNamesDoNotLeakBetweenSchemas(t *testing.T) {
	r := New(newMemStore())
	mustRegister(t, r, "a-value", "AVRO", `{"type":"record","name":"Leak","namespace":"t","fields":[{"name":"x","type":"int"}]}`)
	_, _, err := r.Register(context.Background(), "b-value", "AVRO", `{"type":"record","name":"B","namespace":"t","fields":[{"name":"l","type":"t.Leak"}]}`)
	if !errors.Is(err, ErrInvalidSchema) {
		t.Fatalf("schema using a type it does not define: err = %v, want ErrInvalidSchema", err)
	}
	if avro.DefaultSchemaCache.Get("t.Leak") != nil {
		t.Error("registering put t.Leak into hamba's process-wide cache")
	}
}

func TestJSONSchemaRefLoops(t *testing.T) {
	loops := map[string]string{
		"self":            `{"$ref":"#"}`,
		"two definitions": `{"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"$ref":"#/definitions/a"}`,
		"through allOf":   `{"definitions":{"a":{"allOf":[{"$ref":"#/definitions/a"}]}},"$ref":"#/definitions/a"}`,
		"through anyOf":   `{"anyOf":[{"type":"string"},{"$ref":"#"}]}`,
		"through oneOf":   `{"properties":{"x":{"oneOf":[{"$ref":"#/properties/x"}]}}}`,
		"through not":     `{"not":{"$ref":"#"}}`,
		"through if/then": `{"if":{"type":"object"},"then":{"$ref":"#"}}`,
		"through deps":    `{"dependencies":{"a":{"$ref":"#"}}}`,
		"with $id":        `{"$id":"http://example.com/s.json","definitions":{"a":{"$ref":"http://example.com/s.json#/definitions/a"}},"allOf":[{"$ref":"#/definitions/a"}]}`,
	}
	fine := map[string]string{
		"tree":              `{"definitions":{"node":{"type":"object","properties":{"children":{"type":"array","items":{"$ref":"#/definitions/node"}}}}},"$ref":"#/definitions/node"}`,
		"linked list":       `{"type":"object","properties":{"next":{"oneOf":[{"type":"null"},{"$ref":"#"}]}}}`,
		"additionalProps":   `{"type":"object","additionalProperties":{"$ref":"#"}}`,
		"shared definition": `{"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/definitions/s"},"b":{"allOf":[{"$ref":"#/definitions/s"}]}}}`,
		"$id and fragment":  `{"$id":"http://example.com/s.json","definitions":{"a":{"type":"string"}},"properties":{"x":{"$ref":"#/definitions/a"}}}`,
		"boolean schema":    `true`,
	}
	r := New(newMemStore())
	for name, text := range loops {
		t.Run("loop/"+name, func(t *testing.T) {
			_, _, err := r.Register(context.Background(), "loop-value", "JSON", text)
			if !errors.Is(err, ErrInvalidSchema) || !strings.Contains(err.Error(), "$ref loop") {
				t.Fatalf("err = %v, want a $ref loop ErrInvalidSchema", err)
			}
		})
	}
	for name, text := range fine {
		t.Run("fine/"+name, func(t *testing.T) {
			id, _ := mustRegister(t, r, "fine-"+name, "JSON", text)
			s, err := r.LookupJSON(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			doc := map[string]any{"children": []any{map[string]any{"children": []any{}}}, "next": map[string]any{"next": nil}, "a": "x", "x": "y"}
			if _, err := s.Validate(gojsonschema.NewGoLoader(doc)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The registry must not fetch or read anything a schema points at.
func TestJSONSchemaRemoteRefsAreRefused(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, `{"type":"string"}`)
	}))
	defer srv.Close()
	r := New(newMemStore())
	for _, ref := range []string{srv.URL + "/s.json", srv.URL + "/s.json#/x", "file:///etc/hostname", "other.json"} {
		text := fmt.Sprintf(`{"properties":{"x":{"$ref":%q}}}`, ref)
		_, _, err := r.Register(context.Background(), "remote-value", "JSON", text)
		if !errors.Is(err, ErrInvalidSchema) {
			t.Errorf("$ref %s: err = %v, want ErrInvalidSchema", ref, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("registry made %d requests for remote $refs", n)
	}
}

func TestLookups(t *testing.T) {
	ms := newMemStore()
	r := New(ms)
	ctx := context.Background()
	aid, _ := mustRegister(t, r, "a-value", "AVRO", avroUser)
	jid, _ := mustRegister(t, r, "j-value", "JSON", jsonUser)
	mustRegister(t, r, "a-value", "AVRO", `{"type":"record","name":"User","namespace":"test","fields":[{"name":"id","type":"string"}]}`)

	// A second registry over the same store starts with cold caches.
	for name, reg := range map[string]*Registry{"warm": r, "cold": New(ms)} {
		t.Run(name, func(t *testing.T) {
			as, err := reg.LookupAvro(ctx, aid)
			if err != nil {
				t.Fatal(err)
			}
			if as.(*avro.RecordSchema).FullName() != "test.User" {
				t.Errorf("LookupAvro = %s", as.String())
			}
			if again, _ := reg.LookupAvro(ctx, aid); again != as {
				t.Error("LookupAvro parsed again instead of using the cache")
			}
			js, err := reg.LookupJSON(ctx, jid)
			if err != nil {
				t.Fatal(err)
			}
			res, err := js.Validate(gojsonschema.NewGoLoader(map[string]any{"age": 3}))
			if err != nil || res.Valid() {
				t.Errorf("a value without id validated: %v %v", res, err)
			}
			if _, err := reg.LookupJSON(ctx, aid); !errors.Is(err, ErrSchemaTypeMismatch) {
				t.Errorf("LookupJSON(avro id) err = %v", err)
			}
			if _, err := reg.LookupAvro(ctx, jid); !errors.Is(err, ErrSchemaTypeMismatch) {
				t.Errorf("LookupAvro(json id) err = %v", err)
			}
			if _, err := reg.LookupAvro(ctx, 99); !errors.Is(err, ErrSchemaNotFound) {
				t.Errorf("LookupAvro(99) err = %v", err)
			}
		})
	}

	latest, err := r.Latest(ctx, "a-value")
	if err != nil || latest.Version != 2 || latest.ID != 3 || latest.Subject != "a-value" || latest.Type != TypeAvro {
		t.Errorf("Latest = %+v, %v", latest, err)
	}
	if v1, err := r.Version(ctx, "a-value", 1); err != nil || v1.ID != aid {
		t.Errorf("Version 1 = %+v, %v", v1, err)
	}
	if vs, err := r.Versions(ctx, "a-value"); err != nil || fmt.Sprint(vs) != "[1 2]" {
		t.Errorf("Versions = %v, %v", vs, err)
	}
	if ss, err := r.Subjects(ctx); err != nil || fmt.Sprint(ss) != "[a-value j-value]" {
		t.Errorf("Subjects = %v, %v", ss, err)
	}
	found, err := r.Lookup(ctx, "a-value", "", " "+avroUser)
	if err != nil || found.Version != 1 || found.ID != aid {
		t.Errorf("Lookup = %+v, %v", found, err)
	}

	errCases := []struct {
		name string
		err  error
		want *Error
		msg  string
	}{
		{"unknown subject", second(r.Latest(ctx, "nope")), ErrSubjectNotFound, "Subject 'nope' not found."},
		{"unknown version", second(r.Version(ctx, "a-value", 7)), ErrVersionNotFound, "Version 7 not found."},
		{"version 0", second(r.Version(ctx, "a-value", 0)), ErrInvalidVersion, "The specified version '0' is not a valid version id."},
		{"unknown id", second(r.SchemaByID(ctx, 42)), ErrSchemaNotFound, "Schema 42 not found"},
		{"versions of unknown subject", second(r.Versions(ctx, "nope")), ErrSubjectNotFound, "Subject 'nope' not found."},
		{"lookup, unknown subject", second(r.Lookup(ctx, "nope", "", avroUser)), ErrSubjectNotFound, "Subject 'nope' not found."},
		{"lookup, schema not under subject", second(r.Lookup(ctx, "a-value", "JSON", jsonUser)), ErrSchemaNotFound, "Schema not found"},
		{"empty subject", third(r.Register(ctx, "", "", avroUser)), ErrInvalidSubject, "The specified subject '' is not valid."},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want code %d", tc.err, tc.want.Code)
			}
			var re *Error
			errors.As(tc.err, &re)
			if !strings.HasPrefix(re.Message, tc.msg) {
				t.Errorf("message = %q, want prefix %q", re.Message, tc.msg)
			}
		})
	}
}

// second and third return the error of a (value, error) or (int, int,
// error) call.
func second[T any](_ T, err error) error { return err }

func third(_, _ int, err error) error { return err }

func TestStoreFailure(t *testing.T) {
	ms := newMemStore()
	r := New(ms)
	boom := errors.New("disk on fire")
	ms.setFail(boom)
	_, _, err := r.Register(context.Background(), "a-value", "", avroUser)
	if !errors.Is(err, ErrStore) || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want ErrStore wrapping the cause", err)
	}
	if _, err := r.Subjects(context.Background()); !errors.Is(err, ErrStore) {
		t.Errorf("Subjects err = %v", err)
	}
}

// Parsed schemas are shared by every validating goroutine.
func TestConcurrentUse(t *testing.T) {
	r := New(newMemStore())
	ctx := context.Background()
	aid, _ := mustRegister(t, r, "a-value", "AVRO", avroUser)
	jid, _ := mustRegister(t, r, "j-value", "JSON", jsonUser)
	cold := New(r.store)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 20 {
				js, err := cold.LookupJSON(ctx, jid)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := js.Validate(gojsonschema.NewGoLoader(map[string]any{"id": "x", "age": i})); err != nil {
					t.Error(err)
				}
				as, err := cold.LookupAvro(ctx, aid)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := avro.Marshal(as, map[string]any{"id": "x", "age": nil}); err != nil {
					t.Error(err)
				}
				if _, _, err := r.Register(ctx, fmt.Sprintf("s%d-value", i), "JSON", jsonUser); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
