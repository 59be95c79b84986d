// Package compose holds the production-like example configuration used by
// docker-compose.yml; its test parses the compose file (there is no Docker
// engine on the build machines) and checks it against the bus's config.
package compose

import (
	"bufio"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
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
	for _, name := range append([]string{"kafka", "postgres"}, replicas...) {
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
	props := kafkaProperties(t)
	if !strings.Contains(props["process.roles"], "controller") {
		t.Error("kafka must run in KRaft mode (process roles include controller)")
	}
	if !strings.Contains(strings.Join(f.Services["postgres"].Command, " "), "wal_level=logical") {
		t.Error("postgres must run with wal_level=logical for change data capture")
	}

	known := map[string]bool{}
	envNames(reflect.TypeOf(config.Config{}), "", known)
	setSecrets(t)
	var cfg config.Config
	for _, name := range replicas {
		bus := f.Services[name]
		for k := range bus.Environment {
			if !known[k] {
				t.Errorf("%s: environment %s is not a setting of broker/config", name, k)
			}
		}
		for _, dep := range []string{"kafka", "postgres"} {
			if bus.DependsOn[dep].Condition != "service_healthy" {
				t.Errorf("%s must wait for %s to be healthy", name, dep)
			}
		}
		cfg = replicaConfig(t, bus.Environment)
		// The published ports are the ones the config listens on.
		for _, addr := range []string{cfg.API.Addr, cfg.Registry.Addr} {
			port := addr[strings.LastIndex(addr, ":")+1:]
			found := false
			for _, p := range bus.Ports {
				if strings.HasSuffix(p, ":"+port) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s listens on %s but compose does not publish port %s", name, addr, port)
			}
		}
		if cfg.Kafka.Brokers[0] != "kafka:19092" {
			t.Errorf("%s must use Kafka's internal listener, got %v", name, cfg.Kafka.Brokers)
		}
		if !strings.Contains(props["advertised.listeners"], "://"+cfg.Kafka.Brokers[0]) {
			t.Errorf("Kafka does not advertise %s", cfg.Kafka.Brokers[0])
		}
		if !strings.Contains(cfg.Store.URL, "@postgres:5432/") {
			t.Errorf("%s: store URL %s does not point at the postgres service", name, cfg.Store.URL)
		}
	}
	checkKafkaSecurity(t, f, props, cfg)
	for _, v := range []string{"kafka-data", "postgres-data", "lgsp-data"} {
		if _, ok := f.Volumes[v]; !ok {
			t.Errorf("volume %s missing", v)
		}
	}
}

// kafkaProperties reads the Kafka server.properties the compose file mounts.
func kafkaProperties(t *testing.T) map[string]string {
	t.Helper()
	fh, err := os.Open("kafka/server.properties")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("server.properties: %q is not key=value", line)
		}
		if _, dup := props[k]; dup {
			t.Fatalf("server.properties: %s is set twice", k)
		}
		props[k] = v
	}
	return props
}

var composeVar = regexp.MustCompile(`\$\{([A-Z_]+)(?::([-?])([^}]*))?\}`)

// interpolate expands ${VAR:-default} and ${VAR:?message} as docker
// compose does; a required variable that is unset is reported.
func interpolate(t *testing.T, s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		p := composeVar.FindStringSubmatch(m)
		if v := os.Getenv(p[1]); v != "" {
			return v
		}
		if p[2] == "?" {
			t.Errorf("%s is required (compose: %s) but not set", p[1], p[3])
		}
		return p[3]
	})
}

// replicas are the bus services: one bus in two processes.
var replicas = []string{"lgsp-a", "lgsp-b"}

// sharedSecrets must be the same on every replica: each checks them
// against the fingerprints the first recorded in the store.
var sharedSecrets = []string{"LGSP_AUDIT_HMAC_KEY", "LGSP_AUDIT_SIGNING_KEY", "LGSP_AUDIT_CITIZEN_TOKEN_KEY", "LGSP_API_OPERATOR_TOKEN"}

// setSecrets gives the shared secrets values as the README has the
// operator generate them (openssl rand -hex 32).
func setSecrets(t *testing.T) {
	for i, v := range sharedSecrets {
		t.Setenv(v, strings.Repeat(fmt.Sprintf("%02x", i+1), 32))
	}
}

// replicaConfig is serve.yaml under a replica's environment, validated as
// lgsp serve does at start.
func replicaConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, interpolate(t, v))
	}
	cfg, err := config.Load("serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate("serve"); err != nil {
		t.Fatalf("compose config does not validate: %v", err)
	}
	return cfg
}

