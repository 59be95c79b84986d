// Package cluster holds the configs of three `lgsp serve` instances that are
// one bus on one machine (see README.md here). Its test loads and validates
// them as `lgsp serve` would, so the files cannot rot, and checks the
// sample inbox is ingestible.
package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/validate"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/cccd"
	_ "github.com/lgsp-bus/lgsp/connectors/files"
	"github.com/lgsp-bus/lgsp/schemas"
)

func load(t *testing.T) map[string]config.Config {
	t.Helper()
	// The README exports the store URL; the files leave it out.
	t.Setenv("LGSP_STORE_URL", "postgres://lgsp:lgsp@127.0.0.1:5432/lgsp?sslmode=disable")
	out := map[string]config.Config{}
	for _, name := range []string{"a", "b", "c"} {
		cfg, err := config.Load("instance-" + name + ".yaml")
		if err != nil {
			t.Fatalf("instance-%s.yaml: %v", name, err)
		}
		if err := cfg.Validate("serve"); err != nil {
			t.Fatalf("instance-%s.yaml does not validate for lgsp serve: %v", name, err)
		}
		out[name] = cfg
	}
	return out
}

// The three instances are one bus: the same Kafka, store, agreements and
// connectors, each with its own id, data dir and ports.
func TestInstancesAreOneBus(t *testing.T) {
	cfgs := load(t)
	a := cfgs["a"]
	wantPorts := map[string][2]string{"a": {"127.0.0.1:8080", "127.0.0.1:8081"}, "b": {"127.0.0.1:8180", "127.0.0.1:8181"}, "c": {"127.0.0.1:8280", "127.0.0.1:8281"}}
	ids, dirs, addrs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for name, c := range cfgs {
		if got := [2]string{c.API.Addr, c.Registry.Addr}; got != wantPorts[name] {
			t.Errorf("instance-%s: listens on %v, want %v", name, got, wantPorts[name])
		}
		for _, seen := range []struct {
			set map[string]bool
			v   []string
			of  string
		}{{ids, []string{c.Instance.ID}, "instance.id"}, {dirs, []string{c.DataDir}, "data_dir"}, {addrs, []string{c.API.Addr, c.Registry.Addr}, "listen address"}} {
			for _, v := range seen.v {
				if v == "" || seen.set[v] {
					t.Errorf("instance-%s: %s %q is empty or used by another instance", name, seen.of, v)
				}
				seen.set[v] = true
			}
		}
		if !slices.Equal(c.Kafka.Brokers, []string{"127.0.0.1:9092"}) || c.Kafka.Auth {
			t.Errorf("instance-%s: kafka %v auth %v, want lgsp kafka on 127.0.0.1:9092 without auth", name, c.Kafka.Brokers, c.Kafka.Auth)
		}
		if c.Store.Driver != "postgres" || c.Store.URL != a.Store.URL {
			t.Errorf("instance-%s: store %s %s, want the shared PostgreSQL", name, c.Store.Driver, c.Store.URL)
		}
		if c.Policies.Dir == "" || c.Policies.Dir != a.Policies.Dir || c.Policies.AgenciesFile != a.Policies.AgenciesFile {
			t.Errorf("instance-%s: policies %+v, want the one shared folder of instance-a %+v", name, c.Policies, a.Policies)
		}
		if fmt.Sprint(c.Connectors) != fmt.Sprint(a.Connectors) || len(c.Connectors) == 0 {
			t.Errorf("instance-%s: connectors differ from instance-a's: each instance must offer every connector to run it when its owner dies", name)
		}
		// Secrets come from the environment, the same on every instance.
		if c.Audit.HMACKey != "" || c.Audit.SigningKey != "" || c.Audit.CitizenTokenKey != "" || c.API.OperatorToken != "" {
			t.Errorf("instance-%s: a secret is written in the file; give it by environment variable", name)
		}
	}
}

// The files connector's config is valid for its adapter, and every row
// of the sample inbox passes the dataset's schema with a consistent
// personal number, so the walkthrough shows deliveries, not dead letters.
func TestSampleInboxIsIngestible(t *testing.T) {
	c := load(t)["a"]
	spec, ok := connectors.Lookup(c.Connectors[0].Adapter)
	if !ok {
		t.Fatalf("adapter %q is not registered", c.Connectors[0].Adapter)
	}
	raw := map[string]any{}
	for k, v := range c.Connectors[0].Config {
		raw[k] = v
	}
	raw["path"] = "inbox/*.csv" // the README copies inbox/ to ./lgsp-cluster/inbox
	src, err := spec.Build(connectors.NewEnv(c.Connectors[0].Name, slog.New(slog.NewTextHandler(io.Discard, nil))), raw)
	if err != nil {
		t.Fatalf("connector config: %v", err)
	}
	ctx := context.Background()
	if err := src.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	recs, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds, ok := schemas.MustLoad().Dataset(raw["dataset"].(string))
	if !ok {
		t.Fatalf("dataset %v not in the catalog", raw["dataset"])
	}
	v, err := validate.NewJSON(ds.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("read %d records from inbox/, want 3", len(recs))
	}
	for _, r := range recs {
		if r.Bad != nil {
			t.Fatalf("bad record: %+v", r.Bad)
		}
		row := r.Row()
		if vs := v.ValidateValue(row); len(vs) > 0 {
			t.Errorf("%v: %s", row["certificate_no"], validate.Summary(vs))
		}
		n, err := cccd.Parse(fmt.Sprint(row[ds.Identity.ID]))
		if err != nil {
			t.Errorf("%v: %v", row["certificate_no"], err)
		} else if d := n.Consistent(fmt.Sprint(row[ds.Identity.DOB]), ""); len(d) > 0 {
			t.Errorf("%v: personal number disagrees with the date of birth: %v", row["certificate_no"], d)
		}
	}
}
