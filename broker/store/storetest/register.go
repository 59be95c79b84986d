package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// runRegister runs the contract tests of SchemaStore.RegisterVersion.
func runRegister(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"RegisterVersion", testRegisterVersion},
		{"RegisterVersionStale", testRegisterVersionStale},
		{"RegisterVersionContract", testRegisterVersionContract},
		{"RegisterVersionImport", testRegisterVersionImport},
		{"RegisterVersionConcurrent", func(t *testing.T, s store.Store) { RegisterRace(t, s, s) }},
	}
	for _, tc := range tests {
		t.Run("Registry/"+tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func avroReg(subject, text string, live []store.SubjectVersion) store.Registration {
	return store.Registration{Subject: subject, Schema: store.Schema{Type: "AVRO", Text: text}, Live: live}
}

func mustVersions(t *testing.T, s store.SchemaStore, subject string, deleted bool) []store.SubjectVersion {
	t.Helper()
	vs, err := s.Versions(ctxFor(t), subject, deleted)
	if err != nil {
		t.Fatalf("Versions(%s): %v", subject, err)
	}
	return vs
}

func testRegisterVersion(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	sv1, err := s.RegisterVersion(ctx, avroReg("a", `"string"`, nil))
	if err != nil || sv1.Version != 1 || sv1.SchemaID < 1 {
		t.Fatalf("first RegisterVersion = %+v, %v; want version 1", sv1, err)
	}
	// The same schema again, even with an out-of-date Live: nothing new.
	again, err := s.RegisterVersion(ctx, avroReg("a", `"string"`, nil))
	if err != nil || again != sv1 {
		t.Fatalf("RegisterVersion again = %+v, %v; want %+v", again, err, sv1)
	}
	live := mustVersions(t, s, "a", false)
	sv2, err := s.RegisterVersion(ctx, avroReg("a", `"long"`, live))
	if err != nil || sv2.Version != 2 || sv2.SchemaID == sv1.SchemaID {
		t.Fatalf("second schema = %+v, %v; want version 2 with a new id", sv2, err)
	}
	// The same schema under another subject keeps its id.
	other, err := s.RegisterVersion(ctx, avroReg("b", `"long"`, nil))
	if err != nil || other.Version != 1 || other.SchemaID != sv2.SchemaID {
		t.Fatalf("same schema under b = %+v, %v; want version 1 of id %d", other, err, sv2.SchemaID)
	}
	// Soft-deleted versions keep their numbers; a deleted schema comes
	// back as a new version with its old id.
	if err := s.DeleteVersion(ctx, "a", 2, false); err != nil {
		t.Fatal(err)
	}
	back, err := s.RegisterVersion(ctx, avroReg("a", `"long"`, mustVersions(t, s, "a", false)))
	if err != nil || back.Version != 3 || back.SchemaID != sv2.SchemaID {
		t.Fatalf("re-registering a soft-deleted schema = %+v, %v; want version 3 of id %d", back, err, sv2.SchemaID)
	}
	if _, err := s.RegisterVersion(ctx, store.Registration{Subject: "a", Schema: store.Schema{Type: "AVRO", Text: `"long"`},
		References: []store.Reference{{Name: "x", Subject: "b", Version: 1}}, Live: mustVersions(t, s, "a", false)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same text with other references: err = %v, want ErrConflict", err)
	}
	if got := mustVersions(t, s, "a", true); len(got) != 3 {
		t.Fatalf("versions of a after a refused registration = %+v, want 3", got)
	}
}

// testRegisterVersionStale: a registration checked against versions that
// have changed since writes nothing at all, not even the schema.
func testRegisterVersionStale(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	first, err := s.RegisterVersion(ctx, avroReg("a", `"string"`, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, live := range [][]store.SubjectVersion{
		nil, // checked while the subject was empty
		{{Subject: "a", Version: 1, SchemaID: first.SchemaID + 100}},  // another schema
		{first, {Subject: "a", Version: 2, SchemaID: first.SchemaID}}, // a version since deleted
	} {
		_, err := s.RegisterVersion(ctx, avroReg("a", `"int"`, live))
		if !errors.Is(err, store.ErrStale) {
			t.Fatalf("Live %+v: err = %v, want ErrStale", live, err)
		}
	}
	if _, err := s.SchemaByID(ctx, first.SchemaID+1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a stale registration stored its schema: SchemaByID(%d) err = %v", first.SchemaID+1, err)
	}
	if got := mustVersions(t, s, "a", true); len(got) != 1 {
		t.Fatalf("versions after stale registrations = %+v, want only the first", got)
	}
	sv, err := s.RegisterVersion(ctx, avroReg("a", `"int"`, mustVersions(t, s, "a", false)))
	if err != nil || sv.Version != 2 {
		t.Fatalf("with the current Live = %+v, %v; want version 2", sv, err)
	}
}

// testRegisterVersionContract: metadata and rule sets are kept verbatim
// with the id.
func testRegisterVersionContract(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	md := `{"properties":{"owner":"Bộ Tài chính"}}`
	rs := `{"domainRules":[{"expr":"size(message.cccd) == 12","kind":"CONDITION","mode":"WRITE","name":"cccd","type":"CEL"}]}`
	reg := avroReg("c", `"string"`, nil)
	reg.Schema.Metadata, reg.Schema.RuleSet = md, rs
	sv, err := s.RegisterVersion(ctx, reg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.SchemaByID(ctx, sv.SchemaID)
	if err != nil || got.Metadata != md || got.RuleSet != rs || got.Text != `"string"` {
		t.Fatalf("SchemaByID = %+v, %v; want the metadata and rule set back verbatim", got, err)
	}
	// Without them the same schema matches; with others it conflicts.
	if again, err := s.RegisterVersion(ctx, avroReg("d", `"string"`, nil)); err != nil || again.SchemaID != sv.SchemaID {
		t.Fatalf("without metadata = %+v, %v; want id %d", again, err, sv.SchemaID)
	}
	other := avroReg("e", `"string"`, nil)
	other.Schema.Metadata = `{"properties":{"owner":"someone else"}}`
	if _, err := s.RegisterVersion(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("other metadata: err = %v, want ErrConflict", err)
	}
	plain, err := s.RegisterVersion(ctx, avroReg("f", `"int"`, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.SchemaByID(ctx, plain.SchemaID); err != nil || got.Metadata != "" || got.RuleSet != "" {
		t.Fatalf("schema without contract = %+v, %v", got, err)
	}
	// Deleting a subject's settings leaves the schemas' contracts alone.
	if err := s.PutSetting(ctx, store.SettingCompatibility, "c", "NONE"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSubject(ctx, "c", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSubject(ctx, "c", true); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SchemaByID(ctx, sv.SchemaID); err != nil || got.Metadata != md || got.RuleSet != rs {
		t.Fatalf("after the subject's hard delete SchemaByID = %+v, %v", got, err)
	}
}

func testRegisterVersionImport(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	imp := func(subject, text string, id, version int) (store.SubjectVersion, error) {
		return s.RegisterVersion(ctx, store.Registration{Subject: subject, Version: version,
			Schema: store.Schema{ID: id, Type: "AVRO", Text: text}})
	}
	sv, err := imp("imp", `"int"`, 100, 7)
	if err != nil || sv != (store.SubjectVersion{Subject: "imp", Version: 7, SchemaID: 100}) {
		t.Fatalf("import = %+v, %v", sv, err)
	}
	if again, err := imp("imp", `"int"`, 100, 7); err != nil || again != sv {
		t.Fatalf("import again = %+v, %v; want a no-op", again, err)
	}
	if _, err := imp("imp", `"long"`, 100, 8); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("id taken by another schema: err = %v, want ErrConflict", err)
	}
	if _, err := imp("imp", `"int"`, 101, 8); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("schema stored under another id: err = %v, want ErrConflict", err)
	}
	// Version 7 is taken: the new schema must not be left behind either.
	if _, err := imp("imp", `"double"`, 102, 7); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("version taken: err = %v, want ErrConflict", err)
	}
	if _, err := s.SchemaByID(ctx, 102); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused import left schema 102 behind: err = %v", err)
	}
	next, err := imp("imp", `"double"`, 102, 0)
	if err != nil || next.Version != 8 {
		t.Fatalf("import with the next version = %+v, %v; want 8", next, err)
	}
	// A later registration never reuses an imported id.
	later, err := s.RegisterVersion(ctx, avroReg("later", `"float"`, nil))
	if err != nil || later.SchemaID <= 102 {
		t.Fatalf("registration after import = %+v, %v; want an id above 102", later, err)
	}
}

// RegisterRace registers, from several goroutines split over a and b (two
// handles on one database, as two bus instances have, or the same store
// twice), the same and different schemas into shared subjects, retrying on
// ErrStale as the registry does. Every schema must get one id, and each
// subject versions 1..n without gaps or duplicates, one per schema.
func RegisterRace(t *testing.T, a, b store.SchemaStore) {
	ctx := ctxFor(t)
	const (
		workers  = 8
		subjects = 3
		schemas  = 6 // per subject; every worker registers all of them
	)
	type got struct{ subject, text string }
	var mu sync.Mutex
	ids := map[got][]int{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for k := range subjects * schemas {
				// Each worker walks the schemas in its own order.
				k = (k + w*5) % (subjects * schemas)
				subj, i := k%subjects, k/subjects
				// race-0 and race-1 register the same texts, so one
				// schema also races into two subjects; race-2 has its own.
				subject := fmt.Sprintf("race-%d", subj)
				size := 1
				if subj == 2 {
					size = 2
				}
				tx := fmt.Sprintf(`{"type":"fixed","name":"F%d","size":%d}`, i, size)
				var sv store.SubjectVersion
				var err error
				for range 1000 {
					var live []store.SubjectVersion
					if live, err = s.Versions(ctx, subject, false); err != nil {
						break
					}
					sv, err = s.RegisterVersion(ctx, avroReg(subject, tx, live))
					if !errors.Is(err, store.ErrStale) {
						break
					}
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d, %s %s: %w", w, subject, tx, err)
					return
				}
				mu.Lock()
				ids[got{subject, tx}] = append(ids[got{subject, tx}], sv.SchemaID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	byText := map[string]int{}
	for k, v := range ids {
		if len(v) != workers || slices.Min(v) != slices.Max(v) {
			t.Errorf("%s %s: ids %v, want %d times the same id", k.subject, k.text, v, workers)
		}
		if id, ok := byText[k.text]; ok && id != v[0] {
			t.Errorf("%s got id %d in one subject and %d in another", k.text, id, v[0])
		}
		byText[k.text] = v[0]
	}
	for subj := range subjects {
		subject := fmt.Sprintf("race-%d", subj)
		for _, s := range []store.SchemaStore{a, b} {
			vs, err := s.Versions(context.Background(), subject, true)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			for i, v := range vs {
				if v.Version != i+1 || seen[v.SchemaID] {
					t.Fatalf("%s versions %+v: want 1..%d, one per schema", subject, vs, schemas)
				}
				seen[v.SchemaID] = true
			}
			if len(vs) != schemas {
				t.Fatalf("%s has %d versions, want %d", subject, len(vs), schemas)
			}
		}
	}
}
