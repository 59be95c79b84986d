package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	hambaregistry "github.com/hamba/avro/v2/registry"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

type apiStep struct{ method, path, body string }

func sb(schemaType, schema string, extra string) string {
	b := reqBody(schemaType, schema)
	if extra != "" {
		b = strings.TrimSuffix(b, "}") + "," + extra + "}"
	}
	return b
}

// apiScenario walks the Confluent REST surface: config, compatibility
// (with verbose messages), modes, deletes, references and IMPORT.
func apiScenario() []apiStep {
	const (
		v1     = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"}]}`
		v1ws   = "{ \"type\" : \"record\", \"fields\":[{\"type\":\"string\",\"name\":\"id\"}], \"name\":\"Citizen\" }"
		noDef  = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"},{"name":"sex","type":"string"}]}`
		withDf = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"},{"name":"sex","type":"string","default":"M"}]}`
		jOld   = `{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name"],"additionalProperties":false}`
		jNew   = `{"type":"object","properties":{"name":{"type":"string","maxLength":100},"age":{"type":"number"},"province":{"type":"string"}},"required":["name","province"],"additionalProperties":false}`
		cccd   = `{"type":"string","pattern":"^[0-9]{12}$"}`
		person = `{"type":"object","properties":{"id":{"$ref":"cccd.json"}},"required":["id"]}`
		addr   = `{"type":"record","name":"Address","namespace":"vn.gov","fields":[{"name":"province","type":"string"}]}`
		pAvro  = `{"type":"record","name":"Person","namespace":"vn.gov","fields":[{"name":"home","type":"vn.gov.Address"}]}`
		tInt   = `{"type":"record","name":"T","fields":[{"name":"x","type":"int"}]}`
		tStr   = `{"type":"record","name":"T","fields":[{"name":"x","type":"string"}]}`
		tStrY  = `{"type":"record","name":"T","fields":[{"name":"x","type":"string"},{"name":"y","type":"int","default":0}]}`
	)
	return []apiStep{
		{"GET", "/config", ""},
		{"POST", "/subjects/citizen-value/versions", sb("", v1, "")},
		{"POST", "/subjects/citizen-value/versions", sb("", v1ws, "")},
		{"POST", "/subjects/citizen-value/versions", sb("", noDef, "")},
		{"POST", "/compatibility/subjects/citizen-value/versions/latest?verbose=true", sb("", noDef, "")},
		{"POST", "/compatibility/subjects/citizen-value/versions/latest", sb("", noDef, "")},
		{"POST", "/compatibility/subjects/citizen-value/versions?verbose=true", sb("", withDf, "")},
		{"POST", "/compatibility/subjects/citizen-value/versions/7", sb("", withDf, "")},
		{"POST", "/compatibility/subjects/nope/versions/latest", sb("", withDf, "")},
		{"POST", "/compatibility/subjects/nope/versions", sb("", withDf, "")},
		{"POST", "/subjects/citizen-value/versions", sb("", withDf, "")},
		{"GET", "/config/citizen-value", ""},
		{"GET", "/config/citizen-value?defaultToGlobal=true", ""},
		{"PUT", "/config/citizen-value", `{"compatibility":"FULL_TRANSITIVE"}`},
		{"PUT", "/config/citizen-value", `{"compatibility":"SIDEWAYS"}`},
		{"GET", "/config/citizen-value", ""},
		{"DELETE", "/config/citizen-value", ""},
		{"DELETE", "/config/citizen-value", ""},
		{"PUT", "/config", `{"compatibility":"FORWARD"}`},
		{"GET", "/config", ""},
		{"POST", "/subjects/people-json/versions", sb("JSON", jOld, "")},
		{"POST", "/compatibility/subjects/people-json/versions/1?verbose=true", sb("JSON", jNew, "")},
		{"PUT", "/config/people-json", `{"compatibility":"BACKWARD"}`},
		{"POST", "/compatibility/subjects/people-json/versions/1?verbose=true", sb("JSON", jNew, "")},
		{"POST", "/subjects/people-json/versions", sb("JSON", jNew, "")},
		{"DELETE", "/config", ""},
		{"PUT", "/mode/citizen-value", `{"mode":"READONLY"}`},
		{"GET", "/mode/citizen-value", ""},
		{"POST", "/subjects/citizen-value/versions", sb("", `"string"`, "")},
		{"DELETE", "/subjects/citizen-value/versions/1", ""},
		{"DELETE", "/mode/citizen-value", ""},
		{"GET", "/mode/citizen-value", ""},
		{"GET", "/mode/citizen-value?defaultToGlobal=true", ""},
		{"PUT", "/mode", `{"mode":"SOMETIMES"}`},
		{"DELETE", "/subjects/citizen-value/versions/1?permanent=true", ""},
		{"DELETE", "/subjects/citizen-value/versions/1", ""},
		{"DELETE", "/subjects/citizen-value/versions/1", ""},
		{"DELETE", "/subjects/citizen-value/versions/9", ""},
		{"GET", "/subjects/citizen-value/versions", ""},
		{"GET", "/subjects/citizen-value/versions?deleted=true", ""},
		{"GET", "/subjects/citizen-value/versions/1", ""},
		{"GET", "/subjects/citizen-value/versions/1?deleted=true", ""},
		{"GET", "/schemas/ids/1/subjects", ""},
		{"GET", "/schemas/ids/1/subjects?deleted=true", ""},
		{"GET", "/schemas/ids/2/versions", ""},
		{"GET", "/schemas/ids/99/versions", ""},
		{"POST", "/subjects/cccd-value/versions", sb("JSON", cccd, "")},
		{"POST", "/subjects/person-value/versions", sb("JSON", person, "")},
		{"POST", "/subjects/person-value/versions", sb("JSON", person, `"references":[{"name":"cccd.json","subject":"cccd-value","version":1}]`)},
		{"GET", "/subjects/person-value/versions/latest", ""},
		{"GET", "/subjects/cccd-value/versions/1/referencedby", ""},
		{"DELETE", "/subjects/cccd-value/versions/1", ""},
		{"DELETE", "/subjects/cccd-value", ""},
		{"POST", "/subjects/addr-value/versions", sb("", addr, "")},
		{"POST", "/subjects/pavro-value/versions", sb("", pAvro, "")},
		{"POST", "/subjects/pavro-value/versions", sb("", pAvro, `"references":[{"name":"vn.gov.Address","subject":"addr-value","version":-1}]`)},
		{"POST", "/subjects/pavro-value", sb("", pAvro, `"references":[{"name":"vn.gov.Address","subject":"addr-value","version":1}]`)},
		{"GET", "/schemas/ids/6", ""},
		{"GET", "/schemas/ids/6/subjects", ""},
		{"DELETE", "/subjects/citizen-value?permanent=true", ""},
		{"DELETE", "/subjects/citizen-value", ""},
		{"DELETE", "/subjects/citizen-value", ""},
		{"GET", "/subjects", ""},
		{"GET", "/subjects?deleted=true", ""},
		{"GET", "/subjects?subjectPrefix=p", ""},
		{"DELETE", "/subjects/citizen-value?permanent=true", ""},
		{"DELETE", "/subjects/citizen-value?permanent=true", ""},
		{"GET", "/subjects?deleted=true", ""},
		{"PUT", "/config/t-value", `{"compatibility":"NONE"}`},
		{"POST", "/subjects/t-value/versions", sb("", tInt, "")},
		{"POST", "/subjects/t-value/versions", sb("", tStr, "")},
		{"PUT", "/config/t-value", `{"compatibility":"BACKWARD_TRANSITIVE"}`},
		{"POST", "/subjects/t-value/versions", sb("", tStrY, "")},
		{"DELETE", "/subjects/t-value/versions/1", ""},
		{"POST", "/subjects/t-value/versions", sb("", tStrY, "")},
		{"PUT", "/mode", `{"mode":"IMPORT"}`},
		{"PUT", "/mode/imported-value", `{"mode":"IMPORT"}`},
		{"POST", "/subjects/imported-value/versions", sb("", `"int"`, "")},
		{"POST", "/subjects/imported-value/versions", sb("", `"int"`, `"id":500,"version":3`)},
		{"GET", "/subjects/imported-value/versions/3", ""},
		{"POST", "/subjects/imported-value/versions", sb("", `"long"`, `"id":500`)},
		{"POST", "/subjects/t-value/versions", sb("", `"long"`, `"id":501`)},
		{"POST", "/subjects/other-value/versions", sb("", `"double"`, "")},
	}
}

