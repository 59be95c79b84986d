package runtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
)

// pgSchema returns a PostgreSQL URL whose search_path is a fresh schema,
// dropped when the test ends. CI must have a server.
func pgSchema(t *testing.T) string {
	t.Helper()
	return pgtest.SchemaURL(t, "serve")
}

// Serve mode runs the same pipeline, with the example connectors, on an
// external Kafka (here a separately started Kafka-protocol broker) and
// PostgreSQL: positions, registry, population and audit live in PostgreSQL.
func TestServeModeOnPostgres(t *testing.T) {
	pg := pgSchema(t)
	k, err := devkafka.Start(devkafka.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()

	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	c.Kafka.Brokers = []string{k.Addr()}
	c.Store.Driver, c.Store.URL = "postgres", pg
	c.Synthetic = config.Synthetic{Enabled: true, Population: 1000, Seed: 7, RatePerSecond: 0, Limit: 40}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Serve, Config: c, Population: population, DevConnectors: devConnectors(c)})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())

	resp, err := http.Get("http://" + bus.Addrs().API + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Ready  bool              `json:"ready"`
		Checks map[string]string `json:"checks"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if !ready.Ready || ready.Checks["store"] != "ok" || ready.Checks["kafka"] != "ok" {
		t.Fatalf("not ready on PostgreSQL: %+v", ready)
	}
	if n, err := bus.Store.CountCitizens(ctx); err != nil || n != 1000 {
		t.Fatalf("population in PostgreSQL: %d %v", n, err)
	}
	// Every ministry's connector streams its 40 records and its position is
	// stored in PostgreSQL.
	for _, src := range runtime.Sources(bus.Catalog) {
		for {
			p, err := bus.Store.GetPosition(ctx, src)
			if err == nil && len(p) > 0 && stateAcked(bus, src) >= 40 {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("%s never acknowledged its 40 records: %+v", src, bus.Connectors())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Deliveries are audited in PostgreSQL, with the citizen's key where the
	// record is about a person (a land parcel's delivery, which has no
	// citizen, may be audited first).
	for {
		entries, err := bus.Store.ListAudit(ctx, store.AuditQuery{Limit: 50})
		if err != nil {
			t.Fatalf("audit in PostgreSQL: %v", err)
		}
		for _, e := range entries {
			if e.Action == "deliver" && e.CitizenKey != "" {
				return
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("no delivery about a citizen audited in PostgreSQL: %+v", entries)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func stateAcked(b *runtime.Bus, name string) uint64 {
	for _, s := range b.Connectors() {
		if s.Name == name {
			return s.Acked
		}
	}
	return 0
}
