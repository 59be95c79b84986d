package audit_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// An entry hidden for an investigation verifies as stored, and moving its
// hidden-until date in the database is caught.
func TestHiddenUntilIsStoredAndChained(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	for _, mk := range bothBackends {
		b := mk(t)
		t.Run(b.name, func(t *testing.T) {
			st := b.open(t)
			defer st.Close()
			l, err := audit.Open(ctx, st, testKey, audit.WithSigner(priv))
			if err != nil {
				t.Fatal(err)
			}
			until := time.Date(2027, 3, 4, 5, 6, 7, 891234567, time.FixedZone("ICT", 7*3600))
			es := []store.AuditEntry{
				{Actor: "mps", Action: "lookup", Decision: "allow", CitizenKey: l.CitizenKey("001090012345"), HiddenUntil: until},
				{Actor: "vss", Action: "lookup", Decision: "allow", CitizenKey: l.CitizenKey("001090012345")},
			}
			if err := l.Append(ctx, es); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			if rep := verify(t, st, pub); !rep.OK() {
				t.Fatalf("%+v", rep)
			}
			got, err := st.(store.AuditSearcher).SearchAudit(ctx, store.AuditSearch{CitizenKey: l.CitizenKey("001090012345"), VisibleAt: time.Now()})
			if err != nil || len(got) != 1 || got[0].Actor != "vss" {
				t.Fatalf("citizen view before the date: %+v %v", got, err)
			}
			b.exec(t, b.tamperOK)
			b.exec(t, "UPDATE audit_log SET "+b.hidCol+" = NULL WHERE seq = 1")
			if rep := verify(t, st, pub); rep.FirstBad != 1 {
				t.Fatalf("lifting the secrecy in the database: %+v", rep)
			}
		})
	}
}
