package runtime_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/runtime"
)

// In serve mode with kafka.auth, the bus logs in to a cluster that already
// requires SASL/SCRAM and ACLs (as docker-compose's Kafka does; here a
// Kafka-protocol broker with only the bus's super user) and puts the
// agencies' users and ACLs there at start, through the same
// kafkaauth.Apply: a consumer then reads its delivery topic and nothing
// else, and a client without a login gets nothing.
func TestServeAppliesKafkaUsersOnTheCluster(t *testing.T) {
	pg := pgSchema(t)
	kdir := t.TempDir()
	admin, err := kafkaauth.OpenStore(kdir) // the cluster's own super user, as Kafka was formatted with
	if err != nil {
		t.Fatal(err)
	}
	k, err := devkafka.Start(devkafka.Options{DataDir: filepath.Join(kdir, "kafka"), Auth: &kafkaauth.Config{Superuser: admin.Bus()}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := kafkaio.Ping(context.Background(), kafkaio.Plain(k.Addr())); err == nil {
		t.Fatal("the cluster answers without a login")
	}

	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	c.Kafka.Brokers = []string{k.Addr()}
	c.Kafka.Auth, c.Kafka.User, c.Kafka.Password = true, admin.Bus().User, admin.Bus().Password
	c.Store.Driver, c.Store.URL = "postgres", pg
	c.Synthetic = config.Synthetic{Enabled: true, Population: 1000, Seed: 7, Limit: 5}
	if err := c.Validate("serve"); err != nil {
		t.Fatal(err)
	}
	noLogin := c
	noLogin.Kafka.User, noLogin.Kafka.Password = "", ""
	if err := noLogin.Validate("serve"); err == nil || !strings.Contains(err.Error(), "kafka.user") {
		t.Fatalf("kafka.auth without the bus's login: %v", err)
	}

	var logs syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Serve, Config: c, Population: population, DevConnectors: devConnectors(c), Logger: jsonLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	passwords := map[string]string{}
	for _, line := range strings.Split(logs.String(), "\n") {
		var l struct{ Msg, User, Password string }
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, "kafka credential issued") {
			passwords[l.User] = l.Password
		}
	}
	if passwords["vss"] == "" || passwords["civil_status"] == "" {
		t.Fatalf("no credentials issued at start: %v", keys(passwords))
	}
	people := citizens(t, bus.Store, 2)
	for i, p := range people {
		body, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(i, p)})
		if code, raw := postAs(t, "http://"+bus.Addrs().API+"/v1/sources/civil_status/records", sourceToken(t, bus, "civil_status"), "application/json", body); code != 200 {
			t.Fatalf("push: %d %s", code, raw)
		}
	}
	if n, err := readTopic(bus.Addrs().Kafka, "vss", passwords["vss"], "deliver.vss.civil_status.birth_registration", 2, 20*time.Second); n != 2 {
		t.Fatalf("vss reading its delivery topic on the cluster: %d %v", n, err)
	}
	if n, err := readTopic(bus.Addrs().Kafka, "vss", passwords["vss"], "civil_status.birth_registration.v1", 1, 2*time.Second); err == nil || n > 0 {
		t.Fatalf("vss read a canonical topic: %d %v", n, err)
	}
}

func jsonLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
