package storetest

import (
	"context"
	"reflect"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// RunAuditTexts checks that the legal basis and field list of entries are
// stored once per distinct pair (migration 0013) and read back exactly as
// appended, nil and empty field lists apart, through every read path.
// count runs a SELECT count(*) … on the store's database.
func RunAuditTexts(t *testing.T, open func(t *testing.T) (store.Store, func(q string) int64)) {
	ctx := context.Background()
	st, count := open(t)
	var want []store.AuditEntry
	for seq := int64(1); seq <= 300; seq++ {
		e := entry(seq)
		switch seq % 5 {
		case 1:
			e.LegalBasis, e.Fields = "Law on Tax Administration No. 38/2019/QH14, Article 99", []string{"certificate_no", "holder_name"}
		case 2:
			e.Fields = nil // lookups that released nothing
		case 3:
			e.Fields = []string{}
		case 4:
			e.LegalBasis, e.Fields = "", []string{"full_name"} // no legal basis: stays inline
		}
		want = append(want, e)
	}
	for i := 0; i < len(want); i += 64 {
		if err := st.AppendAudit(ctx, want[i:min(i+64, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	// four distinct pairs with a legal basis: (Law, 2 fields), (Decree, nil),
	// (Decree, []), (Decree, [full_name dob])
	if n := count(`SELECT count(*) FROM audit_texts`); n != 4 {
		t.Fatalf("%d stored texts, want 4 (one per distinct legal basis and field list)", n)
	}
	if n := count(`SELECT count(*) FROM audit_log WHERE legal_basis <> ''`); n != 0 {
		t.Fatalf("%d entries still hold their legal basis inline", n)
	}
	if n := count(`SELECT count(*) FROM audit_log WHERE text_id IS NULL`); n != 60 {
		t.Fatalf("%d entries without a text, want the 60 without a legal basis", n)
	}
	got, err := st.ListAudit(ctx, store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("entry %d reads back as\n%+v\nwant\n%+v", want[i].Seq, got[i], want[i])
		}
	}
	got[0].Fields[0] = "changed" // each entry has its own slice
	last, err := st.LastAudit(ctx)
	if err != nil || !reflect.DeepEqual(last, want[len(want)-1]) {
		t.Fatalf("last entry %+v (%v), want %+v", last, err, want[len(want)-1])
	}
	s, ok := st.(store.AuditSearcher)
	if !ok {
		t.Fatalf("%T does not search the log", st)
	}
	found, err := s.SearchAudit(ctx, store.AuditSearch{CitizenKey: want[0].CitizenKey, Limit: 10})
	if err != nil || len(found) != 1 || !reflect.DeepEqual(found[0], want[0]) {
		t.Fatalf("search by citizen: %+v (%v), want %+v", found, err, want[0])
	}
}
