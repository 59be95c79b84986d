package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

// storeSnapshot renders everything the registry keeps that a request
// could have written: every subject and version (soft-deleted ones too),
// every schema with its references and data-contract fields (ids 1..40
// and the imported 495..505), and the global and per-subject settings.
func storeSnapshot(t *testing.T, s store.SchemaStore, extraSubjects []string) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	subjects, err := s.Subjects(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, subj := range subjects {
		vs, err := s.Versions(ctx, subj, true)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "subject %q: %+v\n", subj, vs)
	}
	for _, ids := range [][2]int{{1, 40}, {495, 505}} {
		for id := ids[0]; id <= ids[1]; id++ {
			sc, err := s.SchemaByID(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			refs, err := s.References(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "schema %+v refs %+v\n", sc, refs)
		}
	}
	for _, subj := range append(append([]string{""}, subjects...), extraSubjects...) {
		for _, set := range []store.Setting{store.SettingCompatibility, store.SettingMode} {
			v, err := s.GetSetting(ctx, set, subj)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "setting %s of %q = %s\n", set, subj, v)
		}
	}
	return b.String()
}

// TestNothingHalfWritten sends every kind of bad request to the registry
// over a real store and checks the Confluent answer, and that the store
// holds exactly what it held before: no schema without its version, no
// version without its schema, no setting, whatever failed and wherever.
func TestNothingHalfWritten(t *testing.T) {
	backends := []struct {
		name string
		open func(t *testing.T) store.SchemaStore
	}{
		{"sqlite", func(t *testing.T) store.SchemaStore {
			s, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) store.SchemaStore { return openPG(t, pgSchemaURL(t)) }},
	}
	const (
		record   = `{"type":"record","name":"R","namespace":"vn.gov.lgsp.test","fields":[{"name":"a","type":"string"}]}`
		recordB  = `{"type":"record","name":"R","namespace":"vn.gov.lgsp.test","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}`
		contract = `{"properties":{"owner":"Bộ Công an"}}`
	)
	setup := []struct{ method, path, body string }{
		{"POST", "/subjects/users-value/versions", reqBody("", record)},
		{"POST", "/subjects/" + sexSubject + "/versions", reqBody("", sexAvro)},
		// Same text, with an (unused) reference: stored with it.
		{"POST", "/subjects/with-ref-value/versions", `{"schema":` + jsonOf(`{"type":"record","name":"W","fields":[{"name":"a","type":"string"}]}`) +
			`,"references":[{"name":"vn.gov.lgsp.common.Sex","subject":"` + sexSubject + `","version":1}]}`},
		{"POST", "/subjects/contract-value/versions", `{"schema":"\"string\"","metadata":` + contract + `}`},
		{"PUT", "/mode/frozen-value", `{"mode":"READONLY"}`},
		{"PUT", "/mode/imported-value", `{"mode":"IMPORT"}`},
		{"POST", "/subjects/imported-value/versions", `{"schema":"\"int\"","id":500,"version":1}`},
	}
	big := `{"schema":"\"string\"","doc":"` + strings.Repeat("x", maxBody) + `"}`
	cases := []struct {
		name, method, path, body string
		status, code             int
	}{
		{"invalid avro", "POST", "/subjects/users-value/versions", reqBody("", `{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`), 422, 42201},
		{"invalid json schema", "POST", "/subjects/j-value/versions", reqBody("JSON", `{"type":12}`), 422, 42201},
		{"unknown schema type", "POST", "/subjects/p-value/versions", reqBody("PROTOBUF", `syntax = "proto3";`), 422, 42201},
		{"empty schema", "POST", "/subjects/e-value/versions", `{}`, 422, 42201},
		{"body not JSON", "POST", "/subjects/users-value/versions", `{"schema":`, 400, 400},
		{"body over the limit", "POST", "/subjects/big-value/versions", big, 413, 42209},
		{"control character in subject", "POST", "/subjects/a%01b/versions", reqBody("", `"string"`), 422, 42208},
		{"newline in subject", "POST", "/subjects/a%0Ab/versions", reqBody("", `"string"`), 422, 42208},
		{"DEL in subject", "POST", "/subjects/a%7Fb/versions", reqBody("", `"string"`), 422, 42208},
		{"subject not UTF-8", "POST", "/subjects/a%FFb/versions", reqBody("", `"string"`), 422, 42208},
		{"blank subject", "POST", "/subjects/%20/versions", reqBody("", `"string"`), 422, 42208},
		{"control character, lookup", "POST", "/subjects/a%01b", reqBody("", `"string"`), 422, 42208},
		{"control character, config", "PUT", "/config/a%01b", `{"compatibility":"NONE"}`, 422, 42208},
		{"control character, mode", "PUT", "/mode/a%01b", `{"mode":"READONLY"}`, 422, 42208},
		{"incompatible", "POST", "/subjects/users-value/versions", reqBody("", recordB), 409, 409},
		{"read-only subject", "POST", "/subjects/frozen-value/versions", reqBody("", `"string"`), 422, 42205},
		{"id outside import mode", "POST", "/subjects/users-value/versions", `{"schema":"\"long\"","id":77}`, 422, 42205},
		{"import: id taken", "POST", "/subjects/imported-value/versions", `{"schema":"\"long\"","id":500,"version":2}`, 422, 42207},
		{"import: version taken", "POST", "/subjects/imported-value/versions", `{"schema":"\"long\"","id":501,"version":1}`, 422, 42205},
		{"import: no id", "POST", "/subjects/imported-value/versions", `{"schema":"\"long\""}`, 422, 42205},
		{"reference to nothing", "POST", "/subjects/r-value/versions", `{"schema":"\"string\"","references":[{"name":"x","subject":"nope","version":1}]}`, 422, 42201},
		{"same text, other references", "POST", "/subjects/other-value/versions", reqBody("", `{"type":"record","name":"W","fields":[{"name":"a","type":"string"}]}`), 422, 42201},
		{"same text, other metadata", "POST", "/subjects/other-value/versions", `{"schema":"\"string\"","metadata":{"properties":{"owner":"someone else"}}}`, 422, 42201},
		{"metadata not an object", "POST", "/subjects/m-value/versions", `{"schema":"\"long\"","metadata":["owner"]}`, 422, 42201},
		{"metadata of the wrong shape", "POST", "/subjects/m-value/versions", `{"schema":"\"long\"","metadata":{"properties":{"n":1}}}`, 422, 42201},
		{"rule without a name", "POST", "/subjects/m-value/versions", `{"schema":"\"long\"","ruleSet":{"domainRules":[{"kind":"CONDITION","mode":"WRITE","type":"CEL"}]}}`, 422, 42210},
		{"rule of an unknown kind", "POST", "/subjects/m-value/versions", `{"schema":"\"long\"","ruleSet":{"domainRules":[{"name":"r","kind":"MAYBE","mode":"WRITE","type":"CEL"}]}}`, 422, 42210},
		{"invalid compatibility level", "PUT", "/config/users-value", `{"compatibility":"SIDEWAYS"}`, 422, 42203},
		{"invalid mode", "PUT", "/mode/users-value", `{"mode":"SOMETIMES"}`, 422, 42204},
		{"import mode over existing schemas", "PUT", "/mode/users-value", `{"mode":"IMPORT"}`, 422, 42205},
		{"delete a referenced subject", "DELETE", "/subjects/" + sexSubject, "", 422, 42206},
		{"hard delete first", "DELETE", "/subjects/users-value?permanent=true", "", 404, 40405},
		{"hard delete a version first", "DELETE", "/subjects/users-value/versions/1?permanent=true", "", 404, 40407},
		{"delete in read-only mode", "DELETE", "/subjects/frozen-value", "", 422, 42205},
		{"compatibility of an invalid schema", "POST", "/compatibility/subjects/users-value/versions/latest", reqBody("", `{"type":"nope"}`), 422, 42201},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			st := be.open(t)
			srv := httptest.NewServer(New(st).Handler())
			defer srv.Close()
			for _, rq := range setup {
				if got := do(t, srv.URL, rq.method, rq.path, ContentType, rq.body); got.status != http.StatusOK {
					t.Fatalf("setup %s %s: %d %s", rq.method, rq.path, got.status, got.body)
				}
			}
			extra := []string{"frozen-value", "imported-value", "users-value", "m-value", "a\x01b"}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					before := storeSnapshot(t, st, extra)
					got := do(t, srv.URL, tc.method, tc.path, ContentType, tc.body)
					var body errorResponse
					if err := json.Unmarshal([]byte(got.body), &body); err != nil || got.status != tc.status ||
						body.ErrorCode != tc.code || body.Message == "" || got.contentType != ContentType {
						t.Fatalf("%s %s: %d %s %s, want %d with error_code %d", tc.method, tc.path, got.status, got.contentType, got.body, tc.status, tc.code)
					}
					if after := storeSnapshot(t, st, extra); after != before {
						t.Fatalf("the store changed after a refused request:\nbefore:\n%s\nafter:\n%s", before, after)
					}
				})
			}
		})
	}
}
