package registry

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"

	hambaregistry "github.com/hamba/avro/v2/registry"
)

var update = flag.Bool("update", false, "rewrite testdata/errors.golden")

type response struct {
	status      int
	contentType string
	body        string
}

func do(t *testing.T, base, method, path, contentType, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// reqBody builds a register/lookup request body.
func reqBody(schemaType, schema string) string {
	m := map[string]any{"schema": schema}
	if schemaType != "" {
		m["schemaType"] = schemaType
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// jsonOf marshals v for comparison with a response body.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func norm(t *testing.T, text string) string {
	t.Helper()
	n, err := normalizeJSON(text)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sameJSON compares JSON documents ignoring key order and spacing but not
// keys: an unexpected "schemaType" fails.
func sameJSON(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func TestHTTPAPI(t *testing.T) {
	srv := httptest.NewServer(New(newMemStore()).Handler())
	defer srv.Close()

	avroNorm := norm(t, avroUser)
	avroV2 := `{"type":"record","name":"User","namespace":"test","fields":[{"name":"id","type":"string"}]}`
	jsonNorm := norm(t, jsonUser)
	const vnd = "application/vnd.schemaregistry.v1+json"

	steps := []struct {
		name, method, path, contentType, body string
		wantStatus                            int
		wantBody                              string // JSON, compared by value
		wantRaw                               string // compared byte for byte instead
	}{
		{"root", "GET", "/", "", "", 200, `{}`, ""},
		{"no subjects", "GET", "/subjects", "", "", 200, `[]`, ""},
		{"types", "GET", "/schemas/types", "", "", 200, `["AVRO","JSON"]`, ""},
		{"config", "GET", "/config", "", "", 200, `{"compatibilityLevel":"BACKWARD"}`, ""},

		{"register avro", "POST", "/subjects/users-value/versions", vnd, reqBody("", avroUser), 200, `{"id":1}`, ""},
		{"re-register same", "POST", "/subjects/users-value/versions", vnd, reqBody("AVRO", avroUser), 200, `{"id":1}`, ""},
		{"same schema other subject", "POST", "/subjects/people-value/versions", "application/json", reqBody("", avroUser), 200, `{"id":1}`, ""},
		{"whitespace and key order", "POST", "/subjects/users-value/versions", "application/octet-stream",
			reqBody("", "{ \"namespace\": \"test\",\n \"name\": \"User\", \"type\": \"record\", \"fields\": [{\"type\":\"string\",\"name\":\"id\"}, {\"name\":\"age\",\"default\":null,\"type\":[\"null\",\"int\"]}] }"), 200, `{"id":1}`, ""},
		{"register json schema", "POST", "/subjects/users.json-value/versions", "application/vnd.schemaregistry.v1+json; charset=utf-8", reqBody("JSON", jsonUser), 200, `{"id":2}`, ""},
		{"json schema, other key order", "POST", "/subjects/users.json-value/versions", "", reqBody("JSON", `{"type":"object","properties":{"age":{"type":"integer"},"id":{"type":"string"}},"required":["id"]}`), 200, `{"id":2}`, ""},
		{"second avro version", "POST", "/subjects/users-value/versions", vnd, reqBody("", avroV2), 200, `{"id":3}`, ""},
		{"unknown fields are ignored", "POST", "/subjects/users-value/versions", vnd, `{"schema":` + jsonOf(avroV2) + `,"references":[],"metadata":null,"normalize":true}`, 200, `{"id":3}`, ""},

		{"subjects", "GET", "/subjects", "", "", 200, `["people-value","users-value","users.json-value"]`, ""},
		{"versions", "GET", "/subjects/users-value/versions", "", "", 200, `[1,2]`, ""},
		{"version 1", "GET", "/subjects/users-value/versions/1", "", "", 200,
			jsonOf(map[string]any{"subject": "users-value", "version": 1, "id": 1, "schema": avroNorm}), ""},
		{"latest", "GET", "/subjects/users-value/versions/latest", "", "", 200,
			jsonOf(map[string]any{"subject": "users-value", "version": 2, "id": 3, "schema": norm(t, avroV2)}), ""},
		{"-1 is latest", "GET", "/subjects/users-value/versions/-1", "", "", 200,
			jsonOf(map[string]any{"subject": "users-value", "version": 2, "id": 3, "schema": norm(t, avroV2)}), ""},
		{"raw schema of version", "GET", "/subjects/users-value/versions/1/schema", "", "", 200, "", avroNorm},
		{"raw schema of latest", "GET", "/subjects/users.json-value/versions/latest/schema", "", "", 200, "", jsonNorm},
		{"json version has schemaType", "GET", "/subjects/users.json-value/versions/1", "", "", 200,
			jsonOf(map[string]any{"subject": "users.json-value", "version": 1, "id": 2, "schemaType": "JSON", "schema": jsonNorm}), ""},
		{"avro by id has no schemaType", "GET", "/schemas/ids/1", "", "", 200, jsonOf(map[string]any{"schema": avroNorm}), ""},
		{"json by id", "GET", "/schemas/ids/2", "", "", 200, jsonOf(map[string]any{"schema": jsonNorm, "schemaType": "JSON"}), ""},
		{"raw by id", "GET", "/schemas/ids/2/schema", "", "", 200, "", jsonNorm},

		{"lookup registered", "POST", "/subjects/users-value", vnd, reqBody("", " "+avroUser+"\n"), 200,
			jsonOf(map[string]any{"subject": "users-value", "version": 1, "id": 1, "schema": avroNorm}), ""},
		{"lookup json", "POST", "/subjects/users.json-value", vnd, reqBody("JSON", jsonUser), 200,
			jsonOf(map[string]any{"subject": "users.json-value", "version": 1, "id": 2, "schemaType": "JSON", "schema": jsonNorm}), ""},
		{"lookup not under subject", "POST", "/subjects/people-value", vnd, reqBody("", avroV2), 404,
			`{"error_code":40403,"message":"Schema not found"}`, ""},

		{"subject with slash and dots", "POST", "/subjects/gov%2Fland.parcel-value/versions", vnd, reqBody("", avroUser), 200, `{"id":1}`, ""},
		{"subject with space and percent", "POST", "/subjects/a%20b%25c/versions", vnd, reqBody("", avroUser), 200, `{"id":1}`, ""},
		{"encoded subjects listed decoded", "GET", "/subjects", "", "", 200, `["a b%c","gov/land.parcel-value","people-value","users-value","users.json-value"]`, ""},
		{"encoded subject versions", "GET", "/subjects/gov%2Fland.parcel-value/versions/1", "", "", 200,
			jsonOf(map[string]any{"subject": "gov/land.parcel-value", "version": 1, "id": 1, "schema": avroNorm}), ""},
		{"encoded percent subject", "GET", "/subjects/a%20b%25c/versions", "", "", 200, `[1]`, ""},
		{"encoded lookup", "POST", "/subjects/gov%2Fland.parcel-value", vnd, reqBody("", avroUser), 200,
			jsonOf(map[string]any{"subject": "gov/land.parcel-value", "version": 1, "id": 1, "schema": avroNorm}), ""},

		{"unknown subject", "GET", "/subjects/nope/versions", "", "", 404, `{"error_code":40401,"message":"Subject 'nope' not found."}`, ""},
		{"unknown version", "GET", "/subjects/users-value/versions/9", "", "", 404, `{"error_code":40402,"message":"Version 9 not found."}`, ""},
		{"unknown id", "GET", "/schemas/ids/99", "", "", 404, `{"error_code":40403,"message":"Schema 99 not found"}`, ""},
		{"invalid schema", "POST", "/subjects/users-value/versions", vnd, reqBody("", `{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`), 422,
			`{"error_code":42201,"message":"Invalid schema: avro: unknown type: nope"}`, ""},
		{"invalid version", "GET", "/subjects/users-value/versions/0", "", "", 422,
			`{"error_code":42202,"message":"The specified version '0' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""}`, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			got := do(t, srv.URL, st.method, st.path, st.contentType, st.body)
			if got.status != st.wantStatus {
				t.Errorf("status %d, want %d (body %s)", got.status, st.wantStatus, got.body)
			}
			if got.contentType != vnd {
				t.Errorf("content type %q, want %q", got.contentType, vnd)
			}
			if st.wantRaw != "" && got.body != st.wantRaw {
				t.Errorf("body\n%s\nwant\n%s", got.body, st.wantRaw)
			}
			if st.wantBody != "" && !sameJSON(got.body, st.wantBody) {
				t.Errorf("body\n%s\nwant\n%s", got.body, st.wantBody)
			}
		})
	}
}

// A real Confluent-protocol client (hamba's) against the handler.
func TestHTTPWithConfluentClient(t *testing.T) {
	srv := httptest.NewServer(New(newMemStore()).Handler())
	defer srv.Close()
	c, err := hambaregistry.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, s, err := c.CreateSchema(ctx, "users-value", avroUser)
	if err != nil || id != 1 || s == nil {
		t.Fatalf("CreateSchema = %d, %v, %v", id, s, err)
	}
	got, err := c.GetSchema(ctx, id)
	if err != nil || got.Fingerprint() != s.Fingerprint() {
		t.Fatalf("GetSchema = %v, %v", got, err)
	}
	if info, err := c.GetLatestSchemaInfo(ctx, "users-value"); err != nil || info.Version != 1 || info.ID != 1 {
		t.Errorf("GetLatestSchemaInfo = %+v, %v", info, err)
	}
	if rid, _, err := c.IsRegistered(ctx, "users-value", avroUser); err != nil || rid != 1 {
		t.Errorf("IsRegistered = %d, %v", rid, err)
	}
	if vs, err := c.GetVersions(ctx, "users-value"); err != nil || fmt.Sprint(vs) != "[1]" {
		t.Errorf("GetVersions = %v, %v", vs, err)
	}
	// Not GetGlobalCompatibilityLevel: hamba reads "compatibility" where
	// Confluent's GET /config answers "compatibilityLevel".
	_, err = c.GetSchema(ctx, 42)
	var re hambaregistry.Error
	if !errors.As(err, &re) || re.StatusCode != 404 || re.Code != 40403 || re.Message != "Schema 42 not found" {
		t.Errorf("GetSchema(42) err = %#v", err)
	}
}

// TestHTTPErrorsGolden pins the exact error answers (status, content type,
// body) clients see. Run with -update to rewrite testdata/errors.golden.
func TestHTTPErrorsGolden(t *testing.T) {
	ms := newMemStore()
	srv := httptest.NewServer(New(ms).Handler())
	defer srv.Close()
	const vnd = "application/vnd.schemaregistry.v1+json"
	if got := do(t, srv.URL, "POST", "/subjects/users-value/versions", vnd, reqBody("", avroUser)); got.status != 200 {
		t.Fatalf("setup: %+v", got)
	}
	reqs := []struct{ method, path, contentType, body string }{
		{"GET", "/subjects/nope/versions", "", ""},
		{"GET", "/subjects/nope/versions/1", "", ""},
		{"GET", "/subjects/nope/versions/latest/schema", "", ""},
		{"GET", "/subjects/users-value/versions/2", "", ""},
		{"GET", "/subjects/users-value/versions/0", "", ""},
		{"GET", "/subjects/users-value/versions/-2", "", ""},
		{"GET", "/subjects/users-value/versions/abc", "", ""},
		{"GET", "/subjects/users-value/versions/2147483648", "", ""},
		{"GET", "/schemas/ids/99", "", ""},
		{"GET", "/schemas/ids/99/schema", "", ""},
		{"GET", "/schemas/ids/0", "", ""},
		{"GET", "/schemas/ids/abc", "", ""},
		{"POST", "/subjects/users-value/versions", vnd, reqBody("", `{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`)},
		{"POST", "/subjects/users-value/versions", vnd, reqBody("", `{"type":`)},
		{"POST", "/subjects/users-value/versions", vnd, reqBody("JSON", `{"type":12}`)},
		{"POST", "/subjects/users-value/versions", vnd, reqBody("JSON", `{"$ref":"#"}`)},
		{"POST", "/subjects/users-value/versions", vnd, reqBody("JSON", `{"$ref":"https://example.com/s.json"}`)},
		{"POST", "/subjects/users-value/versions", vnd, reqBody("PROTOBUF", `syntax = "proto3";`)},
		{"POST", "/subjects/users-value/versions", vnd, `{}`},
		{"POST", "/subjects/users-value/versions", vnd, `{"schema":"\"string\"","references":[{"name":"a","subject":"b","version":1}]}`},
		{"POST", "/subjects/users-value/versions", vnd, `{"schema":`},
		{"POST", "/subjects/users-value/versions", vnd, `{"schema":{"type":"string"}}`},
		{"POST", "/subjects/users-value/versions", "text/plain", reqBody("", `"string"`)},
		{"POST", "/subjects/users-value/versions", "application/x-www-form-urlencoded", reqBody("", `"string"`)},
		{"POST", "/subjects/nope", vnd, reqBody("", avroUser)},
		{"POST", "/subjects/users-value", vnd, reqBody("", `"string"`)},
		{"POST", "/subjects/users-value", vnd, reqBody("", `{"type":"nope"}`)},
		{"POST", "/subjects/%20/versions", vnd, reqBody("", `"string"`)},
		{"POST", "/subjects/a%01b/versions", vnd, reqBody("", `"string"`)},
		{"POST", "/subjects/a%FFb/versions", vnd, reqBody("", `"string"`)},
		{"POST", "/subjects/users-value/versions", vnd, `{"schema":"\"string\"","metadata":["owner"]}`},
		{"POST", "/subjects/users-value/versions", vnd, `{"schema":"\"string\"","ruleSet":{"domainRules":[{"name":"r","kind":"CONDITION","mode":"UPGRADE","type":"CEL"}]}}`},
		{"GET", "/subjects/users-value/metadata?key=owner", "", ""},
		{"GET", "/subjects/users-value/metadata?key=owner&value=nobody", "", ""},
		{"GET", "/nope", "", ""},
		{"DELETE", "/subjects", "", ""},
	}
	var out strings.Builder
	write := func(method, path, contentType, body string) {
		fmt.Fprintf(&out, "### %s %s\n", method, path)
		if contentType != "" {
			fmt.Fprintf(&out, "Content-Type: %s\n", contentType)
		}
		if body != "" {
			fmt.Fprintf(&out, "%s\n", body)
		}
		got := do(t, srv.URL, method, path, contentType, body)
		fmt.Fprintf(&out, "--> %d %s\n%s\n\n", got.status, got.contentType, got.body)
	}
	for _, rq := range reqs {
		write(rq.method, rq.path, rq.contentType, rq.body)
	}
	ms.setFail(errors.New("disk on fire"))
	out.WriteString("## the store fails from here on\n\n")
	for _, path := range []string{"/subjects", "/subjects/users-value/versions", "/schemas/ids/2"} {
		write("GET", path, "", "")
	}
	write("POST", "/subjects/users-value/versions", vnd, reqBody("", `"string"`))

	const golden = "testdata/errors.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestHTTPErrorsGolden -update)", err)
	}
	if out.String() != string(want) {
		t.Errorf("error answers differ from %s (run with -update if intended):\n%s", golden, out.String())
	}
}

// TestHTTPBodyLimit sends a body one byte over the limit to every endpoint
// that reads one: each answers 413 with Confluent's 42209 naming the limit.
func TestHTTPBodyLimit(t *testing.T) {
	srv := httptest.NewServer(New(newMemStore()).Handler())
	defer srv.Close()
	prefix := `{"schema":"\"string\"","doc":"`
	big := prefix + strings.Repeat("x", maxBody+1-len(prefix)-2) + `"}`
	if len(big) != maxBody+1 {
		t.Fatalf("body is %d bytes, want %d", len(big), maxBody+1)
	}
	want := fmt.Sprintf(`{"error_code":42209,"message":"Request body is larger than the registry's limit of %d bytes (4 MiB); split the schema into referenced schemas"}`, maxBody)
	for _, rq := range []struct{ method, path string }{
		{"POST", "/subjects/big-value/versions"},
		{"POST", "/subjects/big-value"},
		{"POST", "/compatibility/subjects/big-value/versions"},
		{"POST", "/compatibility/subjects/big-value/versions/latest"},
		{"PUT", "/config"},
		{"PUT", "/config/big-value"},
		{"PUT", "/mode/big-value"},
	} {
		got := do(t, srv.URL, rq.method, rq.path, ContentType, big)
		if got.status != http.StatusRequestEntityTooLarge || got.contentType != ContentType || got.body != want {
			t.Errorf("%s %s with %d bytes: %d %s %s", rq.method, rq.path, len(big), got.status, got.contentType, got.body)
		}
	}
	// At the limit exactly, the body is read (and here parsed).
	atLimit := big[:len(prefix)] + big[len(prefix)+1:]
	if got := do(t, srv.URL, "POST", "/subjects/big-value/versions", ContentType, atLimit); got.status != http.StatusOK {
		t.Errorf("a body of exactly %d bytes: %d %s", len(atLimit), got.status, got.body)
	}
}
