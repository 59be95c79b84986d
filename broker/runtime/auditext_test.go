package runtime_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	_ "modernc.org/sqlite"
)

// Every checkpoint the bus signs lands on the checkpoints topic; a bus
// restarted on a store whose end was cut together with its checkpoints
// (regression, hardening issue item 5) refuses to start and says why.
func TestCheckpointsOnKafkaAndCutStoreRefusesStart(t *testing.T) {
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic = config.Synthetic{Enabled: true, Population: 500, Seed: 3, RatePerSecond: 0, Limit: 40}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c)})
	if err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		if n, _ := bus.Store.CountAudit(ctx); n >= 10 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cp, err := bus.Audit.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	onTopic, ok, err := witness.LatestOnTopic(ctx, bus.Cluster(), c.Audit.CheckpointsTopic, bus.Audit.PublicKey())
	if err != nil || !ok {
		t.Fatalf("checkpoint on %s: %v %v", c.Audit.CheckpointsTopic, ok, err)
	}
	if onTopic.Size < cp.Size || (onTopic.Size == cp.Size && string(onTopic.Root) != string(cp.Root)) {
		t.Fatalf("topic has the checkpoint of %d entries, the bus signed one of %d", onTopic.Size, cp.Size)
	}
	bus.Close(context.Background()) // signs and publishes a final checkpoint

	// Restarting on the intact store works.
	bus, err = runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c)})
	if err != nil {
		t.Fatalf("restart on the intact log: %v", err)
	}
	last, _ := bus.Audit.Latest()
	bus.Close(context.Background())

	// Cut the last entries together with the last checkpoints.
	db, err := sql.Open("sqlite", filepath.Join(dir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log WHERE seq >= ?"} {
		if _, err := db.Exec(q, last.Seq-2); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	_, err = runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c)})
	if err == nil || !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "the log was cut") ||
		!strings.Contains(err.Error(), "restore the database") {
		t.Fatalf("start on a cut log: %v", err)
	}
}

// The scheduled full verification of a running bus reports an intact log
// as lgsp_audit_verify_ok 1, and a row edited behind the bus's back as 0
// with an ALERT line in the operator's log.
func TestScheduledVerifyReportsTampering(t *testing.T) {
	dir := t.TempDir()
	c := devConfig(t, dir)
	c.Audit.VerifyEvery = 300 * time.Millisecond
	var logs syncBuffer
	bus := startLogging(t, c, &logs)
	defer bus.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := bus.Audit.Checkpoint(ctx); err != nil { // an entry to verify and to tamper with
		t.Fatal(err)
	}
	metric := func() string {
		resp, err := http.Get("http://" + bus.Addrs().API + "/metrics")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(line, "lgsp_audit_verify_ok ") {
				return strings.TrimPrefix(line, "lgsp_audit_verify_ok ")
			}
		}
		return ""
	}
	waitFor := func(want string) {
		t.Helper()
		for metric() != want {
			if ctx.Err() != nil {
				t.Fatalf("lgsp_audit_verify_ok never became %s (now %q)", want, metric())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("1")
	db, err := sql.Open("sqlite", filepath.Join(dir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// An insider with database access removes the append-only guard first.
	if _, err := db.Exec("DROP TRIGGER IF EXISTS audit_log_no_update; UPDATE audit_log SET reason = 'edited by an insider' WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	waitFor("0")
	if !strings.Contains(logs.String(), "ALERT audit log verification FAILED") {
		t.Fatalf("no ALERT line in the operator's log:\n%s", grepLines(logs.String(), "{"))
	}
}
