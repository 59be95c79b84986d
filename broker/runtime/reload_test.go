package runtime_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// One bus with its agreements in a folder and its agency registry in a
// file serves three checks that each needed a bus of their own.
func TestReloadWithoutRestart(t *testing.T) {
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
	raw, err := os.ReadFile("../../policies/agencies/agencies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "agencies.yaml")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	c := devConfig(t, dir)
	c.Policies.Dir = pol
	c.Policies.AgenciesFile = file
	var banner syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, runtime.Options{Mode: runtime.Dev, Config: c, Population: population, DevConnectors: devConnectors(c), Status: &banner, StatusEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())

	// Dev stays easy: the ready banner says where the operator token is
	// (never the token itself).
	t.Run("BannerNamesTheOperatorToken", func(t *testing.T) {
		path := filepath.Join(bus.Addrs().DataDir, "operator.token")
		if !strings.Contains(banner.String(), "operator token   "+path) || strings.Contains(banner.String(), operatorToken(t, bus)) {
			t.Fatalf("banner:\n%s", banner.String())
		}
	})

	// Agreements reload without a restart; a broken file changes nothing
	// and the answer names it with its line.
	t.Run("ReloadAgreementsWithoutRestart", func(t *testing.T) {
		api := "http://" + bus.Addrs().API + "/v1/operator/agreements/reload"
		operator := operatorToken(t, bus)
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
	})
	// The broken file goes, so that the registry's reloads below can pass.
	if err := os.Remove(filepath.Join(pol, "broken.yaml")); err != nil {
		t.Fatal(err)
	}

	// The agency registry is reloaded with the agreements: a suspended
	// agency's valid token gets 403 agency_not_active from then on, on
	// every route.
	t.Run("SuspendedAgencyIsRefusedAfterReload", func(t *testing.T) {
		api := "http://" + bus.Addrs().API
		op := operatorToken(t, bus)
		moj := agencyToken(t, bus, "moj")
		if code, _ := call(t, "GET", api+"/v1/datasets", moj, nil); code != 200 {
			t.Fatalf("active agency: %d", code)
		}
		suspended := strings.Replace(string(raw), "email: cntt@moj.gov.vn}\n    state: active", "email: cntt@moj.gov.vn}\n    state: suspended", 1)
		if suspended == string(raw) {
			t.Fatal("the moj entry was not found in the registry")
		}
		if err := os.WriteFile(file, []byte(suspended), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := call(t, "POST", api+"/v1/operator/agreements/reload", op, nil); code != 200 {
			t.Fatalf("reload: %d %v", code, out)
		}
		p := citizens(t, bus.Store, 1)[0]
		birth, _ := json.Marshal(map[string]any{"dataset": "civil_status.birth_registration", "after": birthRow(0, p)})
		for _, path := range []string{"/v1/datasets", "/v1/sources/civil_status/records"} {
			code, out := postOrGet(t, api+path, moj, birth)
			if code != 403 || !strings.Contains(out, "agency_not_active") {
				t.Errorf("%s by a suspended agency: %d %s", path, code, out)
			}
		}
		// A broken registry changes nothing.
		if err := os.WriteFile(file, []byte("agencies:\n  - id: X\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _ := call(t, "POST", api+"/v1/operator/agreements/reload", op, nil); code != 422 {
			t.Fatalf("reload of a broken registry: %d", code)
		}
		if a, ok := bus.Agencies().Get("moj"); !ok || a.State != "suspended" {
			t.Fatalf("a failed reload changed the registry: %+v", a)
		}
	})
}
