package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

func TestChainResumesAndDetectsTampering(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := []byte("0123456789abcdef0123")
	l, err := audit.Open(ctx, st, key)
	if err != nil {
		t.Fatal(err)
	}
	if l.CitizenKey("001090012345") == "001090012345" || l.CitizenKey("001090012345") != l.CitizenKey("001090012345") || len(l.CitizenKey("001090012345")) != 64 {
		t.Fatal("citizen key must be a stable keyed hash, never the number")
	}
	entry := func(actor string) store.AuditEntry {
		return store.AuditEntry{Time: time.Now(), Actor: actor, Action: "deliver", Dataset: "d", Fields: []string{"a", "b"}, Decision: "allow", CitizenKey: l.CitizenKey("001090012345")}
	}
	if err := l.Append(ctx, []store.AuditEntry{entry("vss"), entry("gdt")}); err != nil {
		t.Fatal(err)
	}
	// A reopened log continues the chain.
	l2, err := audit.Open(ctx, st, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Append(ctx, []store.AuditEntry{entry("moha")}); err != nil {
		t.Fatal(err)
	}
	all, err := st.ListAudit(ctx, store.AuditQuery{Limit: 10})
	if err != nil || len(all) != 3 || all[2].Seq != 3 {
		t.Fatalf("%v %v", all, err)
	}
	if bad, err := audit.Verify(all, nil); bad != 0 || err != nil {
		t.Fatalf("intact log reported bad at %d: %v", bad, err)
	}
	tests := []struct {
		name    string
		tamper  func(es []store.AuditEntry) []store.AuditEntry
		wantBad int64
	}{
		{"edited field", func(es []store.AuditEntry) []store.AuditEntry { es[1].Actor = "someone-else"; return es }, 2},
		{"released fields widened", func(es []store.AuditEntry) []store.AuditEntry { es[0].Fields = append(es[0].Fields, "c"); return es }, 1},
		{"deleted entry", func(es []store.AuditEntry) []store.AuditEntry { return append(es[:1], es[2:]...) }, 3},
		{"reordered", func(es []store.AuditEntry) []store.AuditEntry { es[1], es[2] = es[2], es[1]; return es }, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cp := make([]store.AuditEntry, len(all))
			copy(cp, all)
			for i := range cp {
				cp[i].Fields = append([]string(nil), all[i].Fields...)
			}
			if bad, err := audit.Verify(tt.tamper(cp), nil); bad != tt.wantBad || err == nil {
				t.Fatalf("got first bad %d (%v), want %d", bad, err, tt.wantBad)
			}
		})
	}
}
