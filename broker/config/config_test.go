package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every kind of config error names the key path, the line for a file, and
// the environment variable that sets the same value.
func TestConfigErrorsNameKeyAndVariable(t *testing.T) {
	valid := "kafka:\n  brokers: [k:9092]\nstore:\n  url: postgres://x@h/db\n"
	tests := []struct {
		name string
		file string
		env  map[string]string
		want []string
	}{
		{"wrong type: string for a list", "kafka:\n  brokers: k:9092\n", nil,
			[]string{"cfg.yaml:2: kafka.brokers (env LGSP_KAFKA_BROKERS): cannot unmarshal !!str \"k:9092\" into []string"}},
		{"wrong type: text for a number", valid + "pipeline:\n  max_in_flight: many\n", nil,
			[]string{"cfg.yaml:6: pipeline.max_in_flight (env LGSP_PIPELINE_MAX_IN_FLIGHT): cannot unmarshal !!str \"many\" into int: want a whole number"}},
		{"wrong type: list for a number", valid + "pipeline:\n  max_record_bytes: [1024]\n", nil,
			[]string{"pipeline.max_record_bytes (env LGSP_PIPELINE_MAX_RECORD_BYTES): cannot unmarshal a list (!!seq) into int"}},
		{"wrong type: scalar for a section", "api: 8080\n", nil,
			[]string{"cfg.yaml:1: api (env LGSP_API_*): want a mapping of settings (addr, operator_token, tls), got !!int \"8080\""}},
		{"wrong type: nested", valid + "api:\n  tls:\n    enabled: sometimes\n", nil,
			[]string{"api.tls.enabled (env LGSP_API_TLS_ENABLED): cannot unmarshal !!str \"sometimes\" into bool: want true or false"}},
		{"unknown key, close to a known one", "kafka:\n  brokrs: [k:9092]\n", nil,
			[]string{"cfg.yaml:2: kafka.brokrs: unknown setting \"brokrs\" (did you mean \"brokers\"?); the settings under kafka are auth, brokers,"}},
		{"unknown key at the top", "piepline:\n  max_in_flight: 2\n", nil, []string{"piepline: unknown setting \"piepline\" (did you mean \"pipeline\"?)"}},
		{"unknown key, nothing close", valid + "store:\n  flavour: x\n", nil, []string{"store.flavour: unknown setting \"flavour\"; the settings under store are driver, url"}},
		{"unknown key in a list item", valid + "connectors:\n  - name: land\n    adaptor: files\n", nil,
			[]string{"connectors[0].adaptor: unknown setting \"adaptor\" (did you mean \"adapter\"?)"}},
		{"bad duration", valid + "audit:\n  retention: 5 years\n", nil,
			[]string{"cfg.yaml:6: audit.retention (env LGSP_AUDIT_RETENTION): \"5 years\" is not a duration"}},
		{"duration of the wrong type", valid + "http:\n  body_timeout: [1s]\n", nil,
			[]string{"http.body_timeout (env LGSP_HTTP_BODY_TIMEOUT): want a duration such as 10s"}},
		{"every problem at once", "kafka:\n  brokrs: x\n  partitions: two\n", nil, []string{"kafka.brokrs", "kafka.partitions (env LGSP_KAFKA_PARTITIONS)"}},
		{"missing required value", "kafka:\n  partitions: 2\n", nil,
			[]string{"kafka.brokers (env LGSP_KAFKA_BROKERS): must list at least one broker", "store.url (env LGSP_STORE_URL): must be a postgres:// URL"}},
		{"bad duration in the environment", valid, map[string]string{"LGSP_AUDIT_RETENTION": "5 years"},
			[]string{"environment LGSP_AUDIT_RETENTION=\"5 years\" (audit.retention): not a duration"}},
		{"wrong type in the environment", valid, map[string]string{"LGSP_KAFKA_PARTITIONS": "many"},
			[]string{"environment LGSP_KAFKA_PARTITIONS=\"many\" (kafka.partitions): want a whole number"}},
		{"register changes reflected too soon", valid + "quality:\n  reflect_within: 10m\n", nil,
			[]string{"quality.reflect_within (env LGSP_QUALITY_REFLECT_WITHIN): must be at least 1h"}},
		{"not YAML", "kafka: [\n", nil, []string{"cfg.yaml is not YAML", "line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(t.TempDir(), "cfg.yaml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if err == nil {
				err = c.Validate("serve")
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := strings.ReplaceAll(err.Error(), filepath.Dir(path)+string(filepath.Separator), "")
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not say %q:\n%s", w, msg)
				}
			}
		})
	}
}

// A valid file decodes as before: values over the defaults, lists of
// connectors with their adapter config kept as given.
func TestLoadValidFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ok.yaml")
	body := "kafka:\n  brokers: [a:9092, b:9092]\n  auth: false\nstore:\n  url: postgres://x@h/db\naudit:\n  retention: 43800h\n" +
		"api:\n  tls:\n    hosts: [bus.example]\nconnectors:\n  - name: land\n    adapter: files\n    config: {path: /in/*.csv, dataset: land.land_use_right}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate("serve"); err != nil {
		t.Fatal(err)
	}
	if len(c.Kafka.Brokers) != 2 || c.Audit.Retention.Hours() != 43800 || c.API.TLS.Hosts[0] != "bus.example" ||
		c.Connectors[0].Config["dataset"] != "land.land_use_right" || c.API.Addr != ":8080" {
		t.Fatalf("decoded %+v", c)
	}
}

// Every variable the env tags define maps to its key path.
func TestEnvKeys(t *testing.T) {
	keys := envKeys()
	for env, key := range map[string]string{
		"LGSP_DATA_DIR": "data_dir", "LGSP_KAFKA_BROKERS": "kafka.brokers", "LGSP_API_TLS_CA_CERT": "api.tls.ca_cert",
		"LGSP_HTTP_BODY_TIMEOUT": "http.body_timeout", "LGSP_SYNTHETIC_RATE_PER_SECOND": "synthetic.rate_per_second",
	} {
		if keys[env] != key {
			t.Errorf("%s → %q, want %q", env, keys[env], key)
		}
	}
}
