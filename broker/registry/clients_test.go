package registry

// Third-party Schema Registry clients, unmodified, against the registry's
// handler on a real HTTP server over a real (SQLite) store: twmb/franz-go's
// pkg/sr and confluent-kafka-go's schemaregistry (which builds without
// cgo). Each registers Avro and JSON Schema with references, fetches by id,
// looks up, checks compatibility, gets and sets config and mode, deletes
// softly and hard, and reads the typed errors back the way the client
// exposes them. The serde round trips are in serde_*_test.go.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/rest"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/schemas"
)

// Schemas the client tests register: an Avro enum and a JSON Schema
// string type shared through references, and the records using them.
const (
	sexSubject = "vn.gov.lgsp.common.Sex"
	sexAvro    = `{"type":"enum","name":"Sex","namespace":"vn.gov.lgsp.common","symbols":["M","F"]}`
	personAvro = `{"type":"record","name":"Person","namespace":"vn.gov.lgsp.tax","fields":[
		{"name":"cccd","type":"string"},{"name":"full_name","type":"string"},
		{"name":"sex","type":"vn.gov.lgsp.common.Sex"}]}`
	// personAvroV2 adds a field with a default: BACKWARD compatible.
	personAvroV2 = `{"type":"record","name":"Person","namespace":"vn.gov.lgsp.tax","fields":[
		{"name":"cccd","type":"string"},{"name":"full_name","type":"string"},
		{"name":"sex","type":"vn.gov.lgsp.common.Sex"},
		{"name":"province_code","type":"string","default":"001"}]}`
	// personAvroBad adds a field without a default: not BACKWARD compatible.
	personAvroBad = `{"type":"record","name":"Person","namespace":"vn.gov.lgsp.tax","fields":[
		{"name":"cccd","type":"string"},{"name":"full_name","type":"string"},
		{"name":"sex","type":"vn.gov.lgsp.common.Sex"},{"name":"ethnicity","type":"string"}]}`

	cccdSubject = "vn.gov.lgsp.common.cccd"
	cccdJSON    = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"string","pattern":"^[0-9]{12}$"}`
	personJSON  = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
		"properties":{"cccd":{"$ref":"cccd.json"},"full_name":{"type":"string","minLength":1}},
		"required":["cccd","full_name"]}`
	// personJSONBad closes the content model and requires a new property:
	// data written with the open model may not be readable.
	personJSONBad = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,
		"properties":{"cccd":{"$ref":"cccd.json"},"full_name":{"type":"string","minLength":1},"ward":{"type":"string"}},
		"required":["cccd","full_name","ward"]}`
)

// testBus is a registry with the catalog's datasets bootstrapped (as `lgsp
// dev` starts it) on a SQLite store, served on a real HTTP listener.
type testBus struct {
	st  *sqlitestore.Store
	reg *Registry
	srv *httptest.Server
	ids map[string]int // dataset → envelope schema id
	cat *schemas.Catalog
}

func newTestBus(t testing.TB) *testBus {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "store.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	reg := New(st)
	cat := schemas.MustLoad()
	ids, err := reg.Bootstrap(context.Background(), cat)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(reg.Handler())
	t.Cleanup(srv.Close)
	return &testBus{st: st, reg: reg, srv: srv, ids: ids, cat: cat}
}

func (b *testBus) dataset(t testing.TB, name string) schemas.Dataset {
	t.Helper()
	d, ok := b.cat.Dataset(name)
	if !ok {
		t.Fatalf("no dataset %s in the catalog", name)
	}
	return d
}

// srErr returns the HTTP status and Confluent code of a franz-go error,
// as franz-go exposes them.
func srErr(t *testing.T, err error) (status, code int, typed *sr.Error) {
	t.Helper()
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not an *sr.ResponseError", err, err)
	}
	return re.StatusCode, re.ErrorCode, re.SchemaError()
}

func wantSRErr(t *testing.T, what string, err error, status int, typed *sr.Error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %d %s", what, status, typed.Name)
	}
	gotStatus, code, gotTyped := srErr(t, err)
	if gotStatus != status || code != typed.Code || gotTyped != typed {
		t.Fatalf("%s: %d / %d (%v), want %d / %d %s; message %q", what, gotStatus, code, gotTyped, status, typed.Code, typed.Name, err)
	}
}

