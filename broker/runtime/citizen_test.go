package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// A citizen sees who received their data; an auditor searches and exports
// the log with proofs that verify offline against the signed checkpoint.
func TestCitizenViewSearchAndExport(t *testing.T) {
	c := devConfig(t, t.TempDir())
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	person := citizens(t, bus.Store, 1)[0]
	body, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, person)})
	if code, raw := postAs(t, api+"/v1/sources/civil_status/records", sourceToken(t, bus, "civil_status"), "application/json", body); code != 200 {
		t.Fatalf("push: %d %s", code, raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	key := bus.Audit.CitizenKey(person.ID)
	for ctx.Err() == nil {
		if es, _ := bus.Store.ListAudit(ctx, store.AuditQuery{CitizenKey: key}); len(es) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := bus.Audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}

	// The citizen, with a token from the e-ID sign-in.
	v, err := runtime.CitizenVerifier(c)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := v.Mint(person.ID, time.Minute)
	get := func(url, token string) (int, map[string]any) { return call(t, http.MethodGet, url, token, nil) }
	code, out := get(api+"/v1/citizen/accesses", tok)
	accesses, _ := out["accesses"].([]any)
	if code != 200 || len(accesses) == 0 {
		t.Fatalf("citizen view: %d %v", code, out)
	}
	first := accesses[0].(map[string]any)
	if first["agency"] != "vss" || first["dataset"] != "civil_status.birth_registration" || first["purpose"] == "" {
		t.Fatalf("access %v", first)
	}
	if strings.Contains(strings.ToLower(first["agency"].(string)+first["purpose"].(string)), person.ID) {
		t.Fatal("the personal number leaks into the view")
	}
	if code, _ := get(api+"/v1/citizen/accesses", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := get(api+"/v1/citizen/accesses", tok+"x"); code != 401 {
		t.Fatalf("forged token: %d", code)
	}

	// The auditor (the inspectorate): search by citizen, agency and dataset, newest first.
	auditor := agencyToken(t, bus, "gov-inspectorate")
	code, out = get(api+"/v1/audit?citizen="+person.ID+"&agency=vss&dataset=civil_status.birth_registration&order=newest&decision=allow", auditor)
	if es, _ := out["entries"].([]any); code != 200 || len(es) == 0 {
		t.Fatalf("search: %d %v", code, out)
	}
	for url, want := range map[string]int{"/v1/audit?since=yesterday": 400, "/v1/audit?order=random": 400, "/v1/audit?decision=maybe": 400, "/v1/audit/export?format=xml": 400} {
		if code, p := get(api+url, auditor); code != want || p["field"] == nil {
			t.Errorf("%s: %d %v", url, code, p)
		}
	}

	// Export with proofs, verified offline.
	req, _ := http.NewRequest(http.MethodGet, api+"/v1/audit/export?citizen="+person.ID, nil)
	req.Header.Set("Authorization", "Bearer "+auditor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var head struct {
		Export struct {
			Checkpoint struct {
				Size int64  `json:"size"`
				Root string `json:"root"`
			} `json:"checkpoint"`
		} `json:"export"`
	}
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &head) != nil || head.Export.Checkpoint.Size == 0 {
		t.Fatalf("export header: %s", sc.Text())
	}
	root, _ := hex.DecodeString(head.Export.Checkpoint.Root)
	n := 0
	for sc.Scan() {
		var line struct {
			Entry store.AuditEntry `json:"entry"`
			Leaf  string           `json:"leaf_hash"`
			Proof []string         `json:"inclusion_proof"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Entry.CitizenKey != key {
			t.Fatalf("export holds another citizen's entry")
		}
		var proof [][]byte
		for _, p := range line.Proof {
			b, _ := hex.DecodeString(p)
			proof = append(proof, b)
		}
		if !bytes.Equal(audit.Hash(&line.Entry), line.Entry.Hash) {
			t.Fatalf("entry %d does not match its hash", line.Entry.Seq)
		}
		if err := audit.VerifyInclusion(int(line.Entry.Seq-1), int(head.Export.Checkpoint.Size), audit.LeafHash(line.Entry.Hash), proof, root); err != nil {
			t.Fatalf("entry %d: %v", line.Entry.Seq, err)
		}
		n++
	}
	if n == 0 {
		t.Fatal("export is empty")
	}

	// The auditor's own search and export are in the log, under the
	// citizen's key and without the number, hidden from the citizen for
	// audit.inspection_hidden_for (default 180 days).
	mine, err := bus.Store.ListAudit(ctx, store.AuditQuery{CitizenKey: key, Actor: "gov-inspectorate"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range mine {
		got[e.Action] = e.Reason
		if strings.Contains(e.Reason, person.ID) {
			t.Errorf("%s entry holds the personal number: %q", e.Action, e.Reason)
		}
		if d := e.HiddenUntil.Sub(e.Time); d != 180*24*time.Hour {
			t.Errorf("%s entry hidden from the citizen for %v, want 180 days", e.Action, d)
		}
	}
	if got["audit.search"] != "agency=vss dataset=civil_status.birth_registration decision=allow citizen" || got["audit.export"] != "citizen" {
		t.Errorf("the auditor's accesses are recorded as %q", got)
	}
	code, out = get(api+"/v1/citizen/accesses", tok)
	seen := map[string]bool{}
	for _, a := range out["accesses"].([]any) {
		a := a.(map[string]any)
		seen[a["agency"].(string)+" "+a["action"].(string)] = true
	}
	if code != 200 || seen["gov-inspectorate audit.search"] || seen["gov-inspectorate audit.export"] || !seen["vss deliver"] {
		t.Errorf("the citizen's view during the inspection: %d %v, want the delivery and not the inspection", code, seen)
	}
}
