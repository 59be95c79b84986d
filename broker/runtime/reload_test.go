package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Agreements reload without a restart; a broken file changes nothing and the
// answer names it with its line.
func TestReloadAgreementsWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "agreements")
	if err := os.MkdirAll(pol, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("../../policies/agreements")
	for _, e := range entries {
		raw, _ := os.ReadFile(filepath.Join("../../policies/agreements", e.Name()))
		os.WriteFile(filepath.Join(pol, e.Name()), raw, 0o644)
	}
	c := devConfig(t, dir)
	c.Policies.Dir = pol
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API + "/v1/operator/agreements/reload"
	op, _ := os.ReadFile(filepath.Join(dir, "operator.token"))
	operator := strings.TrimSpace(string(op))
	before := bus.Engine.Current().Len()

	newOne := "id: moha-tax-test\ndataset: tax.taxpayer\nconsumer: moha\ntitle: t\nlegal_basis: Law on Tax Administration 38/2019/QH14\npurposes: [civil_service_management]\nmode: stream\nfields: [tax_code]\nvalid_from: 2025-01-01\nvalid_until: 2030-01-01\n"
	os.WriteFile(filepath.Join(pol, "moha-tax-test.yaml"), []byte(newOne), 0o644)
	if code, out := call(t, "POST", api, operator, nil); code != 200 || out["agreements"] != float64(before+1) {
		t.Fatalf("reload: %d %v", code, out)
	}
	if _, ok := bus.Engine.Current().Agreement("moha-tax-test"); !ok {
		t.Fatal("new agreement not in force")
	}

	os.WriteFile(filepath.Join(pol, "broken.yaml"), []byte("id: broken-one\ndataset: tax.taxpayer\nconsumer: moha\nmode: sideways\n"), 0o644)
	code, out := call(t, "POST", api, operator, nil)
	if code != 422 || !strings.Contains(out["error"].(string), "broken.yaml:") {
		t.Fatalf("broken reload: %d %v", code, out)
	}
	if bus.Engine.Current().Len() != before+1 {
		t.Fatal("a failed reload changed the agreements in force")
	}
	if code, _ := call(t, "POST", api, "", nil); code != 401 {
		t.Fatalf("reload without operator token: %d", code)
	}
	es, _ := bus.Store.(store.AuditSearcher).SearchAudit(context.Background(), store.AuditSearch{Action: "agreements.reload"})
	if len(es) != 1 {
		t.Fatalf("reloads audited: %d", len(es))
	}
}
