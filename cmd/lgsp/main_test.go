package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadConfigStopsBeforeAnythingStarts(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []string
	}{
		{"invalid values name every field", []string{"serve", "--config", write("bad.yaml", "kafka:\n  partitions: 0\nstore:\n  driver: postgres\napi:\n  addr: nonsense\n")}, nil, 1,
			[]string{"kafka.brokers (env LGSP_KAFKA_BROKERS)", "kafka.partitions (env LGSP_KAFKA_PARTITIONS)", "store.url (env LGSP_STORE_URL)", "api.addr (env LGSP_API_ADDR)"}},
		{"unknown key", []string{"serve", "--config", write("typo.yaml", "kafka:\n  brokerz: [a:1]\n")}, nil, 1, []string{"brokerz"}},
		{"missing file", []string{"serve", "--config", filepath.Join(dir, "nope.yaml")}, nil, 1, []string{"nope.yaml"}},
		{"linkage refresh too short", []string{"serve", "--config", write("refresh.yaml", "kafka:\n  brokers: [k:9092]\nstore:\n  url: postgres://x@h/db\npipeline:\n  linkage_refresh: 10ms\n")}, nil, 1,
			[]string{"pipeline.linkage_refresh (env LGSP_PIPELINE_LINKAGE_REFRESH)", "at least 1s"}},
		{"bad environment value", []string{"serve", "--config", write("ok.yaml", "kafka:\n  brokers: [k:9092]\nstore:\n  url: postgres://x@h/db\n")}, map[string]string{"LGSP_KAFKA_PARTITIONS": "many"}, 1, []string{"LGSP_KAFKA_PARTITIONS"}},
		{"bad dev flag", []string{"dev", "--population", "5"}, nil, 1, []string{"synthetic.population"}},
		{"unknown command", []string{"launch"}, nil, 2, []string{"unknown command"}},
		{"no command", nil, nil, 2, []string{"usage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr does not name %q:\n%s", w, errb.String())
				}
			}
			if strings.Contains(out.String(), "ready") {
				t.Error("the bus started despite bad config")
			}
		})
	}
}

func TestPolicyCommands(t *testing.T) {
	dir := t.TempDir()
	good := "id: moj-tax-1\ndataset: tax.taxpayer\nconsumer: gdt\ntitle: t\nlegal_basis: Law 38/2019\npurposes: [tax_administration]\nmode: stream\nfields: [tax_code, full_name]\nvalid_from: 2024-01-01\nvalid_until: 2030-01-01\n"
	if err := os.WriteFile(filepath.Join(dir, "t1.yaml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"policy", "check", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "1 agreements OK") {
		t.Fatalf("check good: %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"policy", "diff", "builtin", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "gdt on tax.taxpayer (stream):\n  + gains fields     full_name, tax_code") {
		t.Fatalf("diff: %d\n%s", code, out.String())
	}
	bad := strings.Replace(good, "fields: [tax_code, full_name]", "fields: [tax_code, salary]", 1)
	if err := os.WriteFile(filepath.Join(dir, "t1.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"policy", "check", dir}, &out, &errb); code != 1 || !strings.Contains(out.String(), "t1.yaml:8") || !strings.Contains(out.String(), "salary") {
		t.Fatalf("check bad: %d %s", code, out.String())
	}
}

func TestConnectorListAndSpec(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"connector", "list"}, &out, &errb); code != 0 {
		t.Fatal(errb.String())
	}
	for _, name := range []string{"files", "postgres-cdc", "postgres-poll", "synthetic"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("connector list lacks %s:\n%s", name, out.String())
		}
	}
	out.Reset()
	if code := run(context.Background(), []string{"connector", "spec", "postgres-cdc"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "slot") {
		t.Fatalf("spec: %d %s %s", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"connector", "spec", "nope"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no adapter") {
		t.Fatalf("unknown adapter: %d %s", code, errb.String())
	}
}
