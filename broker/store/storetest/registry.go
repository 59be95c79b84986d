package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// runRegistry runs the contract tests of the registry's extended
// SchemaStore methods (references, IMPORT ids, deletes, settings).
func runRegistry(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"References", testReferences},
		{"ImportIDs", testImportIDs},
		{"DeleteVersion", testDeleteVersion},
		{"DeleteSubject", testDeleteSubject},
		{"SchemaVersions", testSchemaVersions},
		{"ReferencedBy", testReferencedBy},
		{"Settings", testSettings},
	}
	for _, tc := range tests {
		t.Run("Registry/"+tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

func mustPut(t *testing.T, s store.Store, text string, refs []store.Reference) int {
	t.Helper()
	id, _, err := s.PutSchemaRefs(ctxFor(t), "AVRO", text, refs)
	if err != nil {
		t.Fatalf("PutSchemaRefs(%s): %v", text, err)
	}
	return id
}

func mustAdd(t *testing.T, s store.Store, subject string, id int) store.SubjectVersion {
	t.Helper()
	sv, err := s.AddVersion(ctxFor(t), subject, id)
	if err != nil {
		t.Fatalf("AddVersion(%s, %d): %v", subject, id, err)
	}
	return sv
}

func testReferences(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	refs := []store.Reference{{Name: "b.B", Subject: "b", Version: 2}, {Name: "a.A", Subject: "a", Version: 1}}
	id, created, err := s.PutSchemaRefs(ctx, "AVRO", `"x.X"`, refs)
	if err != nil || !created {
		t.Fatalf("PutSchemaRefs = %d, %v, %v; want created", id, created, err)
	}
	id2, created, err := s.PutSchemaRefs(ctx, "AVRO", `"x.X"`, refs)
	if err != nil || created || id2 != id {
		t.Fatalf("PutSchemaRefs again = %d, %v, %v; want %d, not created", id2, created, err, id)
	}
	got, err := s.References(ctx, id)
	if err != nil || !slices.Equal(got, refs) {
		t.Fatalf("References = %v, %v; want %v in registration order", got, err, refs)
	}
	if _, _, err := s.PutSchemaRefs(ctx, "AVRO", `"x.X"`, refs[:1]); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("same text, other references: err = %v, want ErrConflict", err)
	}
	// PutSchema and PutSchemaRefs without references agree on ids.
	plain, _, err := s.PutSchema(ctx, "AVRO", `"string"`)
	if err != nil {
		t.Fatal(err)
	}
	if id3, created, err := s.PutSchemaRefs(ctx, "AVRO", `"string"`, nil); err != nil || created || id3 != plain {
		t.Fatalf("PutSchemaRefs(no refs) of a PutSchema schema = %d, %v, %v; want %d", id3, created, err, plain)
	}
	if got, err := s.References(ctx, plain); err != nil || len(got) != 0 {
		t.Fatalf("References(no refs) = %v, %v; want empty", got, err)
	}
}

func testImportIDs(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if err := s.PutSchemaWithID(ctx, 100, "AVRO", `"int"`, nil); err != nil {
		t.Fatalf("PutSchemaWithID: %v", err)
	}
	if err := s.PutSchemaWithID(ctx, 100, "AVRO", `"int"`, nil); err != nil {
		t.Fatalf("PutSchemaWithID again: %v", err)
	}
	if err := s.PutSchemaWithID(ctx, 100, "AVRO", `"long"`, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("id taken: err = %v, want ErrConflict", err)
	}
	if err := s.PutSchemaWithID(ctx, 101, "AVRO", `"int"`, nil); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("schema under another id: err = %v, want ErrConflict", err)
	}
	sc, err := s.SchemaByID(ctx, 100)
	if err != nil || sc.Text != `"int"` {
		t.Fatalf("SchemaByID(100) = %+v, %v", sc, err)
	}
	// A later PutSchema must not reuse the imported id.
	id, _, err := s.PutSchema(ctx, "AVRO", `"long"`)
	if err != nil || id <= 100 {
		t.Fatalf("PutSchema after import = %d, %v; want an id above 100", id, err)
	}
	sv, err := s.AddVersionAt(ctx, "imp", 7, 100)
	if err != nil || sv.Version != 7 {
		t.Fatalf("AddVersionAt = %+v, %v", sv, err)
	}
	if _, err := s.AddVersionAt(ctx, "imp", 7, 100); err != nil {
		t.Fatalf("AddVersionAt again: %v", err)
	}
	if _, err := s.AddVersionAt(ctx, "imp", 7, id); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("version taken: err = %v, want ErrConflict", err)
	}
	if _, err := s.AddVersionAt(ctx, "imp", 8, 99999); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown schema: err = %v, want ErrNotFound", err)
	}
	// The next automatic version follows the imported one.
	if sv := mustAdd(t, s, "imp", id); sv.Version != 8 {
		t.Fatalf("AddVersion after import = %d, want 8", sv.Version)
	}
}