func TestFranzGoClient(t *testing.T) {
	bus := newTestBus(t)
	cl, err := sr.NewClient(sr.URLs(bus.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	verbose := sr.WithParams(ctx, sr.Verbose)

	types, err := cl.SupportedTypes(ctx)
	if err != nil || !slices.Equal(types, []sr.SchemaType{sr.TypeAvro, sr.TypeJSON}) {
		t.Fatalf("SupportedTypes = %v, %v", types, err)
	}

	// Avro with a reference.
	sex, err := cl.CreateSchema(ctx, sexSubject, sr.Schema{Schema: sexAvro})
	if err != nil || sex.Version != 1 || sex.Subject != sexSubject {
		t.Fatalf("CreateSchema(Sex) = %+v, %v", sex, err)
	}
	sexRef := []sr.SchemaReference{{Name: "vn.gov.lgsp.common.Sex", Subject: sexSubject, Version: 1}}
	person, err := cl.CreateSchema(ctx, "tax.person-value", sr.Schema{Schema: personAvro, References: sexRef})
	if err != nil || person.Version != 1 || person.ID == sex.ID || !reflect.DeepEqual(person.References, sexRef) {
		t.Fatalf("CreateSchema(Person) = %+v, %v", person, err)
	}
	byID, err := cl.SchemaByID(ctx, person.ID)
	if err != nil || byID.Type != sr.TypeAvro || !reflect.DeepEqual(byID.References, sexRef) || !sameJSON(byID.Schema, personAvro) {
		t.Fatalf("SchemaByID(%d) = %+v, %v", person.ID, byID, err)
	}
	if text, err := cl.SchemaTextByID(ctx, sex.ID); err != nil || !sameJSON(text, sexAvro) {
		t.Fatalf("SchemaTextByID = %q, %v", text, err)
	}
	found, err := cl.LookupSchema(ctx, "tax.person-value", sr.Schema{Schema: personAvro, References: sexRef})
	if err != nil || found.ID != person.ID || found.Version != 1 {
		t.Fatalf("LookupSchema = %+v, %v", found, err)
	}
	if refs, err := cl.SchemaReferences(ctx, sexSubject, 1); err != nil || len(refs) != 1 || refs[0].ID != person.ID {
		t.Fatalf("SchemaReferences(Sex) = %+v, %v", refs, err)
	}

	// JSON Schema with a reference.
	cccd, err := cl.CreateSchema(ctx, cccdSubject, sr.Schema{Schema: cccdJSON, Type: sr.TypeJSON})
	if err != nil {
		t.Fatal(err)
	}
	cccdRef := []sr.SchemaReference{{Name: "cccd.json", Subject: cccdSubject, Version: cccd.Version}}
	pj, err := cl.CreateSchema(ctx, "civil.person-value", sr.Schema{Schema: personJSON, Type: sr.TypeJSON, References: cccdRef})
	if err != nil || pj.Type != sr.TypeJSON {
		t.Fatalf("CreateSchema(JSON person) = %+v, %v", pj, err)
	}
	if got, err := cl.SchemaByVersion(ctx, "civil.person-value", -1); err != nil || got.ID != pj.ID || !reflect.DeepEqual(got.References, cccdRef) {
		t.Fatalf("SchemaByVersion(latest) = %+v, %v", got, err)
	}

	// Compatibility, verbose messages.
	res, err := cl.CheckCompatibility(verbose, "tax.person-value", -1, sr.Schema{Schema: personAvroV2, References: sexRef})
	if err != nil || !res.Is || len(res.Messages) != 0 {
		t.Fatalf("compatible check = %+v, %v", res, err)
	}
	res, err = cl.CheckCompatibility(verbose, "tax.person-value", -2, sr.Schema{Schema: personAvroBad, References: sexRef})
	if err != nil || res.Is || !strings.Contains(strings.Join(res.Messages, " "), "ethnicity") {
		t.Fatalf("incompatible check against all versions = %+v, %v; want messages naming the field", res, err)
	}
	res, err = cl.CheckCompatibility(verbose, "civil.person-value", 1, sr.Schema{Schema: personJSONBad, Type: sr.TypeJSON, References: cccdRef})
	if err != nil || res.Is || !strings.Contains(strings.Join(res.Messages, " "), "ward") {
		t.Fatalf("incompatible JSON check = %+v, %v", res, err)
	}
	// A schema of another type: "incompatible" with Confluent's reason,
	// not an error (registering it is the 409).
	res, err = cl.CheckCompatibility(verbose, "civil.person-value", 1, sr.Schema{Schema: `"string"`, Type: sr.TypeAvro})
	if err != nil || res.Is || !strings.Contains(strings.Join(res.Messages, " "), "Incompatible because of different schema type") {
		t.Fatalf("type mismatch check = %+v, %v; want not compatible, with the reason", res, err)
	}
	_, err = cl.CreateSchema(ctx, "civil.person-value", sr.Schema{Schema: `"string"`, Type: sr.TypeAvro})
	wantSRErr(t, "register another type", err, http.StatusConflict, sr.ErrIncompatibleSchema)
	_, err = cl.CreateSchema(ctx, "tax.person-value", sr.Schema{Schema: personAvroBad, References: sexRef})
	wantSRErr(t, "register incompatible", err, http.StatusConflict, sr.ErrIncompatibleSchema)
	v2, err := cl.CreateSchema(ctx, "tax.person-value", sr.Schema{Schema: personAvroV2, References: sexRef})
	if err != nil || v2.Version != 2 {
		t.Fatalf("register compatible v2 = %+v, %v", v2, err)
	}

	// Config: global, per subject, 40408 without defaultToGlobal.
	if got := cl.Compatibility(ctx); got[0].Err != nil || got[0].Level != sr.CompatBackward {
		t.Fatalf("global Compatibility = %+v", got)
	}
	got := cl.Compatibility(ctx, "tax.person-value")
	wantSRErr(t, "subject compatibility not set", got[0].Err, http.StatusNotFound, sr.ErrSubjectLevelCompatibilityNotConfigured)
	if got := cl.Compatibility(sr.WithParams(ctx, sr.DefaultToGlobal), "tax.person-value"); got[0].Err != nil || got[0].Level != sr.CompatBackward {
		t.Fatalf("Compatibility with defaultToGlobal = %+v", got)
	}
	if set := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFullTransitive}, "tax.person-value"); set[0].Err != nil || set[0].Level != sr.CompatFullTransitive {
		t.Fatalf("SetCompatibility = %+v", set)
	}
	if got := cl.Compatibility(ctx, "tax.person-value"); got[0].Err != nil || got[0].Level != sr.CompatFullTransitive {
		t.Fatalf("Compatibility after set = %+v", got)
	}
	if reset := cl.ResetCompatibility(ctx, "tax.person-value"); reset[0].Err != nil {
		t.Fatalf("ResetCompatibility = %+v", reset)
	}

	// Mode: READONLY refuses registration with 42205; IMPORT takes ids.
	if m := cl.SetMode(ctx, sr.ModeReadOnly, "tax.person-value"); m[0].Err != nil || m[0].Mode != sr.ModeReadOnly {
		t.Fatalf("SetMode(READONLY) = %+v", m)
	}
	_, err = cl.CreateSchema(ctx, "tax.person-value", sr.Schema{Schema: personAvroV2 + " ", References: sexRef})
	wantSRErr(t, "register in READONLY", err, http.StatusUnprocessableEntity, sr.ErrOperationNotPermitted)
	if m := cl.Mode(ctx, "tax.person-value"); m[0].Err != nil || m[0].Mode != sr.ModeReadOnly {
		t.Fatalf("Mode = %+v", m)
	}
	if m := cl.ResetMode(ctx, "tax.person-value"); m[0].Err != nil {
		t.Fatalf("ResetMode = %+v", m)
	}
	if m := cl.SetMode(ctx, sr.ModeImport, "imported-value"); m[0].Err != nil {
		t.Fatalf("SetMode(IMPORT) = %+v", m)
	}
	imp, err := cl.CreateSchemaWithIDAndVersion(ctx, "imported-value", sr.Schema{Schema: `"string"`}, 900, 4)
	if err != nil || imp.ID != 900 || imp.Version != 4 {
		t.Fatalf("import with id and version = %+v, %v", imp, err)
	}

	// Data contracts: metadata and rule set kept verbatim.
	md := &sr.SchemaMetadata{Properties: map[string]string{"owner": "Tổng cục Thuế"}, Sensitive: []string{"cccd"}}
	rules := &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{{Name: "cccd12", Kind: sr.SchemaRuleKindCondition,
		Mode: sr.SchemaRuleModeWrite, Type: "CEL", Expr: "size(message.cccd) == 12", Tags: []string{}}}}
	contract, err := cl.CreateSchema(ctx, "tax.contract-value", sr.Schema{Schema: `{"type":"record","name":"C","fields":[{"name":"cccd","type":"string"}]}`,
		SchemaMetadata: md, SchemaRuleSet: rules})
	if err != nil {
		t.Fatal(err)
	}
	if back, err := cl.SchemaByID(ctx, contract.ID); err != nil || !reflect.DeepEqual(back.SchemaMetadata, md) || !reflect.DeepEqual(back.SchemaRuleSet, rules) {
		t.Fatalf("SchemaByID of a data contract = %+v / %+v, %v", back.SchemaMetadata, back.SchemaRuleSet, err)
	}

	// Normalize: an equivalent text, written differently, is found.
	equivalent := `{"namespace":"vn.gov.lgsp.tax","type":"record","name":"Person","fields":[{"name":"cccd","type":{"type":"string"}},
		{"name":"full_name","type":"string"},{"name":"sex","type":"vn.gov.lgsp.common.Sex"}]}`
	if _, err := cl.LookupSchema(ctx, "tax.person-value", sr.Schema{Schema: equivalent, References: sexRef}); err == nil {
		t.Fatal("lookup of an equivalent text without normalize found it")
	}
	if n, err := cl.LookupSchema(sr.WithParams(ctx, sr.Normalize), "tax.person-value", sr.Schema{Schema: equivalent, References: sexRef}); err != nil || n.ID != person.ID {
		t.Fatalf("lookup with normalize = %+v, %v; want id %d", n, err, person.ID)
	}

	// Typed errors.
	_, err = cl.SchemaByID(ctx, 4242)
	wantSRErr(t, "unknown id", err, http.StatusNotFound, sr.ErrSchemaNotFound)
	_, err = cl.SubjectVersions(ctx, "nope-value")
	wantSRErr(t, "unknown subject", err, http.StatusNotFound, sr.ErrSubjectNotFound)
	_, err = cl.SchemaByVersion(ctx, "tax.person-value", 9)
	wantSRErr(t, "unknown version", err, http.StatusNotFound, sr.ErrVersionNotFound)
	_, err = cl.CreateSchema(ctx, "bad-value", sr.Schema{Schema: `{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}`})
	wantSRErr(t, "invalid schema", err, http.StatusUnprocessableEntity, sr.ErrInvalidSchema)
	_, err = cl.CreateSchema(ctx, "bad\x01subject", sr.Schema{Schema: `"string"`})
	wantSRErr(t, "control character in subject", err, http.StatusUnprocessableEntity, sr.ErrInvalidSubject)
	_, err = cl.CreateSchema(ctx, "big-value", sr.Schema{Schema: `{"type":"string","doc":"` + strings.Repeat("x", maxBody) + `"}`})
	wantSRErr(t, "oversize body", err, http.StatusRequestEntityTooLarge, sr.ErrSchemaTooLarge)
	_, err = cl.CreateSchema(ctx, "bad-rules-value", sr.Schema{Schema: `"string"`,
		SchemaRuleSet: &sr.SchemaRuleSet{DomainRules: []sr.SchemaRule{{Name: "r", Kind: sr.SchemaRuleKindCondition, Mode: sr.SchemaRuleModeUpgrade, Type: "CEL"}}}})
	wantSRErr(t, "migration mode in a domain rule", err, http.StatusUnprocessableEntity, sr.ErrInvalidRuleset)

	// Deletes: soft, then hard; hard first is 40405 / 40407; a
	// referenced version is 42206.
	_, err = cl.DeleteSubject(ctx, sexSubject, sr.SoftDelete)
	wantSRErr(t, "delete a referenced subject", err, http.StatusUnprocessableEntity, sr.ErrReferenceExists)
	_, err = cl.DeleteSubject(ctx, "civil.person-value", sr.HardDelete)
	wantSRErr(t, "hard delete first", err, http.StatusNotFound, sr.ErrSubjectNotSoftDeleted)
	err = cl.DeleteSchema(ctx, "tax.person-value", 2, sr.HardDelete)
	wantSRErr(t, "hard delete a version first", err, http.StatusNotFound, sr.ErrSchemaVersionNotSoftDeleted)
	if err := cl.DeleteSchema(ctx, "tax.person-value", 2, sr.SoftDelete); err != nil {
		t.Fatalf("soft delete version 2: %v", err)
	}
	err = cl.DeleteSchema(ctx, "tax.person-value", 2, sr.SoftDelete)
	wantSRErr(t, "soft delete twice", err, http.StatusNotFound, sr.ErrSchemaVersionSoftDeleted)
	if err := cl.DeleteSchema(ctx, "tax.person-value", 2, sr.HardDelete); err != nil {
		t.Fatalf("hard delete version 2: %v", err)
	}
	if vs, err := cl.DeleteSubject(ctx, "civil.person-value", sr.SoftDelete); err != nil || !slices.Equal(vs, []int{1}) {
		t.Fatalf("soft delete subject = %v, %v", vs, err)
	}
	_, err = cl.DeleteSubject(ctx, "civil.person-value", sr.SoftDelete)
	wantSRErr(t, "soft delete a subject twice", err, http.StatusNotFound, sr.ErrSubjectSoftDeleted)
	if vs, err := cl.DeleteSubject(ctx, "civil.person-value", sr.HardDelete); err != nil || !slices.Equal(vs, []int{1}) {
		t.Fatalf("hard delete subject = %v, %v", vs, err)
	}
	subjects, err := cl.Subjects(ctx)
	if err != nil || slices.Contains(subjects, "civil.person-value") || !slices.Contains(subjects, "tax.person-value") {
		t.Fatalf("Subjects after deletes = %v, %v", subjects, err)
	}
	if _, err := cl.DeleteSubject(ctx, "tax.contract-value", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	if gone, err := cl.Subjects(sr.WithParams(ctx, sr.DeletedOnly)); err != nil || !slices.Equal(gone, []string{"tax.contract-value"}) {
		t.Fatalf("Subjects(deletedOnly) = %v, %v", gone, err)
	}
	all, err := cl.AllSchemas(sr.WithParams(ctx, sr.SubjectPrefix("tax.person"), sr.LatestOnly))
	if err != nil || len(all) != 1 || all[0].Subject != "tax.person-value" || all[0].Version != 1 || all[0].ID != person.ID ||
		!reflect.DeepEqual(all[0].References, sexRef) {
		t.Fatalf("AllSchemas(tax.person, latestOnly) = %+v, %v", all, err)
	}
	// The bootstrapped datasets' envelopes, and Sex, Person v1, cccd, the
	// import and the soft-deleted contract.
	if all, err := cl.AllSchemas(sr.WithParams(ctx, sr.ShowDeleted)); err != nil || len(all) != len(bus.ids)+5 {
		t.Fatalf("AllSchemas(deleted) = %d schemas, %v; want %d", len(all), err, len(bus.ids)+5)
	}
	if contexts, err := cl.Contexts(ctx); err != nil || !slices.Equal(contexts, []string{"."}) {
		t.Fatalf("Contexts = %v, %v", contexts, err)
	}
	// The schema of a hard-deleted subject keeps its id.
	if _, err := cl.SchemaByID(ctx, pj.ID); err != nil {
		t.Fatalf("SchemaByID of a hard-deleted subject's schema: %v", err)
	}
}