// TestAPIScenarioGolden runs the scenario against the in-memory fake and
// the SQLite store and compares both with testdata/api.golden (run with
// -update to rewrite it).
func TestAPIScenarioGolden(t *testing.T) {
	sq, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sq.Close() })
	backends := []struct {
		name string
		s    store.SchemaStore
	}{{"mem", newMemStore()}, {"sqlite", sq}}
	const golden = "testdata/api.golden"
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			srv := httptest.NewServer(New(b.s).Handler())
			defer srv.Close()
			var out strings.Builder
			for _, st := range apiScenario() {
				fmt.Fprintf(&out, "### %s %s\n", st.method, st.path)
				if st.body != "" {
					fmt.Fprintf(&out, "%s\n", st.body)
				}
				ct := ""
				if st.body != "" {
					ct = ContentType
				}
				got := do(t, srv.URL, st.method, st.path, ct, st.body)
				fmt.Fprintf(&out, "--> %d %s\n%s\n\n", got.status, got.contentType, got.body)
			}
			if *update && b.name == "mem" {
				if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != out.String() {
				t.Errorf("answers differ from %s (run with -update if intended):\n%s", golden, out.String())
			}
		})
	}
}

// TestHambaClientCompat drives the handler with hamba/avro's registry
// client: register, look up, fetch, check compatibility, set levels and
// delete, reading the errors back.
func TestHambaClientCompat(t *testing.T) {
	srv := httptest.NewServer(New(newMemStore()).Handler())
	defer srv.Close()
	ctx := context.Background()
	c, err := hambaregistry.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const v1 = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"}]}`
	const noDef = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"},{"name":"sex","type":"string"}]}`
	const withDf = `{"type":"record","name":"Citizen","fields":[{"name":"id","type":"string"},{"name":"sex","type":"string","default":"M"}]}`
	id, _, err := c.CreateSchema(ctx, "citizen-value", v1)
	if err != nil || id != 1 {
		t.Fatalf("CreateSchema = %d, %v", id, err)
	}
	if got, _, err := c.IsRegistered(ctx, "citizen-value", v1); err != nil || got != id {
		t.Fatalf("IsRegistered = %d, %v", got, err)
	}
	if s, err := c.GetSchema(ctx, id); err != nil || s.(avro.NamedSchema).Name() != "Citizen" {
		t.Fatalf("GetSchema = %v, %v", s, err)
	}
	if ok, err := c.IsCompatible(ctx, "citizen-value", noDef); err != nil || ok {
		t.Fatalf("IsCompatible(no default) = %v, %v; want false", ok, err)
	}
	if ok, err := c.IsCompatible(ctx, "citizen-value", withDf); err != nil || !ok {
		t.Fatalf("IsCompatible(default) = %v, %v; want true", ok, err)
	}
	_, _, err = c.CreateSchema(ctx, "citizen-value", noDef)
	var re hambaregistry.Error
	if !errors.As(err, &re) || re.StatusCode != 409 || re.Code != 409 || !strings.Contains(re.Message, "sex") {
		t.Fatalf("CreateSchema(incompatible) err = %#v", err)
	}
	if err := c.SetCompatibilityLevel(ctx, "citizen-value", hambaregistry.NoneCL); err != nil {
		t.Fatal(err)
	}
	if err := c.SetGlobalCompatibilityLevel(ctx, hambaregistry.FullCL); err != nil {
		t.Fatal(err)
	}
	if id2, _, err := c.CreateSchema(ctx, "citizen-value", noDef); err != nil || id2 != 2 {
		t.Fatalf("CreateSchema under NONE = %d, %v", id2, err)
	}
	vs, err := c.DeleteSubject(ctx, "citizen-value")
	if err != nil || len(vs) != 2 {
		t.Fatalf("DeleteSubject = %v, %v", vs, err)
	}
	_, err = c.GetLatestSchema(ctx, "citizen-value")
	if !errors.As(err, &re) || re.Code != 40401 {
		t.Fatalf("GetLatestSchema after delete err = %#v", err)
	}
	if subs, err := c.GetSubjects(ctx); err != nil || len(subs) != 0 {
		t.Fatalf("GetSubjects = %v, %v", subs, err)
	}
}
