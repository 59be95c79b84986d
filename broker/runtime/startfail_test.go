package runtime_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
)

// freePort is a TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A start that fails in one of the last components (a bad connector
// config) names the component and stops what had started: the API and
// registry listeners and the embedded Kafka broker free their ports, and
// the bus starts again on the same API address and data dir.
func TestFailedStartClosesWhatStarted(t *testing.T) {
	c := devConfig(t, t.TempDir())
	api, reg, kafka := freePort(t), freePort(t), freePort(t)
	c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = "127.0.0.1:"+strconv.Itoa(api), "127.0.0.1:"+strconv.Itoa(reg), kafka
	bad := c
	bad.Connectors = []config.Connector{{Name: "land", Adapter: "files", Config: map[string]any{"dataset": "land.land_use_right", "colums": map[string]any{}}}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: bad, Population: population})
	if err == nil || !strings.HasPrefix(err.Error(), "connectors: config: connectors[0] (land)") || bus != nil {
		t.Fatalf("bad connector config: bus %v, error %v, want one naming the connectors component", bus, err)
	}
	for _, port := range []int{api, reg, kafka} {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d still in use after the failed start: %v", port, err)
		}
		ln.Close()
	}
	// Kafka on a new port: kafka-go's shared transport keeps idle
	// connections to the closed broker's address for a while.
	c.Kafka.EmbeddedPort = 0
	bus = start(t, c)
	defer bus.Close(context.Background())
	if got := bus.Addrs().API; got != c.API.Addr {
		t.Errorf("API on %s after the restart, want %s", got, c.API.Addr)
	}
}
