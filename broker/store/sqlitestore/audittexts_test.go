package sqlitestore_test

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestAuditTexts(t *testing.T) {
	storetest.RunAuditTexts(t, func(t *testing.T) (store.Store, func(string) int64) {
		path := filepath.Join(t.TempDir(), "store.db")
		s := open(t, path)
		return s, func(q string) int64 { return countRows(t, path, q) }
	})
}

func countRows(t *testing.T, path, q string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestAuditTextsOldRows: entries written before migration 0013 hold their
// legal basis and fields inline (text_id NULL) and read back as written,
// beside new ones that refer to audit_texts.
func TestAuditTextsOldRows(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	old := store.AuditEntry{Seq: 1, Time: at, Actor: "gdt", Action: "deliver", Dataset: "land.land_use_right", Fields: []string{"certificate_no"},
		Purpose: "tax_administration", LegalBasis: "Law 38/2019/QH14", AgreementID: "gdt-land", Decision: "allow", RequestID: "r1", CitizenKey: "c1",
		PrevHash: []byte{}, Hash: []byte{1}}
	if _, err := db.Exec(`INSERT INTO audit_log (seq, time_us, actor, action, dataset, fields, purpose, legal_basis, agreement_id, decision, reason,
		request_id, citizen_key, prev_hash, hash) VALUES (1, ?, 'gdt', 'deliver', 'land.land_use_right', '["certificate_no"]', 'tax_administration',
		'Law 38/2019/QH14', 'gdt-land', 'allow', '', 'r1', 'c1', x'', x'01')`, at.UnixMicro()); err != nil {
		t.Fatal(err)
	}
	next := old
	next.Seq, next.RequestID, next.PrevHash, next.Hash = 2, "r2", []byte{1}, []byte{2}
	if err := s.AppendAudit(ctx, []store.AuditEntry{next}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(got) != 2 {
		t.Fatalf("%+v %v", got, err)
	}
	if !reflect.DeepEqual(got[0], old) || !reflect.DeepEqual(got[1], next) {
		t.Fatalf("read back\n%+v\n%+v\nwant\n%+v\n%+v", got[0], got[1], old, next)
	}
	if n := countRows(t, path, `SELECT count(*) FROM audit_log WHERE text_id IS NULL AND legal_basis <> ''`); n != 1 {
		t.Fatalf("%d inline entries, want the old one", n)
	}
}
