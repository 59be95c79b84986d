package runtime_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// The bus serves its schema registry with its own credentials: the
// operator token and the agencies' API tokens (Bearer, or Basic with the
// agency id or "operator" as the user). An agency reads; only the operator
// and an agency with the schema_steward role change anything, and each
// change and each refused change is in the audit log.
func TestRegistryNeedsTheBusCredentials(t *testing.T) {
	dir := t.TempDir()
	raw, err := os.ReadFile("../../policies/agencies/agencies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const gdtActive = "email: cntt@gdt.gov.vn}\n    state: active\n"
	steward := strings.Replace(string(raw), gdtActive, gdtActive+"    roles: [schema_steward]\n", 1)
	if steward == string(raw) {
		t.Fatal("the gdt entry was not found in the agency registry")
	}
	file := filepath.Join(dir, "agencies.yaml")
	if err := os.WriteFile(file, []byte(steward), 0o644); err != nil {
		t.Fatal(err)
	}
	c := devConfig(t, dir)
	c.Policies.AgenciesFile = file
	bus := start(t, c)
	defer bus.Close(context.Background())
	ctx := context.Background()
	url := "http://" + bus.Addrs().Registry
	op, vss, gdt := operatorToken(t, bus), agencyToken(t, bus, "vss"), agencyToken(t, bus, "gdt")
	const subject = "civil_status.birth_registration.v1-value"
	client := func(opts ...sr.ClientOpt) *sr.Client {
		cl, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(url)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	wantStatus := func(what string, err error, status, code int) {
		t.Helper()
		var re *sr.ResponseError
		if !errors.As(err, &re) || re.StatusCode != status || re.ErrorCode != code {
			t.Fatalf("%s: %v, want %d / %d", what, err, status, code)
		}
	}

	_, err = client().SchemaByVersion(ctx, subject, -1)
	wantStatus("reading without a credential", err, http.StatusUnauthorized, 40101)
	_, err = client(sr.BasicAuth("moj", vss)).SchemaByVersion(ctx, subject, -1)
	wantStatus("vss's token under another agency's name", err, http.StatusUnauthorized, 40101)

	agency := client(sr.BasicAuth("vss", vss))
	if s, err := agency.SchemaByVersion(ctx, subject, -1); err != nil || s.Subject != subject || s.Version != 1 {
		t.Fatalf("vss reading %s: %+v, %v", subject, s, err)
	}
	res := agency.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatNone}, subject)
	wantStatus("vss setting compatibility NONE", res[0].Err, http.StatusForbidden, 40301)
	_, err = client(sr.BearerToken(vss)).CreateSchema(ctx, subject, sr.Schema{Schema: `{"type":"integer"}`, Type: sr.TypeJSON})
	wantStatus("vss registering a forgery", err, http.StatusForbidden, 40301)

	if res := client(sr.BearerToken(op)).SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatFullTransitive}, subject); res[0].Err != nil {
		t.Fatalf("operator setting compatibility: %v", res[0].Err)
	}
	if res := client(sr.BasicAuth("gdt", gdt)).SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject); res[0].Err != nil {
		t.Fatalf("steward gdt setting compatibility: %v", res[0].Err)
	}

	entries, err := bus.Store.(store.AuditStore).ListAudit(ctx, store.AuditQuery{RequestID: subject})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor+" "+e.Action+" "+e.Decision)
	}
	want := []string{"vss schema.config deny", "vss schema.register deny", "operator schema.config allow", "gdt schema.config allow"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("audit entries for %s: %q, want %q", subject, got, want)
	}

	resp, err := http.Get("http://" + bus.Addrs().API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`lgsp_registry_denied_total{status="401"} 2`, `lgsp_registry_denied_total{status="403"} 2`} {
		if !strings.Contains(string(metrics), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}