func testDeleteVersion(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := mustPut(t, s, `"int"`, nil)
	b := mustPut(t, s, `"long"`, nil)
	mustAdd(t, s, "d", a)
	mustAdd(t, s, "d", b)
	if err := s.DeleteVersion(ctx, "d", 1, true); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("hard delete before soft: err = %v, want ErrConflict", err)
	}
	if err := s.DeleteVersion(ctx, "d", 1, false); err != nil {
		t.Fatalf("soft delete: %v", err)
	}
	if err := s.DeleteVersion(ctx, "d", 1, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("soft delete twice: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteVersion(ctx, "d", 9, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown version: err = %v, want ErrNotFound", err)
	}
	vs, _ := s.Versions(ctx, "d", false)
	if len(vs) != 1 || vs[0].Version != 2 {
		t.Fatalf("live versions = %+v, want [2]", vs)
	}
	vs, _ = s.Versions(ctx, "d", true)
	if len(vs) != 2 || !vs[0].Deleted {
		t.Fatalf("all versions = %+v, want 1 (deleted), 2", vs)
	}
	if err := s.DeleteVersion(ctx, "d", 1, true); err != nil {
		t.Fatalf("hard delete: %v", err)
	}
	vs, _ = s.Versions(ctx, "d", true)
	if len(vs) != 1 {
		t.Fatalf("after hard delete = %+v, want [2]", vs)
	}
	// The schema itself stays: ids are immutable.
	if _, err := s.SchemaByID(ctx, a); err != nil {
		t.Fatalf("schema of a hard-deleted version: %v", err)
	}
}

func testDeleteSubject(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := mustPut(t, s, `"int"`, nil)
	b := mustPut(t, s, `"long"`, nil)
	mustAdd(t, s, "s", a)
	mustAdd(t, s, "s", b)
	mustAdd(t, s, "other", a)
	if err := s.PutSetting(ctx, store.SettingCompatibility, "s", "NONE"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteSubject(ctx, "s", true); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("hard delete before soft: err = %v, want ErrConflict", err)
	}
	vs, err := s.DeleteSubject(ctx, "s", false)
	if err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("soft delete = %v, %v; want [1 2]", vs, err)
	}
	if _, err := s.DeleteSubject(ctx, "s", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("soft delete twice: err = %v, want ErrNotFound", err)
	}
	subs, _ := s.Subjects(ctx, false)
	if !slices.Equal(subs, []string{"other"}) {
		t.Fatalf("Subjects = %v, want [other]", subs)
	}
	subs, _ = s.Subjects(ctx, true)
	if !slices.Equal(subs, []string{"other", "s"}) {
		t.Fatalf("Subjects(deleted) = %v, want [other s]", subs)
	}
	vs, err = s.DeleteSubject(ctx, "s", true)
	if err != nil || !slices.Equal(vs, []int{1, 2}) {
		t.Fatalf("hard delete = %v, %v; want [1 2]", vs, err)
	}
	if _, err := s.GetSetting(ctx, store.SettingCompatibility, "s"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("setting after hard delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.DeleteSubject(ctx, "nope", false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown subject: err = %v, want ErrNotFound", err)
	}
	// A new registration after a hard delete starts at version 1 again.
	if sv := mustAdd(t, s, "s", b); sv.Version != 1 {
		t.Fatalf("version after hard delete = %d, want 1", sv.Version)
	}
}

