package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
	_ "modernc.org/sqlite"
)

func TestAuditVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic = config.Synthetic{Enabled: true, Population: 500, Seed: 3, RatePerSecond: 0, Limit: 60}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
	if err != nil {
		t.Fatal(err)
	}
	for ctx.Err() == nil {
		if n, _ := bus.Store.CountAudit(ctx); n >= 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	bus.Close(context.Background())

	verify := func() (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"audit", "verify", "--data-dir", dir}, &out, &errb)
		return code, out.String() + errb.String()
	}
	code, out := verify()
	if code != 0 || !strings.Contains(out, "audit log OK") || !strings.Contains(out, "latest checkpoint") {
		t.Fatalf("intact log: exit %d\n%s", code, out)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET purpose = 'marketing' WHERE seq = 5"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, out = verify()
	if code != 1 || !strings.Contains(out, "TAMPERED: first bad entry 5") {
		t.Fatalf("tampered log: exit %d\n%s", code, out)
	}
	var errb bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "--data-dir", t.TempDir()}, &bytes.Buffer{}, &errb); code != 1 || !strings.Contains(errb.String(), "no embedded store") {
		t.Fatalf("empty dir: exit %d %s", code, errb.String())
	}
}

// The witness cosigns the bus's checkpoint; `lgsp audit verify --witness`
// then fails on a store cut behind it, which verifies by itself.
func TestAuditWitnessAndVerifyAgainstIt(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic = config.Synthetic{Enabled: true, Population: 500, Seed: 3, RatePerSecond: 0, Limit: 40}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
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
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"audit", "witness", "--bus", "http://" + bus.Addrs().API, "--state", state, "--once"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "cosigned the checkpoint") {
		t.Fatalf("witness: exit %d\n%s%s", code, out.String(), errb.String())
	}
	bus.Close(context.Background())

	w, err := witness.Open(state, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	verify := func(extra ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"audit", "verify", "--data-dir", dir}, extra...), &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := verify("--witness", srv.URL); code != 0 || !strings.Contains(out, "consistent with the checkpoint") {
		t.Fatalf("intact log: exit %d\n%s", code, out)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER audit_log_no_delete", fmt.Sprintf("DELETE FROM audit_log WHERE seq >= %d", cp.Seq-1)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if code, out := verify(); code != 0 || !strings.Contains(out, "audit log OK") {
		t.Fatalf("the cut store by itself: exit %d\n%s", code, out)
	}
	if code, out := verify("--witness", srv.URL); code != 1 || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, "the log was cut") {
		t.Fatalf("cut log against the witness: exit %d\n%s", code, out)
	}
}
