package clients_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde"
	"github.com/confluentinc/confluent-kafka-go/v2/schemaregistry/serde/jsonschema"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/consumer"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
)

const (
	agency  = "vss"
	dataset = "civil_status.birth_registration"
	topic   = "deliver." + agency + "." + dataset
	births  = 5
)

// devBus is a dev bus with kafka.auth on, births pushed through the API and
// the credentials an agency gets: its Kafka password (from the operator's
// API, as the README says) and an API token (the registry's password).
type devBus struct {
	bus       *runtime.Bus
	kafkaPass string
	apiToken  string
	pushed    map[string]bool // registration numbers
}

func startBus(t *testing.T) *devBus {
	t.Helper()
	dir := t.TempDir()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = dir, "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic.Enabled, c.Synthetic.Population = false, 2000
	c.Kafka.Auth = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close(context.Background()) })
	d := &devBus{bus: bus, pushed: map[string]bool{}}
	api := "http://" + bus.Addrs().API

	// Births, pushed by the civil-status agency.
	var recs []map[string]any
	err = bus.Store.ScanCitizens(ctx, func(p store.Citizen) error {
		if n := len(recs); !p.Deceased && n < births {
			no := fmt.Sprintf("001/2024/%d", n+1)
			d.pushed[no] = true
			recs = append(recs, map[string]any{"dataset": dataset, "op": "c", "after": map[string]any{
				"registration_no": no, "child_cccd": p.ID, "child_name": p.FullName, "child_dob": p.DOB,
				"child_sex": p.Sex, "birth_province": p.BirthProvince, "mother_cccd": nil, "mother_name": "Trần Thị Mai",
				"father_name": "Nguyễn Văn Hùng", "registered_on": "2024-05-02"}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := bus.Agencies().SourceOwner("civil_status")
	tokens := credentials.New(bus.Store.(store.TokenStore))
	_, pushToken, err := tokens.Issue(ctx, owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"records": recs})
	if code, raw := post(t, api+"/v1/sources/civil_status/records", pushToken, body); code != 200 || !bytes.Contains(raw, []byte(`"published"`)) {
		t.Fatalf("push: %d %s", code, raw)
	}

	// The agency's Kafka password, from the operator.
	op, err := os.ReadFile(filepath.Join(dir, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	code, raw := post(t, api+"/v1/operator/kafka/users/"+agency+"/password", strings.TrimSpace(string(op)), nil)
	var cred struct{ User, Password, Mechanism string }
	if code != 200 || json.Unmarshal(raw, &cred) != nil || cred.Password == "" || cred.Mechanism != "SCRAM-SHA-512" {
		t.Fatalf("kafka password: %d %s", code, raw)
	}
	d.kafkaPass = cred.Password
	if _, d.apiToken, err = tokens.Issue(ctx, agency); err != nil {
		t.Fatal(err)
	}
	return d
}

func post(t *testing.T, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// env is the configuration the example clients read.
func (d *devBus) env(group string) []string {
	return append(os.Environ(),
		"LGSP_BOOTSTRAP="+strings.Join(d.bus.Addrs().Kafka, ","),
		"LGSP_AGENCY="+agency,
		"LGSP_KAFKA_PASSWORD="+d.kafkaPass,
		"LGSP_API_TOKEN="+d.apiToken,
		"LGSP_REGISTRY_URL=http://"+d.bus.Addrs().Registry,
		"LGSP_TOPIC="+topic,
		"LGSP_GROUP="+group,
		fmt.Sprint("LGSP_COUNT=", births),
	)
}

// run runs a client to its end (it stops after LGSP_COUNT events).
func run(t *testing.T, cmd *exec.Cmd) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(90 * time.Second): // a hung client, not a speed goal
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish\nstdout:\n%s\nstderr:\n%s", cmd.Path, out.String(), errb.String())
	}
	return out.String(), errb.String(), err
}

// checkEvents checks the JSON lines a client printed: every pushed birth,
// decoded into the change event with the agreed fields only.
func (d *devBus) checkEvents(t *testing.T, out string) {
	t.Helper()
	got := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line struct {
			Key   string `json:"key"`
			CEID  string `json:"ce_id"`
			Event struct {
				Op    string         `json:"op"`
				After map[string]any `json:"after"`
			} `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		no, _ := line.Event.After["registration_no"].(string)
		if line.Key != no || !d.pushed[no] || line.CEID == "" || line.Event.Op != "c" {
			t.Errorf("event %s", sc.Text())
		}
		if line.Event.After["child_cccd"] == nil || line.Event.After["father_name"] != nil {
			t.Errorf("fields outside vss's agreement, or missing: %v", line.Event.After)
		}
		got[no] = true
	}
	if len(got) != len(d.pushed) {
		t.Fatalf("%d of %d births read:\n%s", len(got), len(d.pushed), out)
	}
}

// Third-party clients read vss's delivery topic from a dev bus with
// kafka.auth on: kcat as the README shows, Confluent's Python client with
// its JSON Schema deserializer, KafkaJS with its registry client (which needs
// Ajv's strict: false). Each skips only when its client is not installed;
// .ci/run installs all three.
func TestClientsReadTheirDeliveryTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev bus")
	}
	d := startBus(t)

	t.Run("kcat", func(t *testing.T) {
		kcat, err := exec.LookPath("kcat")
		if err != nil {
			t.Skip("kcat is not installed (apt-get install kcat)")
		}
		cmd := exec.Command(kcat, "-b", d.bus.Addrs().Kafka[0], "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=SCRAM-SHA-512",
			"-X", "sasl.username="+agency, "-X", "sasl.password="+d.kafkaPass, "-X", "auto.offset.reset=earliest",
			"-G", agency+".cards", topic, "-c", fmt.Sprint(births), "-f", "%k\n")
		out, stderr, err := run(t, cmd)
		if err != nil {
			t.Fatalf("kcat: %v\n%s", err, stderr)
		}
		for no := range d.pushed {
			if !strings.Contains(out, no+"\n") {
				t.Errorf("kcat did not print %s:\n%s", no, out)
			}
		}
	})

	t.Run("go consumer SDK", func(t *testing.T) {
		c, err := consumer.New(consumer.Config{
			Brokers:       d.bus.Addrs().Kafka,
			GroupID:       agency + ".sdk",
			Agency:        agency,
			Datasets:      []string{dataset},
			RegistryURL:   "http://" + d.bus.Addrs().Registry,
			RegistryToken: d.apiToken,
			Username:      agency,
			Password:      d.kafkaPass,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var lines []string
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		err = c.Run(ctx, func(_ context.Context, e consumer.Event) error {
			line, _ := json.Marshal(map[string]any{"key": string(e.Key), "ce_id": e.ID, "event": map[string]any{"op": e.Op, "after": e.After}})
			if lines = append(lines, string(line)); len(lines) == births {
				cancel()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("after %d events: %v", len(lines), err)
		}
		d.checkEvents(t, strings.Join(lines, "\n"))
	})

	t.Run("go confluent-kafka-go", func(t *testing.T) {
		c, err := ckafka.NewConsumer(&ckafka.ConfigMap{
			"bootstrap.servers": strings.Join(d.bus.Addrs().Kafka, ","),
			"security.protocol": "SASL_PLAINTEXT",
			"sasl.mechanisms":   "SCRAM-SHA-512",
			"sasl.username":     agency,
			"sasl.password":     d.kafkaPass,
			"group.id":          agency + ".ckg",
			"auto.offset.reset": "earliest",
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rc, err := schemaregistry.NewClient(schemaregistry.NewConfigWithBasicAuthentication("http://"+d.bus.Addrs().Registry, agency, d.apiToken))
		if err != nil {
			t.Fatal(err)
		}
		de, err := jsonschema.NewDeserializer(rc, serde.ValueSerde, jsonschema.NewDeserializerConfig())
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe(topic, nil); err != nil {
			t.Fatal(err)
		}
		var lines []string
		for len(lines) < births {
			m, err := c.ReadMessage(60 * time.Second) // a hung client, not a speed goal
			if err != nil {
				t.Fatalf("after %d events: %v", len(lines), err)
			}
			var event map[string]any
			if err := de.DeserializeInto(topic, m.Value, &event); err != nil {
				t.Fatal(err)
			}
			ceID := ""
			for _, h := range m.Headers {
				if h.Key == "ce_id" {
					ceID = string(h.Value)
				}
			}
			line, _ := json.Marshal(map[string]any{"key": string(m.Key), "ce_id": ceID, "event": event})
			lines = append(lines, string(line))
		}
		d.checkEvents(t, strings.Join(lines, "\n"))
	})

	t.Run("python confluent-kafka", func(t *testing.T) {
		py := python(t)
		cmd := exec.Command(py, "python/consume.py")
		cmd.Env = d.env(agency + ".py")
		out, stderr, err := run(t, cmd)
		if err != nil {
			t.Fatalf("consume.py: %v\n%s", err, stderr)
		}
		d.checkEvents(t, out)
	})

	t.Run("kafkajs", func(t *testing.T) {
		node := kafkajs(t)
		cmd := exec.Command(node, "consume.js")
		cmd.Dir, cmd.Env = "kafkajs", d.env(agency+".js")
		out, stderr, err := run(t, cmd)
		if err != nil {
			t.Fatalf("consume.js: %v\n%s", err, stderr)
		}
		d.checkEvents(t, out)

		// Without strict: false, Ajv refuses the schema's "format": "date".
		cmd = exec.Command(node, "consume.js")
		cmd.Dir, cmd.Env = "kafkajs", append(d.env(agency+".js-strict"), "LGSP_AJV_STRICT=true")
		_, stderr, err = run(t, cmd)
		if err == nil || !strings.Contains(stderr, `unknown format "date"`) {
			t.Fatalf("KafkaJS registry client in Ajv strict mode: %v\n%s", err, stderr)
		}
	})
}

// python finds a python3 with Confluent's client and what its JSON Schema
// deserializer needs (Debian: python3-confluent-kafka python3-requests
// python3-jsonschema), or skips.
func python(t *testing.T) string {
	t.Helper()
	for _, py := range []string{os.Getenv("LGSP_TEST_PYTHON"), "python3", "/usr/bin/python3"} {
		if py == "" {
			continue
		}
		if err := exec.Command(py, "-c", "import confluent_kafka.schema_registry.json_schema, requests, jsonschema").Run(); err == nil {
			return py
		}
	}
	t.Skip("no python3 with confluent_kafka, requests and jsonschema (apt-get install python3-confluent-kafka python3-requests python3-jsonschema)")
	return ""
}

// kafkajs finds node with the example's packages installed, or skips.
func kafkajs(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (apt-get install nodejs npm)")
	}
	if _, err := os.Stat("kafkajs/node_modules/kafkajs"); err != nil {
		t.Skip("KafkaJS is not installed: run `npm ci --ignore-scripts` in examples/clients/kafkajs")
	}
	return node
}
