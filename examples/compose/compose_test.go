// Package compose holds the production-like example configuration used by
// docker-compose.yml; its test parses the compose file (there is no Docker
// engine on the build machines) and checks it against the bus's config.
package compose

import (
	"bufio"
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
	props := kafkaProperties(t)
	if !strings.Contains(props["process.roles"], "controller") {
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
		t.Setenv(k, interpolate(v))
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
	if !strings.Contains(props["advertised.listeners"], "://"+cfg.Kafka.Brokers[0]) {
		t.Errorf("Kafka does not advertise %s", cfg.Kafka.Brokers[0])
	}
	checkKafkaSecurity(t, f, props, cfg)
	if !strings.Contains(cfg.Store.URL, "@postgres:5432/") {
		t.Errorf("store URL %s does not point at the postgres service", cfg.Store.URL)
	}
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

var composeVar = regexp.MustCompile(`\$\{([A-Z_]+)(?::-([^}]*))?\}`)

// interpolate expands ${VAR:-default} as docker compose does.
func interpolate(s string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		p := composeVar.FindStringSubmatch(m)
		if v := os.Getenv(p[1]); v != "" {
			return v
		}
		return p[2]
	})
}

// checkKafkaSecurity: Kafka authenticates every listener with SASL (SCRAM
// for clients, the mechanism the bus issues), authorizes with ACLs and
// denies by default, the bus's login is a super user whose SCRAM
// credential start.sh creates with the same user and password the bus is
// given, and the bus manages the agencies' users and ACLs (kafka.auth).
func checkKafkaSecurity(t *testing.T, f composeFile, props map[string]string, cfg config.Config) {
	t.Helper()
	k, bus := f.Services["kafka"], f.Services["lgsp"]
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
	if k.Environment["LGSP_KAFKA_USER"] != cfg.Kafka.User || interpolate(k.Environment["LGSP_KAFKA_PASSWORD"]) != cfg.Kafka.Password ||
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
