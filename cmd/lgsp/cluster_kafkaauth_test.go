package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/connectors/pgtest"
	"github.com/segmentio/kafka-go"
)

// TestClusterSharesKafkaCredentials: with kafka.auth, a Kafka password
// issued through one instance after the other started stays valid when
// the other follows the change, makes one of its own and restarts, putting
// the users and ACLs on the cluster each time (each instance used to issue
// its own password and overwrite the other's).
func TestClusterSharesKafkaCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two bus processes")
	}
	super := kafkaauth.Credential{User: "lgsp-admin", Password: "admin-" + strings.Repeat("k", 24)}
	r := newRig(t, &kafkaauth.Config{Superuser: super})
	r.cfg = filepath.Join(r.dir, "serve.yaml")
	if err := os.WriteFile(r.cfg, []byte(fmt.Sprintf(`kafka:
  brokers: [%q]
  auth: true
  user: %s
  password: %s
store:
  driver: postgres
  url: %q
policies:
  dir: %q
  follow_every: 500ms
`, r.broker.Addr(), super.User, super.Password, pgtest.SchemaURL(t, "cluster_kafka"), filepath.Join(r.dir, "agreements"))), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := r.start("a"), r.start("b")
	for _, in := range []*instance{a, b} {
		r.waitFor("instance "+in.id+" ready", 90*time.Second, func() bool { return r.get(in, "/readyz", nil) == http.StatusOK })
	}
	put := func(in *instance, id, body string) string {
		req, _ := http.NewRequest(http.MethodPut, "http://"+in.api+"/v1/operator/agreements/"+id, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+r.operator)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Issued map[string]string `json:"kafka_credentials_issued"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			t.Fatalf("agreement %s through instance %s: %s", id, in.id, resp.Status)
		}
		return out.Issued["thads-hcm"]
	}
	inForce := func(in *instance, id string) bool {
		var got []struct{ ID string }
		r.get(in, "/v1/agreements", &got)
		for _, g := range got {
			if g.ID == id {
				return true
			}
		}
		return false
	}
	// The enforcement office's first stream agreement, through a: its
	// Kafka password is issued now, shown once in a's answer.
	pass := put(a, "thads-hcm-taxpayer-stream", `{"id":"thads-hcm-taxpayer-stream","dataset":"tax.taxpayer","consumer":"thads-hcm","title":"Taxpayers for judgment enforcement",
"legal_basis":"Law on Enforcement of Civil Judgments No. 26/2008/QH12, Article 44","purposes":["judgment_enforcement"],"mode":"stream",
"fields":["tax_code","full_name"],"valid_from":"2025-01-01","valid_until":"2030-12-31"}`)
	if pass == "" {
		t.Fatal("no Kafka password issued to thads-hcm with its first stream agreement")
	}
	r.waitFor("the agreement in force on instance b", 30*time.Second, func() bool { return inForce(b, "thads-hcm-taxpayer-stream") })
	// A change through b: b puts every user and ACL on the cluster again.
	put(b, "gdt-land-use-right-lookup", `{"id":"gdt-land-use-right-lookup","dataset":"land.land_use_right","consumer":"gdt","title":"Land-use rights of a taxpayer",
"legal_basis":"Law on Tax Administration No. 38/2019/QH14, Article 99","purposes":["tax_administration"],"mode":"lookup",
"fields":["certificate_no","area_m2"],"valid_from":"2025-01-01","valid_until":"2030-12-31"}`)
	r.waitFor("b's change in force on instance a", 30*time.Second, func() bool { return inForce(a, "gdt-land-use-right-lookup") })

	// b restarts and puts the users on the cluster at its start, the last
	// to do so.
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	_, _ = b.cmd.Process.Wait()
	b = r.start("b")
	r.waitFor("instance b ready again", 90*time.Second, func() bool { return r.get(b, "/readyz", nil) == http.StatusOK })

	login := func(user, password string) error {
		tr, err := kafkaio.Transport(user, password)
		if err != nil {
			return err
		}
		defer tr.CloseIdleConnections()
		c := &kafka.Client{Addr: kafka.TCP(r.broker.Addr()), Transport: tr, Timeout: 10 * time.Second}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_, err = c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{"deliver.thads-hcm.tax.taxpayer"}})
		return err
	}
	if err := login("thads-hcm", pass); err != nil {
		t.Fatalf("thads-hcm cannot log in with the password instance a issued, after instance b applied the users: %v", err)
	}
	if err := login("thads-hcm", pass+"x"); err == nil {
		t.Fatal("a wrong password logged in: the broker does not check passwords, so this test proves nothing")
	}
}

// TestServeRefusesUnreachableKafka: an instance whose Kafka cannot be
// reached stops at once with an error naming the brokers, exit status 1.
func TestServeRefusesUnreachableKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	r := newRig(t, nil)
	r.cfg = filepath.Join(r.dir, "serve.yaml")
	if err := os.WriteFile(r.cfg, []byte(fmt.Sprintf("kafka:\n  brokers: [\"127.0.0.1:1\"]\nstore:\n  driver: postgres\n  url: %q\npolicies:\n  dir: %q\n",
		pgtest.SchemaURL(t, "cluster_nokafka"), filepath.Join(r.dir, "agreements"))), 0o644); err != nil {
		t.Fatal(err)
	}
	in := r.start("a")
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("serve kept running without a reachable Kafka")
	}
	log, _ := os.ReadFile(filepath.Join(r.dir, "a.log"))
	if code := in.cmd.ProcessState.ExitCode(); err == nil || code != 1 {
		t.Errorf("exit %d (%v), want 1", code, err)
	}
	if !strings.Contains(string(log), "Kafka unreachable at [127.0.0.1:1]") {
		t.Errorf("the error does not name the unreachable brokers:\n%s", tail(string(log), 2000))
	}
}
