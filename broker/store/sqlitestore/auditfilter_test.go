package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Once a bucket is sealed, a search for a key it does not hold skips it:
// of five buckets, a key in one of them visits that one, the open one and
// at most a false positive; an absent key the open one and at most one.
func TestAuditFiltersSkipBuckets(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bucket := int64(1) << store.AuditBucketShift
	n := 4*bucket + 10
	var es []store.AuditEntry
	for seq := int64(1); seq <= n; seq++ {
		c := fmt.Sprintf("citizen-%d", seq%5000)
		if seq == 2*bucket+3 {
			c = "only-in-bucket-2"
		}
		es = append(es, store.AuditEntry{Seq: seq, Time: time.Unix(seq, 0).UTC(), Actor: "vss", Action: "deliver", CitizenKey: c,
			RequestID: fmt.Sprintf("req-%d", seq), Hash: []byte{1}})
	}
	for i := 0; i < len(es); i += 10_000 {
		if err := s.AppendAudit(ctx, es[i:min(i+10_000, len(es))]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SealAuditBuckets(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key     string
		citizen bool
		want    []int64 // must be visited
		most    int
	}{
		{"only-in-bucket-2", true, []int64{4, 2}, 3},
		{"absent", true, []int64{4}, 2},
		{fmt.Sprintf("req-%d", 3*bucket+1), false, []int64{4, 3}, 3},
	} {
		got, err := s.filters.Candidates(ctx, tc.citizen, tc.key, 0, 4, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range tc.want {
			found := false
			for _, g := range got {
				found = found || g == b
			}
			if !found {
				t.Errorf("%s: buckets %v miss bucket %d", tc.key, got, b)
			}
		}
		if len(got) > tc.most {
			t.Errorf("%s: visits buckets %v, want at most %d", tc.key, got, tc.most)
		}
	}
	es2, err := s.SearchAudit(ctx, store.AuditSearch{CitizenKey: "only-in-bucket-2"})
	if err != nil || len(es2) != 1 || es2[0].Seq != 2*bucket+3 {
		t.Fatalf("search: %v %v", es2, err)
	}

	// A handle seals from where every bucket has a filter on: a row deleted
	// behind that point is rebuilt by the next handle (the bus's next start).
	if _, err := s.w.ExecContext(ctx, `DELETE FROM audit_bucket_filters WHERE bucket = 1`); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SealAuditBuckets(ctx); err != nil || n != 0 {
		t.Errorf("the same handle rebuilt %d filters (%v), want 0: it looks at new buckets only", n, err)
	}
	path := s.path
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n, err := s2.SealAuditBuckets(ctx); err != nil || n != 1 {
		t.Errorf("a new handle rebuilt %d filters (%v), want 1", n, err)
	}
}

// A background sealing failure reaches the handler the bus gives (it logs
// it); the searches still answer, visiting every bucket.
func TestAuditFilterFailureReported(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "f.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bucket := int64(1) << store.AuditBucketShift
	var es []store.AuditEntry
	for seq := int64(1); seq <= bucket+5; seq++ {
		es = append(es, store.AuditEntry{Seq: seq, Time: time.Unix(seq, 0).UTC(), Actor: "vss", Action: "deliver", CitizenKey: fmt.Sprint("c", seq%7), Hash: []byte{1}})
	}
	if _, err := s.w.ExecContext(ctx, `DROP TABLE audit_bucket_filters`); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 1)
	s.filters.SetOnError(func(err error) { errs <- err })
	if err := s.AppendAudit(ctx, es); err != nil { // completes bucket 0: sealing starts
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !strings.Contains(err.Error(), "audit_bucket_filters") {
			t.Errorf("reported %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sealing failure was not reported")
	}
	got, err := s.SearchAudit(ctx, store.AuditSearch{CitizenKey: "c3"})
	if err == nil && len(got) == 0 {
		t.Error("search found nothing")
	}
}