func testSchemaVersions(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	a := mustPut(t, s, `"int"`, nil)
	mustAdd(t, s, "y", a)
	mustAdd(t, s, "x", a)
	if err := s.DeleteVersion(ctx, "y", 1, false); err != nil {
		t.Fatal(err)
	}
	got, err := s.SchemaVersions(ctx, a, false)
	if err != nil || len(got) != 1 || got[0].Subject != "x" {
		t.Fatalf("SchemaVersions(live) = %+v, %v", got, err)
	}
	got, err = s.SchemaVersions(ctx, a, true)
	if err != nil || len(got) != 2 || got[1].Subject != "y" || !got[1].Deleted {
		t.Fatalf("SchemaVersions(all) = %+v, %v", got, err)
	}
	if got, err := s.SchemaVersions(ctx, 4242, true); err != nil || len(got) != 0 {
		t.Fatalf("SchemaVersions(unknown) = %+v, %v", got, err)
	}
}

func testReferencedBy(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	base := mustPut(t, s, `{"type":"fixed","name":"F","size":2}`, nil)
	mustAdd(t, s, "base", base)
	user := mustPut(t, s, `{"type":"record","name":"R","fields":[{"name":"f","type":"F"}]}`,
		[]store.Reference{{Name: "F", Subject: "base", Version: 1}})
	if got, _ := s.ReferencedBy(ctx, "base", 1); len(got) != 0 {
		t.Fatalf("ReferencedBy before the user is registered = %v, want none", got)
	}
	mustAdd(t, s, "user", user)
	if got, err := s.ReferencedBy(ctx, "base", 1); err != nil || !slices.Equal(got, []int{user}) {
		t.Fatalf("ReferencedBy = %v, %v; want [%d]", got, err, user)
	}
	if err := s.DeleteVersion(ctx, "user", 1, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ReferencedBy(ctx, "base", 1); len(got) != 0 {
		t.Fatalf("ReferencedBy after the user is deleted = %v, want none", got)
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	for _, sub := range []string{"", "a"} {
		if _, err := s.GetSetting(ctx, store.SettingCompatibility, sub); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetSetting(%q) on empty store: err = %v, want ErrNotFound", sub, err)
		}
	}
	if err := s.PutSetting(ctx, store.SettingCompatibility, "", "FULL"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, store.SettingCompatibility, "a", "NONE"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, store.SettingCompatibility, "a", "FORWARD"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSetting(ctx, store.SettingMode, "a", "READONLY"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set  store.Setting
		sub  string
		want string
	}{
		{store.SettingCompatibility, "", "FULL"},
		{store.SettingCompatibility, "a", "FORWARD"},
		{store.SettingMode, "a", "READONLY"},
	} {
		if got, err := s.GetSetting(ctx, c.set, c.sub); err != nil || got != c.want {
			t.Fatalf("GetSetting(%s, %q) = %q, %v; want %q", c.set, c.sub, got, err, c.want)
		}
	}
	if err := s.DeleteSetting(ctx, store.SettingCompatibility, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSetting(ctx, store.SettingCompatibility, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteSetting twice: err = %v, want ErrNotFound", err)
	}
	if got, err := s.GetSetting(ctx, store.SettingMode, "a"); err != nil || got != "READONLY" {
		t.Fatalf("mode after deleting compatibility = %q, %v", got, err)
	}
}