// confluentErr returns the Confluent code of a confluent-kafka-go error,
// as that client exposes it (*rest.Error).
func wantConfluentErr(t *testing.T, what string, err error, code int) {
	t.Helper()
	var re *rest.Error
	if !errors.As(err, &re) || re.Code != code {
		t.Fatalf("%s: err = %v (%T), want a *rest.Error with code %d", what, err, err, code)
	}
}

func TestConfluentClient(t *testing.T) {
	bus := newTestBus(t)
	cl, err := schemaregistry.NewClient(schemaregistry.NewConfig(bus.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	sexID, err := cl.Register(sexSubject, schemaregistry.SchemaInfo{Schema: sexAvro}, false)
	if err != nil {
		t.Fatal(err)
	}
	sexRef := []schemaregistry.Reference{{Name: "vn.gov.lgsp.common.Sex", Subject: sexSubject, Version: 1}}
	person := schemaregistry.SchemaInfo{Schema: personAvro, References: sexRef}
	id, err := cl.Register("tax.person-value", person, false)
	if err != nil || id == sexID {
		t.Fatalf("Register(Person) = %d, %v", id, err)
	}
	info, err := cl.GetBySubjectAndID("tax.person-value", id)
	if err != nil || !sameJSON(info.Schema, personAvro) || !reflect.DeepEqual(info.References, sexRef) || info.SchemaType != "" {
		t.Fatalf("GetBySubjectAndID = %+v, %v", info, err)
	}
	if got, err := cl.GetID("tax.person-value", person, false); err != nil || got != id {
		t.Fatalf("GetID = %d, %v", got, err)
	}
	if v, err := cl.GetVersion("tax.person-value", person, false); err != nil || v != 1 {
		t.Fatalf("GetVersion = %d, %v", v, err)
	}
	if svs, err := cl.GetSubjectsAndVersionsByID(id); err != nil || len(svs) != 1 || svs[0] != (schemaregistry.SubjectAndVersion{Subject: "tax.person-value", Version: 1}) {
		t.Fatalf("GetSubjectsAndVersionsByID = %+v, %v", svs, err)
	}

	// JSON Schema with a reference, and a data contract.
	cccdID, err := cl.Register(cccdSubject, schemaregistry.SchemaInfo{Schema: cccdJSON, SchemaType: "JSON"}, false)
	if err != nil {
		t.Fatal(err)
	}
	cccdRef := []schemaregistry.Reference{{Name: "cccd.json", Subject: cccdSubject, Version: 1}}
	md := &schemaregistry.Metadata{Properties: map[string]string{"owner": "Bộ Nội vụ", "dataset": "civil.person"}}
	pj := schemaregistry.SchemaInfo{Schema: personJSON, SchemaType: "JSON", References: cccdRef, Metadata: md}
	pjID, err := cl.Register("civil.person-value", pj, false)
	if err != nil || pjID == cccdID {
		t.Fatalf("Register(JSON person) = %d, %v", pjID, err)
	}
	latest, err := cl.GetLatestSchemaMetadata("civil.person-value")
	if err != nil || latest.ID != pjID || latest.Version != 1 || latest.SchemaType != "JSON" || !reflect.DeepEqual(latest.Metadata, md) {
		t.Fatalf("GetLatestSchemaMetadata = %+v, %v", latest, err)
	}
	// confluent-kafka-go puts the values in the query string unescaped:
	// a value with a space would make the request line invalid HTTP.
	withMD, err := cl.GetLatestWithMetadata("civil.person-value", map[string]string{"dataset": "civil.person"}, false)
	if err != nil || withMD.ID != pjID {
		t.Fatalf("GetLatestWithMetadata = %+v, %v", withMD, err)
	}
	_, err = cl.GetLatestWithMetadata("civil.person-value", map[string]string{"owner": "nobody"}, false)
	wantConfluentErr(t, "no version with this metadata", err, 40403)

	// Compatibility and config.
	if ok, err := cl.TestCompatibility("tax.person-value", 1, schemaregistry.SchemaInfo{Schema: personAvroV2, References: sexRef}); err != nil || !ok {
		t.Fatalf("TestCompatibility(v2) = %v, %v", ok, err)
	}
	if ok, err := cl.TestSubjectCompatibility("tax.person-value", schemaregistry.SchemaInfo{Schema: personAvroBad, References: sexRef}); err != nil || ok {
		t.Fatalf("TestSubjectCompatibility(bad) = %v, %v", ok, err)
	}
	if ok, err := cl.TestCompatibility("civil.person-value", 1, schemaregistry.SchemaInfo{Schema: `"string"`}); err != nil || ok {
		t.Fatalf("TestCompatibility(another type) = %v, %v; want false without an error, as from Confluent", ok, err)
	}
	_, err = cl.Register("tax.person-value", schemaregistry.SchemaInfo{Schema: personAvroBad, References: sexRef}, false)
	wantConfluentErr(t, "register incompatible", err, 409)
	if lvl, err := cl.GetDefaultCompatibility(); err != nil || lvl != schemaregistry.Backward {
		t.Fatalf("GetDefaultCompatibility = %v, %v", lvl, err)
	}
	_, err = cl.GetCompatibility("tax.person-value")
	wantConfluentErr(t, "subject compatibility not set", err, 40408)
	if cfg, err := cl.GetConfig("tax.person-value", true); err != nil || cfg.CompatibilityLevel != schemaregistry.Backward {
		t.Fatalf("GetConfig(defaultToGlobal) = %+v, %v", cfg, err)
	}
	if lvl, err := cl.UpdateCompatibility("tax.person-value", schemaregistry.None); err != nil || lvl != schemaregistry.None {
		t.Fatalf("UpdateCompatibility = %v, %v", lvl, err)
	}
	if lvl, err := cl.GetCompatibility("tax.person-value"); err != nil || lvl != schemaregistry.None {
		t.Fatalf("GetCompatibility after update = %v, %v", lvl, err)
	}
	badID, err := cl.Register("tax.person-value", schemaregistry.SchemaInfo{Schema: personAvroBad, References: sexRef}, false)
	if err != nil {
		t.Fatalf("register at NONE: %v", err)
	}
	if lvl, err := cl.UpdateDefaultCompatibility(schemaregistry.Full); err != nil || lvl != schemaregistry.Full {
		t.Fatalf("UpdateDefaultCompatibility = %v, %v", lvl, err)
	}
	if vs, err := cl.GetAllVersions("tax.person-value"); err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("GetAllVersions = %v, %v", vs, err)
	}

	// Normalize on register: an equivalent text gets the existing id.
	equivalent := `{"type":"record","name":"vn.gov.lgsp.tax.Person","fields":[{"name":"cccd","type":"string"},
		{"name":"full_name","type":{"type":"string"}},{"name":"sex","type":"vn.gov.lgsp.common.Sex"}]}`
	if got, err := cl.Register("tax.person-value", schemaregistry.SchemaInfo{Schema: equivalent, References: sexRef}, true); err != nil || got != id {
		t.Fatalf("Register(normalize) of an equivalent text = %d, %v; want %d", got, err, id)
	}

	// Errors and deletes.
	_, err = cl.GetBySubjectAndID("", 4242)
	wantConfluentErr(t, "unknown id", err, 40403)
	_, err = cl.GetAllVersions("nope-value")
	wantConfluentErr(t, "unknown subject", err, 40401)
	_, err = cl.GetSchemaMetadata("tax.person-value", 7)
	wantConfluentErr(t, "unknown version", err, 40402)
	_, err = cl.Register("json-bad-value", schemaregistry.SchemaInfo{Schema: `{"type":12}`, SchemaType: "JSON"}, false)
	wantConfluentErr(t, "invalid JSON Schema", err, 42201)
	_, err = cl.Register("tab\tsubject", schemaregistry.SchemaInfo{Schema: `"string"`}, false)
	wantConfluentErr(t, "control character in subject", err, 42208)
	_, err = cl.DeleteSubject(cccdSubject, false)
	wantConfluentErr(t, "delete a referenced subject", err, 42206)
	_, err = cl.DeleteSubjectVersion("tax.person-value", 2, true)
	wantConfluentErr(t, "hard delete a version first", err, 40407)
	if v, err := cl.DeleteSubjectVersion("tax.person-value", 2, false); err != nil || v != 2 {
		t.Fatalf("soft delete version 2 = %d, %v", v, err)
	}
	if v, err := cl.DeleteSubjectVersion("tax.person-value", 2, true); err != nil || v != 2 {
		t.Fatalf("hard delete version 2 = %d, %v", v, err)
	}
	if _, err := cl.GetBySubjectAndID("tax.person-value", badID); err != nil {
		t.Fatalf("schema ids outlive their versions: %v", err)
	}
	if vs, err := cl.DeleteSubject("civil.person-value", false); err != nil || !slices.Equal(vs, []int{1}) {
		t.Fatalf("soft delete subject = %v, %v", vs, err)
	}
	_, err = cl.DeleteSubject("civil.person-value", false)
	wantConfluentErr(t, "soft delete twice", err, 40404)
	if vs, err := cl.DeleteSubject("civil.person-value", true); err != nil || !slices.Equal(vs, []int{1}) {
		t.Fatalf("hard delete subject = %v, %v", vs, err)
	}
	subjects, err := cl.GetAllSubjects()
	if err != nil || slices.Contains(subjects, "civil.person-value") {
		t.Fatalf("GetAllSubjects = %v, %v", subjects, err)
	}
}
