package storetest

import (
	"context"
	"fmt"
	"slices"
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

// RunAuditBuckets checks searches by citizen and request id across the
// index buckets of store.AuditBucketShift: over three and a half buckets,
// both orders and cursors return what a filter over every entry returns,
// and two keys sharing their first 16 characters (all an index may hold)
// are told apart. open must return an empty store that implements
// store.AuditSearcher.
func RunAuditBuckets(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	st := open(t)
	s := st.(store.AuditSearcher)
	bucket := int64(1) << store.AuditBucketShift
	n := 3*bucket + bucket/2
	const prefix = "0123456789abcdef" // 16 characters
	rare := map[int64]bool{5: true, bucket - 1: true, bucket: true, 2*bucket + 7: true, n - 1: true}
	key := func(seq int64) string {
		switch {
		case rare[seq]:
			return prefix + "-rare"
		case seq%97 == 0:
			return prefix + "-twin" // same first 16 characters as rare
		case seq%5 == 0:
			return ""
		}
		return fmt.Sprintf("%064x", seq%1000)
	}
	var all []store.AuditEntry
	for seq := int64(1); seq <= n; seq++ {
		all = append(all, store.AuditEntry{Seq: seq, Time: time.Unix(seq, 0).UTC(), Actor: "vss", Action: "deliver",
			RequestID: fmt.Sprintf("%08x-req", seq%40000), CitizenKey: key(seq), Hash: []byte{byte(seq)}})
	}
	for i := 0; i < len(all); i += 10_000 {
		if err := st.AppendAudit(ctx, all[i:min(i+10_000, len(all))]); err != nil {
			t.Fatal(err)
		}
	}
	want := func(pred func(e store.AuditEntry) bool, newest bool, limit int) string {
		var out []int64
		for _, e := range all {
			if pred(e) {
				out = append(out, e.Seq)
			}
		}
		if newest {
			slices.Reverse(out)
		}
		return fmt.Sprint(out[:min(limit, len(out))])
	}
	seqs := func(es []store.AuditEntry, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return fmt.Sprint(out)
	}
	common := fmt.Sprintf("%064x", 123)
	for _, tc := range []struct {
		name string
		q    store.AuditSearch
		pred func(e store.AuditEntry) bool
	}{
		{"rare citizen newest first", store.AuditSearch{CitizenKey: prefix + "-rare", Newest: true}, func(e store.AuditEntry) bool { return rare[e.Seq] }},
		{"rare citizen oldest first", store.AuditSearch{CitizenKey: prefix + "-rare"}, func(e store.AuditEntry) bool { return rare[e.Seq] }},
		{"before a bucket boundary", store.AuditSearch{CitizenKey: prefix + "-rare", Newest: true, BeforeSeq: bucket}, func(e store.AuditEntry) bool { return rare[e.Seq] && e.Seq < bucket }},
		{"after a bucket boundary", store.AuditSearch{CitizenKey: prefix + "-rare", AfterSeq: bucket - 1}, func(e store.AuditEntry) bool { return rare[e.Seq] && e.Seq > bucket-1 }},
		{"twin prefix", store.AuditSearch{CitizenKey: prefix + "-twin", Newest: true, Limit: 1000}, func(e store.AuditEntry) bool { return e.CitizenKey == prefix+"-twin" }},
		{"common citizen page", store.AuditSearch{CitizenKey: common, Newest: true, BeforeSeq: 2*bucket + 50, Limit: 10}, func(e store.AuditEntry) bool { return e.CitizenKey == common && e.Seq < 2*bucket+50 }},
		{"request id in several buckets", store.AuditSearch{RequestID: fmt.Sprintf("%08x-req", 7)}, func(e store.AuditEntry) bool { return e.Seq%40000 == 7 }},
		{"citizen and request id", store.AuditSearch{CitizenKey: prefix + "-rare", RequestID: fmt.Sprintf("%08x-req", (n-1)%40000)}, func(e store.AuditEntry) bool { return e.Seq == n-1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, exp := seqs(s.SearchAudit(ctx, tc.q)), want(tc.pred, tc.q.Newest, tc.q.SearchLimit()); got != exp {
				t.Fatalf("got %s, want %s", got, exp)
			}
		})
	}
	// With every sealed bucket's Bloom filter built, the searches skip the
	// buckets the filter rules out and still find exactly the same entries.
	if fs, ok := st.(store.AuditFilterStore); ok {
		if _, err := fs.SealAuditBuckets(ctx); err != nil {
			t.Fatal(err)
		}
		filters, err := fs.AuditFilters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var buckets []int64
		for _, f := range filters {
			buckets = append(buckets, f.Bucket)
		}
		if fmt.Sprint(buckets) != "[0 1 2]" { // bucket 3 is not complete
			t.Errorf("filters of buckets %v, want [0 1 2]", buckets)
		}
		for _, tc := range []struct {
			q    store.AuditSearch
			pred func(e store.AuditEntry) bool
		}{
			{store.AuditSearch{CitizenKey: prefix + "-rare", Newest: true}, func(e store.AuditEntry) bool { return rare[e.Seq] }},
			{store.AuditSearch{CitizenKey: prefix + "-rare", AfterSeq: bucket - 1}, func(e store.AuditEntry) bool { return rare[e.Seq] && e.Seq > bucket-1 }},
			{store.AuditSearch{CitizenKey: common, Newest: true, BeforeSeq: 2*bucket + 50, Limit: 10}, func(e store.AuditEntry) bool { return e.CitizenKey == common && e.Seq < 2*bucket+50 }},
			{store.AuditSearch{RequestID: fmt.Sprintf("%08x-req", 7)}, func(e store.AuditEntry) bool { return e.Seq%40000 == 7 }},
			{store.AuditSearch{CitizenKey: "nobody"}, func(e store.AuditEntry) bool { return false }},
		} {
			if got, exp := seqs(s.SearchAudit(ctx, tc.q)), want(tc.pred, tc.q.Newest, tc.q.SearchLimit()); got != exp {
				t.Errorf("with filters, %+v: got %s, want %s", tc.q, got, exp)
			}
		}
	}
	got := seqs(st.ListAudit(ctx, store.AuditQuery{CitizenKey: prefix + "-rare", AfterSeq: bucket - 1, Limit: 2}))
	if exp := fmt.Sprint([]int64{bucket, 2*bucket + 7}); got != exp {
		t.Fatalf("ListAudit by citizen after a cursor: %s, want %s", got, exp)
	}
}
