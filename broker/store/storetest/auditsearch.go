package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// RunAuditSearch checks store.AuditSearcher: every filter, both orders and
// their cursors. open must return an empty store that implements it.
func RunAuditSearch(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	st := open(t)
	s, ok := st.(store.AuditSearcher)
	if !ok {
		t.Fatalf("%T does not implement store.AuditSearcher", st)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var es []store.AuditEntry
	for i := 1; i <= 30; i++ {
		e := store.AuditEntry{Seq: int64(i), Time: base.Add(time.Duration(i) * time.Hour), Actor: []string{"vss", "gdt", "moha"}[i%3],
			Action: "deliver", Dataset: []string{"tax.taxpayer", "land.land_use_right"}[i%2], Purpose: []string{"tax_administration", "health_insurance_issuance,identity_verification"}[i%2],
			Decision: []string{"allow", "deny"}[i%5/4], CitizenKey: fmt.Sprint("c", i%4), RequestID: fmt.Sprint("ev-", i), Hash: []byte{byte(i)}}
		if i > 1 {
			e.PrevHash = []byte{byte(i - 1)}
		}
		es = append(es, e)
	}
	if err := st.AppendAudit(ctx, es); err != nil {
		t.Fatal(err)
	}
	seqs := func(q store.AuditSearch) []int64 {
		got, err := s.SearchAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int64, len(got))
		for i, e := range got {
			out[i] = e.Seq
		}
		return out
	}
	want := func(pred func(e store.AuditEntry) bool, newest bool, limit int) []int64 {
		var out []int64
		for _, e := range es {
			if pred(e) {
				out = append(out, e.Seq)
			}
		}
		if newest {
			for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
		if limit > 0 && len(out) > limit {
			out = out[:limit]
		}
		return out
	}
	tests := []struct {
		name string
		q    store.AuditSearch
		pred func(e store.AuditEntry) bool
	}{
		{"all", store.AuditSearch{}, func(store.AuditEntry) bool { return true }},
		{"citizen newest first", store.AuditSearch{CitizenKey: "c1", Newest: true}, func(e store.AuditEntry) bool { return e.CitizenKey == "c1" }},
		{"citizen page 2", store.AuditSearch{CitizenKey: "c1", Newest: true, BeforeSeq: 21}, func(e store.AuditEntry) bool { return e.CitizenKey == "c1" && e.Seq < 21 }},
		{"agency and dataset", store.AuditSearch{Actor: "gdt", Dataset: "tax.taxpayer"}, func(e store.AuditEntry) bool { return e.Actor == "gdt" && e.Dataset == "tax.taxpayer" }},
		{"one of several purposes", store.AuditSearch{Purpose: "identity_verification"}, func(e store.AuditEntry) bool { return e.Seq%2 == 1 }},
		{"purpose is not a substring match", store.AuditSearch{Purpose: "identity"}, func(store.AuditEntry) bool { return false }},
		{"request id", store.AuditSearch{RequestID: "ev-7"}, func(e store.AuditEntry) bool { return e.Seq == 7 }},
		{"decision", store.AuditSearch{Decision: "deny"}, func(e store.AuditEntry) bool { return e.Decision == "deny" }},
		{"time range", store.AuditSearch{Since: base.Add(5 * time.Hour), Until: base.Add(9 * time.Hour)}, func(e store.AuditEntry) bool { return e.Seq >= 5 && e.Seq < 9 }},
		{"cursor ascending", store.AuditSearch{AfterSeq: 25}, func(e store.AuditEntry) bool { return e.Seq > 25 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, exp := seqs(tt.q), want(tt.pred, tt.q.Newest, tt.q.SearchLimit())
			if fmt.Sprint(got) != fmt.Sprint(exp) && !(len(got) == 0 && len(exp) == 0) {
				t.Fatalf("got %v, want %v", got, exp)
			}
		})
	}
	if got := seqs(store.AuditSearch{Limit: 7, Newest: true}); len(got) != 7 || got[0] != 30 {
		t.Fatalf("limit and order: %v", got)
	}
}
