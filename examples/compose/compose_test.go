// Package compose holds the production-like example configuration used by
// docker-compose.yml; its test parses the compose file (there is no Docker
// engine on the build machines) and checks it against the bus's config.
package compose

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/config"
	"go.yaml.in/yaml/v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func load(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	return f
}

// envNames lists every LGSP_* variable the config struct reads.
func envNames(t reflect.Type, prefix string, out map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if p, ok := f.Tag.Lookup("envPrefix"); ok {
			envNames(f.Type, prefix+p, out)
			continue
		}
		if e, ok := f.Tag.Lookup("env"); ok {
			name := strings.Split(e, ",")[0]
			if prefix != "" || strings.HasPrefix(name, "LGSP_") {
				out[prefix+name] = true
			}
		}
	}
}

func TestComposeServicesArePinnedHealthyAndMatchConfig(t *testing.T) {
	f := load(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	pinned := regexp.MustCompile(`^[a-z0-9./_-]+:[0-9][0-9A-Za-z._-]*$`)
	for _, name := range []string{"kafka", "postgres", "lgsp"} {
		s, ok := f.Services[name]
		if !ok {
			t.Fatalf("service %q missing", name)
		}
		if !pinned.MatchString(s.Image) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s: no health check", name)
		}
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README does not name the compose service `%s`", name)
		}
	}
	k := f.Services["kafka"]
	if !strings.Contains(k.Environment["KAFKA_PROCESS_ROLES"], "controller") {
		t.Error("kafka must run in KRaft mode (process roles include controller)")
	}
	if !strings.Contains(strings.Join(f.Services["postgres"].Command, " "), "wal_level=logical") {
		t.Error("postgres must run with wal_level=logical for change data capture")
	}

	bus := f.Services["lgsp"]
	known := map[string]bool{}
	envNames(reflect.TypeOf(config.Config{}), "", known)
	for k := range bus.Environment {
		if !known[k] {
			t.Errorf("lgsp: environment %s is not a setting of broker/config", k)
		}
	}
	for _, dep := range []string{"kafka", "postgres"} {
		if bus.DependsOn[dep].Condition != "service_healthy" {
			t.Errorf("lgsp must wait for %s to be healthy", dep)
		}
	}
	// The published ports are the ones the config listens on.
	cfg, err := config.Load("serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range bus.Environment {
		t.Setenv(k, v)
	}
	cfg, err = config.Load("serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate("serve"); err != nil {
		t.Fatalf("compose config does not validate: %v", err)
	}
	for _, addr := range []string{cfg.API.Addr, cfg.Registry.Addr} {
		port := addr[strings.LastIndex(addr, ":")+1:]
		found := false
		for _, p := range bus.Ports {
			if strings.HasSuffix(p, ":"+port) {
				found = true
			}
		}
		if !found {
			t.Errorf("lgsp listens on %s but compose does not publish port %s", addr, port)
		}
	}
	if cfg.Kafka.Brokers[0] != "kafka:19092" {
		t.Errorf("lgsp must use Kafka's internal listener, got %v", cfg.Kafka.Brokers)
	}
	if !strings.Contains(k.Environment["KAFKA_ADVERTISED_LISTENERS"], cfg.Kafka.Brokers[0]) {
		t.Errorf("Kafka does not advertise %s", cfg.Kafka.Brokers[0])
	}
	if !strings.Contains(cfg.Store.URL, "@postgres:5432/") {
		t.Errorf("store URL %s does not point at the postgres service", cfg.Store.URL)
	}
	for _, v := range []string{"kafka-data", "postgres-data", "lgsp-data"} {
		if _, ok := f.Volumes[v]; !ok {
			t.Errorf("volume %s missing", v)
		}
	}
}
