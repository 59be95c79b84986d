package audit_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// The search filters of the audit log's buckets are derived data, but an
// altered one would hide entries from searches by citizen: VerifyLog
// reports the first entry a stored filter does not hold, in both stores,
// and the filter rebuilt after its row is deleted passes again.
func TestVerifyLogCatchesAlteredSearchFilter(t *testing.T) {
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			pub, priv, _ := ed25519.GenerateKey(nil)
			st := b.open(t)
			defer st.Close()
			l, err := audit.Open(ctx, st, []byte("0123456789abcdef"), audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			bucket := 1 << store.AuditBucketShift
			hidden := l.CitizenKey("001090099999")
			for i := 0; i < bucket+500; i += 1000 {
				var es []store.AuditEntry
				for j := i; j < min(i+1000, bucket+500); j++ {
					c := l.CitizenKey(fmt.Sprintf("0010900%05d", j%3000))
					if j == 4321 {
						c = hidden
					}
					es = append(es, store.AuditEntry{Actor: "vss", Action: "deliver", Decision: "allow", RequestID: fmt.Sprint("ev-", j), CitizenKey: c})
				}
				if err := l.Append(ctx, es); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			fs := st.(store.AuditFilterStore)
			if _, err := fs.SealAuditBuckets(ctx); err != nil {
				t.Fatal(err)
			}
			search := func() int {
				es, err := st.(store.AuditSearcher).SearchAudit(ctx, store.AuditSearch{CitizenKey: hidden})
				if err != nil {
					t.Fatal(err)
				}
				return len(es)
			}
			if rep, err := audit.VerifyLog(ctx, st, pub); err != nil || !rep.OK() || search() != 1 {
				t.Fatalf("before: %+v %v, search finds %d", rep, err, search())
			}

			// Someone with database access replaces bucket 0's citizen filter
			// with one built without the hidden citizen.
			var keys []string
			for j := 0; j < 3000; j++ {
				keys = append(keys, l.CitizenKey(fmt.Sprintf("0010900%05d", j)))
			}
			forged, err := store.NewAuditBucketFilter(0, keys, nil)
			if err != nil {
				t.Fatal(err)
			}
			b.exec(t, "UPDATE audit_bucket_filters SET citizens = "+b.ph(1)+" WHERE bucket = 0", forged.Citizens)
			st2 := b.open(t) // a bus started afterwards reads the forged filter
			defer st2.Close()
			if n, _ := st2.(store.AuditSearcher).SearchAudit(ctx, store.AuditSearch{CitizenKey: hidden}); len(n) != 0 {
				t.Fatalf("the forged filter does not hide the entry (%d found): the test proves nothing", len(n))
			}
			rep, err := audit.VerifyLog(ctx, st2, pub)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() || rep.FirstBad != 0 || !strings.Contains(rep.SearchFilterProblem, "bucket 0 does not hold the citizen key of entry ") {
				t.Fatalf("forged filter: %+v", rep)
			}

			// Deleting the row lets the bus rebuild it; then all is well.
			b.exec(t, "DELETE FROM audit_bucket_filters WHERE bucket = 0")
			if n, err := st2.(store.AuditFilterStore).SealAuditBuckets(ctx); err != nil || n != 1 {
				t.Fatalf("rebuilt %d filters: %v", n, err)
			}
			st3 := b.open(t)
			defer st3.Close()
			if rep, err := audit.VerifyLog(ctx, st3, pub); err != nil || !rep.OK() {
				t.Fatalf("after the rebuild: %+v %v", rep, err)
			}
			if es, _ := st3.(store.AuditSearcher).SearchAudit(ctx, store.AuditSearch{CitizenKey: hidden}); len(es) != 1 {
				t.Fatalf("after the rebuild the search finds %d", len(es))
			}
		})
	}
}
