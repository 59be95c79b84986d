package ministries

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lgsp-bus/lgsp/broker/validate"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/lgsp-bus/lgsp/schemas"
)

// sourceSchema is the PostgreSQL schema each ministry's DDL creates.
var sourceSchema = map[string]string{"land": "dat_dai", "tax": "thue", "insurance": "bao_hiem", "civil_status": "ho_tich", "civil_servant": "can_bo"}

// validator checks a row against its dataset's shared schema.
func validator(t *testing.T, d schemas.Dataset) func(map[string]any) []validate.Violation {
	switch d.Format {
	case schemas.FormatJSON:
		v, err := validate.NewJSON(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return v.ValidateValue
	default:
		v, err := validate.NewAvro(d.Schema)
		if err != nil {
			t.Fatal(err)
		}
		return func(row map[string]any) []validate.Violation { _, vs := v.Convert(row); return vs }
	}
}

func TestConfigsDecode(t *testing.T) {
	cat := schemas.MustLoad()
	for _, name := range Names {
		m, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		spec, ok := connectors.Lookup(m.Connector.Adapter)
		if !ok {
			t.Fatalf("%s: adapter %q not registered", name, m.Connector.Adapter)
		}
		raw := m.Connector.Expand(func(string) string { return "postgres://lgsp@localhost:5432/db" })
		if _, err := spec.DecodeConfig(raw); err != nil {
			t.Errorf("%s/connector.yaml: %v", name, err)
		}
		for _, tb := range raw["tables"].([]any) {
			ds := tb.(map[string]any)["dataset"].(string)
			d, ok := cat.Dataset(ds)
			if !ok {
				t.Errorf("%s: dataset %s not in the catalog", name, ds)
			} else if d.Owner != name {
				t.Errorf("%s: dataset %s is owned by %s", name, ds, d.Owner)
			}
		}
	}
	if _, err := Load("defence"); err == nil {
		t.Error("unknown ministry loaded")
	}
}

// TestMappedRowsValidate sets up each ministry's sample database, reads it
// through its connector config, and checks every mapped row against the
// shared schema of its dataset, for snapshot rows and streamed changes.
func TestMappedRowsValidate(t *testing.T) {
	url := pgtest.URL(t)
	cat := schemas.MustLoad()
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			m, err := Load(name)
			if err != nil {
				t.Fatal(err)
			}
			conn := pgtest.Conn(t)
			uniq := pgtest.Name("ex_" + sourceSchema[name])
			word := regexp.MustCompile(`\b` + sourceSchema[name] + `\b`)
			rename := func(s string) string { return word.ReplaceAllString(s, uniq) }
			pgtest.Exec(t, conn, rename(m.SchemaSQL))
			pgtest.Exec(t, conn, rename(m.SeedSQL))
			t.Cleanup(func() { conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+uniq+" CASCADE") })
			var seeded int
			table := rename(m.Connector.Config["tables"].([]any)[0].(map[string]any)["table"].(string))
			if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM "+table).Scan(&seeded); err != nil {
				t.Fatal(err)
			}

			raw := m.Connector.Expand(func(string) string { return url })
			raw["tables"].([]any)[0].(map[string]any)["table"] = table
			if _, ok := raw["slot"]; ok {
				raw["slot"], raw["publication"], raw["heartbeat_interval"] = uniq, uniq, "200ms"
			}
			if _, ok := raw["poll_interval"]; ok || m.Connector.Adapter == "postgres-poll" {
				raw["poll_interval"] = "50ms"
			}
			spec, _ := connectors.Lookup(m.Connector.Adapter)
			src, err := spec.Build(connectors.Env{Name: m.Connector.Connector}, raw)
			if err != nil {
				t.Fatal(err)
			}
			if lc, ok := src.(connectors.LifecycleHooks); ok {
				t.Cleanup(func() {
					for i := 0; i < 50; i++ {
						if err := lc.OnDelete(context.Background()); err == nil || !errors.Is(err, connectors.ErrBackoff) {
							return
						}
						time.Sleep(100 * time.Millisecond)
					}
				})
			}
			if err := src.Open(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			defer src.Close(context.Background())

			recs := read(t, src, seeded)
			// A change after the snapshot: streamed (CDC) or polled again.
			key := firstColumn(t, conn, table)
			touch := ""
			if strings.Contains(m.SchemaSQL, "ngay_cap_nhat") {
				touch = ", ngay_cap_nhat = clock_timestamp()"
			}
			pgtest.Exec(t, conn, fmt.Sprintf("UPDATE %s SET %s = %s%s WHERE %s = (SELECT min(%s) FROM %s)", table, key, key, touch, key, key, table))
			recs = append(recs, read(t, src, 1)...)

			for i, r := range recs {
				d, ok := cat.Dataset(r.Dataset)
				if !ok {
					t.Fatalf("record %d: dataset %q not in the catalog", i, r.Dataset)
				}
				if vs := validator(t, d)(r.After); len(vs) > 0 {
					t.Errorf("record %d (%s) does not fit %s: %s\nrow: %v", i, r.Op, d.Name, validate.Summary(vs), r.After)
				}
				for _, k := range d.Key {
					if r.After[k] == nil {
						t.Errorf("record %d: key field %s missing", i, k)
					}
				}
			}
		})
	}
}

func read(t *testing.T, src connectors.Source, n int) []connectors.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out []connectors.Record
	for len(out) < n {
		recs, err := src.Read(ctx)
		if errors.Is(err, connectors.ErrBackoff) {
			continue
		}
		if err != nil {
			t.Fatalf("read %d of %d: %v", len(out), n, err)
		}
		out = append(out, recs...)
	}
	return out
}

// firstColumn is the table's first column, its primary key in every sample.
func firstColumn(t *testing.T, conn *pgx.Conn, table string) string {
	t.Helper()
	var col string
	if err := conn.QueryRow(t.Context(), "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum = 1", table).Scan(&col); err != nil {
		t.Fatal(err)
	}
	return col
}
