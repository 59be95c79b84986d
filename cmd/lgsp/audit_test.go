package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	_ "modernc.org/sqlite"
)

func TestAuditVerifyCommand(t *testing.T) {
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic = config.Synthetic{Enabled: true, Population: 500, Seed: 3, RatePerSecond: 0, Limit: 60}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c})
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
