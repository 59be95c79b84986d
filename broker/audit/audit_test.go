package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
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
	if k, again := l.CitizenKey("001090012345"), l.CitizenKey("001090012345"); k == "001090012345" || k != again || len(k) != 64 {
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

// Concurrent appends all land, in one unbroken chain, and share writes.
func TestGroupCommitConcurrentAppends(t *testing.T) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := audit.Open(ctx, st, []byte("0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				es := []store.AuditEntry{{Actor: fmt.Sprint("a", g), Action: "lookup", Decision: "allow"}, {Actor: fmt.Sprint("a", g), Action: "lookup", Decision: "deny"}}
				if err := l.Append(ctx, es); err != nil {
					t.Error(err)
					return
				}
				if es[0].Seq == 0 || es[1].Seq != es[0].Seq+1 {
					t.Errorf("a caller's entries must be consecutive and numbered: %d %d", es[0].Seq, es[1].Seq)
				}
			}
		}()
	}
	wg.Wait()
	all, err := st.ListAudit(ctx, store.AuditQuery{Limit: 1000})
	if err != nil || len(all) != 16*25*2 {
		t.Fatalf("%d entries, %v", len(all), err)
	}
	if bad, err := audit.Verify(all, nil); bad != 0 {
		t.Fatal(err)
	}
}

// BenchmarkAppendGroupCommit: concurrent single-entry appends (as lookups
// make them) on the embedded store, entries per second.
func BenchmarkAppendGroupCommit(b *testing.B) {
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l, err := audit.Open(ctx, st, []byte("0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(64)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Append(ctx, []store.AuditEntry{{Actor: "vss", Action: "lookup", Decision: "allow", CitizenKey: l.CitizenKey("001090012345")}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}
