package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// With audit.retention set, entries older than it are deleted at the next
// checkpoint tick, the deletion is recorded, and the log still verifies.
func TestScheduledAuditRetention(t *testing.T) {
	c := devConfig(t, t.TempDir())
	c.Audit.Retention, c.Audit.CheckpointEvery = time.Hour, time.Second
	bus := start(t, c)
	defer bus.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := time.Now().Add(-2 * time.Hour)
	var es []store.AuditEntry
	for i := 0; i < 5; i++ {
		es = append(es, store.AuditEntry{Time: old, Actor: "vss", Action: "deliver", Decision: "allow"})
	}
	if err := bus.Audit.Append(ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		got, _ := bus.Store.(store.AuditSearcher).SearchAudit(ctx, store.AuditSearch{Action: audit.ActionRetention})
		if len(got) > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatal("no retention entry was written")
	}
	rep, err := audit.VerifyLog(ctx, bus.Store, bus.Audit.PublicKey())
	if err != nil || !rep.OK() || rep.Pruned == 0 {
		t.Fatalf("after retention: %+v %v", rep, err)
	}
}
