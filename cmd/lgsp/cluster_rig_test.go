package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
)

// rig is what the cluster tests share: the bus binary built from the tree,
// an embedded Kafka-protocol broker, the shared agreements folder, the
// secrets every instance holds alike, and helpers to start real `lgsp
// serve` processes and talk to them.
type rig struct {
	t        testing.TB
	dir, bin string
	cfg      string // the config file every instance runs with
	broker   *devkafka.Broker
	operator string
	env      []string
}

// instance is one running `lgsp serve` process.
type instance struct {
	id, api string
	cmd     *exec.Cmd
}

// newRig builds the binary and starts the broker; auth, when set, turns on
// SASL/SCRAM and ACLs with auth.Superuser as the bus's login.
func newRig(t testing.TB, auth *kafkaauth.Config) *rig {
	t.Helper()
	r := &rig{t: t, dir: t.TempDir(), operator: strings.Repeat("o", 40)}
	r.bin = filepath.Join(r.dir, "lgsp")
	if out, err := exec.Command("go", "build", "-o", r.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	broker, err := devkafka.Start(devkafka.Options{DataDir: filepath.Join(r.dir, "kafka"), Partitions: 3, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	r.broker = broker
	pol := filepath.Join(r.dir, "agreements")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../../policies/agreements/*.yaml")
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		if err := os.WriteFile(filepath.Join(pol, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.env = append(os.Environ(), "LGSP_AUDIT_HMAC_KEY=0123456789abcdef0123456789abcdef", "LGSP_AUDIT_SIGNING_KEY="+strings.Repeat("5a", 32),
		"LGSP_AUDIT_CITIZEN_TOKEN_KEY="+strings.Repeat("c", 32), "LGSP_API_OPERATOR_TOKEN="+r.operator)
	return r
}

// start runs `lgsp serve` as instance id (its own data dir, log file and
// free ports); the process is killed when the test ends.
func (r *rig) start(id string) *instance {
	api, reg := freeAddr(r.t), freeAddr(r.t)
	cmd := exec.Command(r.bin, "serve", "--config", r.cfg)
	cmd.Env = append(r.env, "LGSP_INSTANCE_ID="+id, "LGSP_API_ADDR="+api, "LGSP_REGISTRY_ADDR="+reg, "LGSP_DATA_DIR="+filepath.Join(r.dir, id))
	logf, _ := os.OpenFile(filepath.Join(r.dir, id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return &instance{id, api, cmd}
}

// get asks an instance as the operator; 0 when it does not answer.
func (r *rig) get(in *instance, path string, out any) int {
	req, _ := http.NewRequest(http.MethodGet, "http://"+in.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+r.operator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(raw, out)
	}
	return resp.StatusCode
}

func (r *rig) post(in *instance, path, token, body string) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+in.api+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// waitFor polls ok; the bound is against hanging, never a timing assertion.
// On failure the instances' logs are shown.
func (r *rig) waitFor(what string, bound time.Duration, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(bound)
	for !ok() {
		if time.Now().After(deadline) {
			logs, _ := filepath.Glob(filepath.Join(r.dir, "*.log"))
			for _, l := range logs {
				raw, _ := os.ReadFile(l)
				r.t.Logf("%s:\n%s", l, tail(string(raw), 3000))
			}
			r.t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// owner is the instance that runs connector, as in's status says, when
// that is in itself; "" otherwise.
func (r *rig) owner(in *instance, connector string) string {
	var st struct {
		Owners []struct {
			Connector, Owner string
			Here             bool
		} `json:"connector_owners"`
	}
	r.get(in, "/v1/status", &st)
	for _, o := range st.Owners {
		if o.Connector == connector && o.Here {
			return o.Owner
		}
	}
	return ""
}
