package runtime_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/config"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func unhex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An auditor checks, with nothing but the REST API and a stock RFC 6962
// verifier, that entries are in the signed log and the log only grew.
func TestAuditProofsOverREST(t *testing.T) {
	c := devConfig(t, t.TempDir())
	c.Synthetic = config.Synthetic{Enabled: true, Population: 2000, Seed: 1, Limit: 40}
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if n, _ := bus.Store.CountAudit(ctx); n >= 10 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := bus.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}

	var pk struct {
		PublicKey string `json:"public_key"`
	}
	getJSON(t, api+"/v1/audit/public-key", &pk)
	var cp struct {
		Size      int64  `json:"size"`
		Root      string `json:"root"`
		Signature string `json:"signature"`
		Signed    string `json:"signed_message"`
	}
	if code := getJSON(t, api+"/v1/audit/checkpoint", &cp); code != 200 {
		t.Fatalf("checkpoint: %d", code)
	}
	sig, _ := base64.StdEncoding.DecodeString(cp.Signature)
	if !ed25519.Verify(unhex(t, pk.PublicKey), []byte(cp.Signed), sig) {
		t.Fatal("checkpoint signature does not verify with the published key")
	}

	var inc struct {
		Leaf  string   `json:"leaf_hash"`
		Root  string   `json:"root"`
		Proof []string `json:"proof"`
	}
	if code := getJSON(t, api+"/v1/audit/proofs/inclusion?seq=3&size="+itoa(cp.Size), &inc); code != 200 {
		t.Fatalf("inclusion: %d", code)
	}
	if inc.Root != cp.Root {
		t.Fatalf("inclusion root %s, checkpoint root %s", inc.Root, cp.Root)
	}
	var proof [][]byte
	for _, p := range inc.Proof {
		proof = append(proof, unhex(t, p))
	}
	if err := audit.VerifyInclusion(2, int(cp.Size), unhex(t, inc.Leaf), proof, unhex(t, cp.Root)); err != nil {
		t.Fatalf("inclusion proof: %v", err)
	}

	var cons struct {
		FirstRoot  string   `json:"first_root"`
		SecondRoot string   `json:"second_root"`
		Proof      []string `json:"proof"`
	}
	if code := getJSON(t, api+"/v1/audit/proofs/consistency?first=2&second="+itoa(cp.Size), &cons); code != 200 {
		t.Fatalf("consistency: %d", code)
	}
	proof = nil
	for _, p := range cons.Proof {
		proof = append(proof, unhex(t, p))
	}
	if err := audit.VerifyConsistency(2, int(cp.Size), unhex(t, cons.FirstRoot), unhex(t, cp.Root), proof); err != nil {
		t.Fatalf("consistency proof: %v", err)
	}

	op := operatorToken(t, bus)
	for url, want := range map[string]int{
		"/v1/audit/proofs/inclusion?seq=999999":             404,
		"/v1/audit/proofs/inclusion?seq=abc":                400,
		"/v1/audit/proofs/inclusion":                        400,
		"/v1/audit/proofs/consistency?first=3&second=2":     400,
		"/v1/audit/proofs/consistency?first=1&second=99999": 404,
		"/v1/audit?limit=0":                                 400,
		"/v1/audit?citizen=12ab":                            400,
	} {
		code, p := call(t, http.MethodGet, api+url, op, nil) // the proofs are public, the search needs an auditor
		if code != want || p["error"] == nil {
			t.Errorf("%s: %d %v, want %d with an error", url, code, p, want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
