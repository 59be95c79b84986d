package runtime_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/runtime"
)

// An instance whose shared secrets differ from those of the instances
// already using its store refuses to start and says which key and how to
// fix it; with the same secrets it starts.
func TestInstanceWithOtherKeysRefusesToStart(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "shared.db")
	a := devConfig(t, t.TempDir())
	a.Store.URL, a.Instance.ID = shared, "a"
	bus := start(t, a)
	bus.Close(context.Background())

	b := devConfig(t, t.TempDir()) // its own data dir: it would generate its own keys
	b.Store.URL, b.Instance.ID = shared, "b"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: b})
	if err == nil || !strings.Contains(err.Error(), "audit.hmac_key (env LGSP_AUDIT_HMAC_KEY)") || !strings.Contains(err.Error(), "first recorded by instance a") ||
		!strings.Contains(err.Error(), "generated its own into audit.key") {
		t.Fatalf("instance with its own keys: %v", err)
	}

	// The same secrets, given by configuration, are accepted.
	c := devConfig(t, t.TempDir())
	c.Store.URL, c.Instance.ID = filepath.Join(t.TempDir(), "shared2.db"), "c"
	c.Audit.HMACKey, c.Audit.SigningKey = "0123456789abcdef0123456789abcdef", strings.Repeat("ab", 32)
	c.Audit.CitizenTokenKey, c.API.OperatorToken = strings.Repeat("k", 32), strings.Repeat("t", 32)
	bus = start(t, c)
	bus.Close(context.Background())
	d := c
	d.DataDir, d.Instance.ID = t.TempDir(), "d"
	bus = start(t, d)
	bus.Close(context.Background())
}

// Two instances on one store: exactly one signs the audit log's
// checkpoints, and /v1/status says which.
func TestOneInstanceSignsCheckpoints(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "shared.db")
	var buses []*runtime.Bus
	for _, id := range []string{"a", "b"} {
		c := devConfig(t, t.TempDir())
		c.Store.URL, c.Instance.ID, c.Audit.CheckpointEvery = shared, id, time.Second
		c.Audit.HMACKey, c.Audit.SigningKey = "0123456789abcdef0123456789abcdef", strings.Repeat("ab", 32)
		c.Audit.CitizenTokenKey, c.API.OperatorToken = strings.Repeat("k", 32), strings.Repeat("t", 32)
		bus := start(t, c)
		defer bus.Close(context.Background())
		buses = append(buses, bus)
	}
	deadline := time.Now().Add(30 * time.Second) // a bound against hanging; signing starts at the first tick
	for {
		signers := 0
		for _, bus := range buses {
			var st struct {
				SignsCheckpoints bool `json:"signs_checkpoints"`
			}
			operatorGet(t, "http://"+bus.Addrs().API+"/v1/status", strings.Repeat("t", 32), &st)
			if st.SignsCheckpoints {
				signers++
			}
		}
		if signers == 1 {
			break
		}
		if signers > 1 || time.Now().After(deadline) {
			t.Fatalf("%d instances sign checkpoints, want exactly 1", signers)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// /readyz (public) says each instance's role and the cluster's members.
	for _, bus := range buses {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var ready struct {
				Role struct {
					Instance string
					Members  []string
				}
			}
			getJSON(t, "http://"+bus.Addrs().API+"/readyz", &ready)
			if len(ready.Role.Members) == 2 && ready.Role.Instance != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("readyz role %+v, want both members", ready.Role)
			}
			time.Sleep(200 * time.Millisecond)
		}
		resp, err := http.Get("http://" + bus.Addrs().API + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(raw), "lgsp_cluster_members 2") || !strings.Contains(string(raw), "lgsp_signs_checkpoints ") {
			t.Fatalf("metrics lack the cluster's members or the signer role")
		}
	}
}
