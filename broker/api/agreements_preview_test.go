package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/policies"
	"github.com/prometheus/client_golang/prometheus"
)

// The preview of an agreement edit: the diff of a valid edit, the problems
// of an invalid one with their lines, and in no case a change on disk or
// in force.
func TestPreviewAgreement(t *testing.T) {
	dir := t.TempDir()
	files, _ := filepath.Glob("../../policies/agreements/*.yaml")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := policies.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := policies.LoadEmbeddedAgencies()
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, "gdt-land-parcel.yaml"))
	thads, _ := os.ReadFile(filepath.Join(dir, "thads-hcm-taxpayer-lookup.yaml"))
	h := New(Deps{Metrics: prometheus.NewRegistry(), OperatorToken: "op", Engine: policies.NewEngine(set), AgreementsDir: dir,
		Registry: RegistryFunc(func() *policies.Agencies { return reg }),
		Agreements: AgreementFuncs{PutFunc: func(context.Context, string, []byte) (AgreementChange, error) {
			t.Fatal("the preview applied the change")
			return AgreementChange{}, nil
		}}})
	preview := func(token, id, body string) (int, AgreementPreview, string) {
		req := httptest.NewRequest("POST", "/v1/operator/agreements/"+id+"/preview", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/yaml")
		rec := httptest.NewRecorder()
		CheckedHandler(t, h).ServeHTTP(rec, req)
		var p AgreementPreview
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		return rec.Code, p, rec.Body.String()
	}
	for _, c := range []struct {
		name, token, id, body string
		code                  int
		valid                 bool
		want                  string
	}{
		{"adds a field", "op", "thads-hcm-taxpayer-lookup", strings.Replace(string(thads), "  - status\n", "  - status\n  - registered_on\n", 1), 200, true, `"gained":["registered_on"]`},
		{"drops a field", "op", "gdt-land-parcel", strings.Replace(string(orig), "  - area_m2\n", "", 1), 200, true, `"lost":["area_m2"]`},
		{"unchanged", "op", "gdt-land-parcel", string(orig), 200, true, `"changes":[]`},
		{"bad mode, with its line", "op", "gdt-land-parcel", strings.Replace(string(orig), "mode: stream", "mode: sideways", 1), 200, false, `"line":13`},
		{"unknown field", "op", "gdt-land-parcel", strings.Replace(string(orig), "  - address\n", "  - shoe_size\n", 1), 200, false, "shoe_size"},
		{"unregistered consumer", "op", "gdt-land-parcel", strings.Replace(string(orig), "consumer: gdt", "consumer: nobody", 1), 200, false, `is not a registered agency`},
		{"not YAML", "op", "gdt-land-parcel", "id: [unclosed\n", 200, false, `"line":`},
		{"empty", "op", "gdt-land-parcel", " ", 400, false, "empty body"},
		{"an agency", "nobody-token", "gdt-land-parcel", string(orig), 401, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, p, raw := preview(c.token, c.id, c.body)
			if code != c.code || p.Valid != c.valid || !strings.Contains(raw, c.want) {
				t.Errorf("%d %s, want %d valid=%v %q", code, raw, c.code, c.valid, c.want)
			}
			if code == 200 && !c.valid && len(p.Problems) == 0 {
				t.Errorf("refused without problems: %s", raw)
			}
		})
	}
	if now, _ := os.ReadFile(filepath.Join(dir, "gdt-land-parcel.yaml")); string(now) != string(orig) {
		t.Error("the preview wrote the file")
	}
	// Built-in agreements: a clear 409.
	h = New(Deps{Metrics: prometheus.NewRegistry(), OperatorToken: "op", Engine: policies.NewEngine(set)})
	req := httptest.NewRequest("POST", "/v1/operator/agreements/gdt-land-parcel/preview", strings.NewReader(string(orig)))
	req.Header.Set("Authorization", "Bearer op")
	rec := httptest.NewRecorder()
	CheckedHandler(t, h).ServeHTTP(rec, req)
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "policies.dir") {
		t.Errorf("built-in: %d %s", rec.Code, rec.Body)
	}
}
