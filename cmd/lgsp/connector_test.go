package main

import (
	"bytes"
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

// `lgsp connector test NAME --config FILE` prints OK or the adapter's error
// (exit 1), against the real PostgreSQL and real directories;
// `lgsp connector delete` drops what postgres-cdc created.
func TestConnectorTestAndDelete(t *testing.T) {
	url := pgtest.URL(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	conn := pgtest.Conn(t)
	good, nokey, slot := pgtest.Name("cli_t"), pgtest.Name("cli_nokey"), pgtest.Name("cli_slot")
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now())`, good))
	pgtest.Exec(t, conn, fmt.Sprintf(`CREATE TABLE %s (id bigint, updated_at timestamptz)`, nokey))
	t.Cleanup(func() {
		conn.Exec(context.Background(), `SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, slot)
		conn.Exec(context.Background(), "DROP PUBLICATION IF EXISTS "+slot)
		conn.Exec(context.Background(), "DROP TABLE IF EXISTS "+good+", "+nokey)
	})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.csv"), []byte("x\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "bus.yaml")
	yaml := fmt.Sprintf(`connectors:
  - {name: land, adapter: files, config: {path: %[1]q, dataset: land.land_use_right}}
  - {name: land_missing, adapter: files, config: {path: %[2]q, dataset: land.land_use_right}}
  - {name: land_file_missing, adapter: files, config: {path: %[3]q, dataset: land.land_use_right}}
  - {name: tax, adapter: postgres-poll, config: {url: %[4]q, tables: [{table: %[5]s, cursor_column: updated_at, dataset: tax.tax_registration}]}}
  - {name: tax_bad, adapter: postgres-poll, config: {url: %[4]q, tables: [{table: %[5]s, cursor_column: changed, dataset: tax.tax_registration}]}}
  - {name: civil, adapter: postgres-cdc, config: {url: %[4]q, slot: %[7]s, publication: %[7]s, snapshot: never, tables: [{table: %[5]s, dataset: civil_status.birth}]}}
  - {name: civil_nokey, adapter: postgres-cdc, config: {url: %[4]q, tables: [{table: %[6]s, dataset: civil_status.birth}]}}
  - {name: civil_badcfg, adapter: postgres-cdc, config: {url: %[4]q, batch_size: 0, tables: [{table: %[6]s, dataset: civil_status.birth}]}}
`, filepath.Join(dir, "*.csv"), filepath.Join(dir, "nope", "*.csv"), filepath.Join(dir, "nope.csv"), url, good, nokey, slot)
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"connector", "test", "land", "--config", conf}, 0, "OK: land\n"},
		{[]string{"connector", "test", "--config", conf, "land_missing"}, 1, "directory " + filepath.Join(dir, "nope") + " cannot be listed"},
		{[]string{"connector", "test", "land_file_missing", "--config", conf}, 1, "nope.csv: no such file"},
		{[]string{"connector", "test", "tax", "--config", conf}, 0, "OK: tax\n"},
		{[]string{"connector", "test", "tax_bad", "--config", conf}, 1, "has no column changed: fix tables[].cursor_column"},
		{[]string{"connector", "test", "civil", "--config", conf}, 0, "OK: civil\n"},
		{[]string{"connector", "test", "civil_nokey", "--config", conf}, 1, "has no primary key"},
		{[]string{"connector", "test", "civil_badcfg", "--config", conf}, 1, "batch_size 0: want 1 to 100000"},
		{[]string{"connector", "test", "nobody", "--config", conf}, 1, `no connector "nobody"`},
		{[]string{"connector", "test", "land"}, 1, "usage: lgsp connector test NAME --config FILE"},
		{[]string{"connector", "delete", "land", "--config", conf}, 0, "holds nothing in its source system"},
	} {
		t.Run(strings.Join(tc.args[1:], " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(t.Context(), tc.args, &out, &errOut)
			got := out.String() + errOut.String()
			if code != tc.code || !strings.Contains(got, tc.want) {
				t.Fatalf("exit %d, output %q; want exit %d and %q", code, got, tc.code, tc.want)
			}
			if pw, ok := u.User.Password(); ok && strings.Contains(got, pw) {
				t.Errorf("output leaks the database password: %q", got)
			}
		})
	}

	// delete: the slot a connector with snapshot never made is dropped.
	var exists bool
	createSlot := fmt.Sprintf(`SELECT pg_create_logical_replication_slot('%s', 'pgoutput')`, slot)
	pgtest.Exec(t, conn, createSlot)
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"connector", "delete", "civil", "--config", conf}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "OK: civil released") {
		t.Fatalf("delete: exit %d, %q %q", code, out.String(), errOut.String())
	}
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, slot).Scan(&exists); err != nil || exists {
		t.Fatalf("slot still there after delete (%v)", err)
	}
}