// The replicas are one bus: the same secrets (given by the same variables,
// never written in the file), Kafka login, store and data volume, and each
// its own instance id and host ports; lgsp-b starts once lgsp-a is healthy,
// so it reads the Kafka credentials lgsp-a issued.
func TestComposeReplicasAreOneBus(t *testing.T) {
	f := load(t)
	setSecrets(t)
	a := f.Services[replicas[0]]
	ids, hostPorts := map[string]string{}, map[string]string{}
	for _, name := range replicas {
		s, ok := f.Services[name]
		if !ok {
			t.Fatalf("service %q missing", name)
		}
		for _, v := range sharedSecrets {
			if want := "${" + v + ":?"; !strings.HasPrefix(s.Environment[v], want) {
				t.Errorf("%s: %s = %q, want it from the operator's environment, required (%s…})", name, v, s.Environment[v], want)
			}
		}
		for _, k := range []string{"LGSP_KAFKA_PASSWORD", "LGSP_STORE_URL", "LGSP_DATA_DIR"} {
			if s.Environment[k] != a.Environment[k] {
				t.Errorf("%s: %s differs from %s's", name, k, replicas[0])
			}
		}
		if !slices.Equal(s.Volumes, a.Volumes) || s.Image != a.Image {
			t.Errorf("%s: image or volumes differ from %s's: %s %v", name, replicas[0], s.Image, s.Volumes)
		}
		cfg := replicaConfig(t, s.Environment)
		if cfg.Instance.ID == "" || ids[cfg.Instance.ID] != "" {
			t.Errorf("%s: LGSP_INSTANCE_ID %q is empty or also %s's", name, cfg.Instance.ID, ids[cfg.Instance.ID])
		}
		ids[cfg.Instance.ID] = name
		for _, p := range s.Ports {
			host, _, _ := strings.Cut(p, ":")
			if other := hostPorts[host]; other != "" {
				t.Errorf("%s: host port %s is also published by %s", name, host, other)
			}
			hostPorts[host] = name
		}
	}
	if f.Services["lgsp-b"].DependsOn["lgsp-a"].Condition != "service_healthy" {
		t.Error("lgsp-b must start after lgsp-a is healthy, to read the Kafka credentials it issued into the shared volume")
	}
}

// checkKafkaSecurity: Kafka authenticates every listener with SASL (SCRAM
// for clients, the mechanism the bus issues), authorizes with ACLs and
// denies by default, the bus's login is a super user whose SCRAM
// credential start.sh creates with the same user and password the bus is
// given, and the bus manages the agencies' users and ACLs (kafka.auth).
func checkKafkaSecurity(t *testing.T, f composeFile, props map[string]string, cfg config.Config) {
	t.Helper()
	k, bus := f.Services["kafka"], f.Services[replicas[0]]
	for _, l := range strings.Split(props["listener.security.protocol.map"], ",") {
		name, proto, _ := strings.Cut(l, ":")
		if !strings.HasPrefix(proto, "SASL_") {
			t.Errorf("Kafka listener %s is %s: every listener must require SASL", name, proto)
		}
	}
	for _, l := range strings.Split(props["listeners"], ",") {
		name, _, _ := strings.Cut(l, "://")
		if !strings.Contains(props["listener.security.protocol.map"], name+":SASL_") {
			t.Errorf("Kafka listener %s has no SASL protocol", name)
		}
	}
	if props["sasl.enabled.mechanisms"] != kafkaauth.Mechanism {
		t.Errorf("Kafka's client mechanism is %q, the bus issues %s", props["sasl.enabled.mechanisms"], kafkaauth.Mechanism)
	}
	if props["authorizer.class.name"] != "org.apache.kafka.metadata.authorizer.StandardAuthorizer" {
		t.Errorf("Kafka must authorize with the KRaft StandardAuthorizer, got %q", props["authorizer.class.name"])
	}
	if props["allow.everyone.if.no.acl.found"] != "false" {
		t.Error("Kafka must deny what no ACL allows (allow.everyone.if.no.acl.found=false)")
	}
	if props["auto.create.topics.enable"] != "false" {
		t.Error("topics are created by the bus, not by any client (auto.create.topics.enable=false)")
	}
	if !cfg.Kafka.Auth || cfg.Kafka.User == "" || cfg.Kafka.Password == "" {
		t.Fatalf("the bus must log in and manage the agencies' users and ACLs (kafka.auth, user, password): %+v", cfg.Kafka)
	}
	if !slices.Contains(strings.Split(props["super.users"], ";"), "User:"+cfg.Kafka.User) {
		t.Errorf("the bus's user %s is not a Kafka super user (%s)", cfg.Kafka.User, props["super.users"])
	}
	if k.Environment["LGSP_KAFKA_USER"] != cfg.Kafka.User || interpolate(t, k.Environment["LGSP_KAFKA_PASSWORD"]) != cfg.Kafka.Password ||
		k.Environment["LGSP_KAFKA_PASSWORD"] != bus.Environment["LGSP_KAFKA_PASSWORD"] {
		t.Error("Kafka must create the bus's SCRAM credential from the same user and password the bus logs in with")
	}
	script, err := os.ReadFile("kafka/start.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`--add-scram "` + kafkaauth.Mechanism + `=[name=$LGSP_KAFKA_USER,password=$LGSP_KAFKA_PASSWORD]"`, "/etc/lgsp/kafka/server.properties", "client.properties"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("kafka/start.sh lacks %s", want)
		}
	}
	if !slices.Contains(k.Volumes, "./examples/compose/kafka:/etc/lgsp/kafka:ro") || !strings.Contains(strings.Join(k.Command, " "), "/etc/lgsp/kafka/start.sh") {
		t.Errorf("kafka must mount examples/compose/kafka and run start.sh: %v %v", k.Volumes, k.Command)
	}
	if !strings.Contains(strings.Join(k.Healthcheck.Test, " "), "--command-config /tmp/lgsp-kafka/client.properties") {
		t.Error("Kafka's health check must log in (client.properties written by start.sh)")
	}
}
