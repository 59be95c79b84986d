// Package config owns the bus's settings: one typed struct whose field
// comments are the user documentation. Every setting can be given in the
// YAML file of `lgsp serve --config FILE` and overridden by the environment
// variable named in its env tag. Validate reports every bad field at once,
// before anything starts.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the whole configuration.
type Config struct {
	// DataDir holds the embedded broker's log, the SQLite store and generated
	// secrets in dev mode; in serve mode only secrets generated on first start.
	DataDir string `yaml:"data_dir" env:"LGSP_DATA_DIR"`

	API      API      `yaml:"api" envPrefix:"LGSP_API_"`
	Registry Registry `yaml:"registry" envPrefix:"LGSP_REGISTRY_"`
	// Instance names this process among the bus instances that share one
	// Kafka cluster and one store.
	Instance Instance `yaml:"instance" envPrefix:"LGSP_INSTANCE_"`
	// HTTP bounds what clients can hold of every listener (API and registry).
	HTTP      HTTPLimits `yaml:"http" envPrefix:"LGSP_HTTP_"`
	Kafka     Kafka      `yaml:"kafka" envPrefix:"LGSP_KAFKA_"`
	Store     Store      `yaml:"store" envPrefix:"LGSP_STORE_"`
	Audit     Audit      `yaml:"audit" envPrefix:"LGSP_AUDIT_"`
	Policies  Policies   `yaml:"policies" envPrefix:"LGSP_POLICIES_"`
	Pipeline  Pipeline   `yaml:"pipeline" envPrefix:"LGSP_PIPELINE_"`
	Quality   Quality    `yaml:"quality" envPrefix:"LGSP_QUALITY_"`
	Synthetic Synthetic  `yaml:"synthetic" envPrefix:"LGSP_SYNTHETIC_"`
	// Connectors are the ministry sources to run, each an adapter with its
	// config (see `lgsp connector spec NAME`). YAML only: a list of maps has
	// no sensible environment-variable form.
	Connectors []Connector `yaml:"connectors"`
	Log        Log         `yaml:"log" envPrefix:"LGSP_LOG_"`
}

// API is the REST API listener (health, metrics, ingest, status).
type API struct {
	// Addr is host:port to listen on (default ":8080").
	Addr string `yaml:"addr" env:"ADDR"`
	// OperatorToken guards the operator endpoints (/v1/operator/…, agencies'
	// API tokens). Empty: one is generated once into <data_dir>/operator.token.
	OperatorToken string `yaml:"operator_token" env:"OPERATOR_TOKEN"`
	// TLS serves the API over HTTPS with mutual TLS as an option for agencies.
	TLS TLS `yaml:"tls" envPrefix:"TLS_"`
}

// TLS serves the REST API over HTTPS. Agencies may then authenticate with a
// client certificate issued by the bus's own CA (`lgsp cert issue`) instead
// of an API token; callers with tokens need no certificate.
type TLS struct {
	// Enabled turns HTTPS and client certificates on for the API listener.
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// CACert and CAKey are the PEM files of the bus CA that issues agencies'
	// client certificates (the key needs the keyCertSign and cRLSign usages).
	// Required in serve mode; empty in dev: generated once into
	// <data_dir>/pki/ca.crt and ca.key (0600).
	CACert string `yaml:"ca_cert" env:"CA_CERT"`
	CAKey  string `yaml:"ca_key" env:"CA_KEY"`
	// StateDir keeps the ledger of issued certificates (issued.json) and the
	// CA-signed revocation list (crl.pem); bus instances that serve together
	// must share it. Default <data_dir>/pki.
	StateDir string `yaml:"state_dir" env:"STATE_DIR"`
	// Cert and Key are the listener's certificate and key (PEM). Empty: the
	// bus CA issues one for Hosts into <state_dir>/server.crt and server.key.
	Cert string `yaml:"cert" env:"CERT"`
	Key  string `yaml:"key" env:"KEY"`
	// Hosts are the DNS names and IP addresses of a generated server
	// certificate (default localhost,127.0.0.1,::1).
	Hosts []string `yaml:"hosts" env:"HOSTS" envSeparator:","`
	// ClientValidity is the lifetime of issued client certificates (default
	// 8760h, one year).
	ClientValidity time.Duration `yaml:"client_validity" env:"CLIENT_VALIDITY"`
}

// Registry is the schema registry's listener. Every request needs the
// operator token or an agency's API token (HTTP Basic or Bearer); changes
// need the operator or an agency with the schema_steward role.
type Registry struct {
	// Addr is host:port to listen on (default ":8081").
	Addr string `yaml:"addr" env:"ADDR"`
	// AnonymousRead lets requests without any credential read the
	// registry (subjects, versions, schemas by id, config), never change
	// it. Default false: the subjects list names every shared dataset.
	AnonymousRead bool `yaml:"anonymous_read" env:"ANONYMOUS_READ"`
}

// Instance identifies one bus process of several.
type Instance struct {
	// ID names this instance in consumer groups of its own (every instance
	// reads every change of the population register), in logs and in the
	// cluster view; it must be unique among the instances and stable across
	// restarts. Default: the host name and a digest of the data dir.
	ID string `yaml:"id" env:"ID"`
}

// HTTPLimits bounds what one client can hold of a listener: a client that
// trickles or stalls its request is cut when a deadline passes, and
// uploads (requests with a body) are capped per credential and in total,
// so the memory they can take is about Uploads × the body limit (8 MiB on
// the API). The same limits apply to the REST API and the schema registry.
type HTTPLimits struct {
	// HeaderTimeout is how long a client has to send the request headers (default 10s).
	HeaderTimeout time.Duration `yaml:"header_timeout" env:"HEADER_TIMEOUT"`
	// BodyTimeout is how long a client has to send a whole request, body
	// included (default 60s); slower uploads are cut.
	BodyTimeout time.Duration `yaml:"body_timeout" env:"BODY_TIMEOUT"`
	// IdleTimeout closes keep-alive connections idle this long (default 60s).
	IdleTimeout time.Duration `yaml:"idle_timeout" env:"IDLE_TIMEOUT"`
	// MaxHeaderBytes caps the request line and headers (default 65536).
	MaxHeaderBytes int `yaml:"max_header_bytes" env:"MAX_HEADER_BYTES"`
	// UploadsPerCredential is how many requests with a body one credential
	// may send at once (default 4); more are answered 429 with Retry-After.
	UploadsPerCredential int `yaml:"uploads_per_credential" env:"UPLOADS_PER_CREDENTIAL"`
	// Uploads is how many requests with a body a listener reads at once
	// (default 32); more are answered 503 with Retry-After.
	Uploads int `yaml:"uploads" env:"UPLOADS"`
}

// Kafka says where Kafka is.
type Kafka struct {
	// Brokers is the bootstrap list, "host:port,host:port". Empty in dev
	// mode, where the embedded broker is used.
	Brokers []string `yaml:"brokers" env:"BROKERS" envSeparator:","`
	// EmbeddedPort is the embedded broker's port in dev mode (default 9092).
	EmbeddedPort int `yaml:"embedded_port" env:"EMBEDDED_PORT"`
	// EmbeddedRetentionBytes is how many bytes of records the embedded
	// broker (dev mode) keeps per partition, oldest dropped first (default
	// 256 MiB; 0: no cap), so a dev bus left running does not fill the
	// disk; EmbeddedRetention also drops records older than this (default
	// 0: off). Kafka ages a record by its own timestamp, which the bus sets
	// to the source's event time, so records about old events would go at
	// once: turn it on only for sources that send current events. A
	// consumer that stays away longer than what is kept restarts at the
	// oldest record kept. No effect on an external Kafka.
	EmbeddedRetention      time.Duration `yaml:"embedded_retention" env:"EMBEDDED_RETENTION"`
	EmbeddedRetentionBytes int64         `yaml:"embedded_retention_bytes" env:"EMBEDDED_RETENTION_BYTES"`
	// Partitions of each topic the bus creates (default 3).
	Partitions int `yaml:"partitions" env:"PARTITIONS"`
	// Replication factor of topics the bus creates (default 1; use 3 in production).
	Replication int `yaml:"replication" env:"REPLICATION"`
	// Auth has the bus manage the agencies' Kafka users and ACLs: each
	// consumer agency may read only the delivery topics of its stream
	// agreements, each source only its own dead-letter and feedback topics.
	// In dev it also turns on SASL/SCRAM-SHA-512 and ACLs on the embedded
	// broker; in serve the cluster must already require SASL/SCRAM with an
	// ACL authorizer, and User must be one of its super users. Users and
	// ACLs are applied at start and at every agreement change or reload.
	// Credentials are kept in <data_dir>/kafka-credentials.json (0600);
	// agencies' passwords are shown once (log, and the answer of the change
	// that issued them).
	Auth bool `yaml:"auth" env:"AUTH"`
	// User and Password are the bus's SCRAM-SHA-512 login on an external
	// cluster (serve); empty: no authentication.
	User     string `yaml:"user" env:"USER"`
	Password string `yaml:"password" env:"PASSWORD"`
}

// Store says where the bus keeps its state.
type Store struct {
	// Driver is "sqlite" (embedded file) or "postgres".
	Driver string `yaml:"driver" env:"DRIVER"`
	// URL is the PostgreSQL URL (postgres://user:pass@host:5432/db) or the
	// SQLite file path (default <data_dir>/lgsp.db).
	URL string `yaml:"url" env:"URL"`
}

// Audit configures the access log.
type Audit struct {
	// HMACKey keys the hash of personal numbers in the log (at least 16
	// bytes). Empty: a random key is generated once into <data_dir>/audit.key.
	HMACKey string `yaml:"hmac_key" env:"HMAC_KEY"`
	// SigningKey is the hex Ed25519 seed (32 bytes) that signs checkpoints.
	// Empty: one is generated once into <data_dir>/audit-signing.key. The
	// public key is served at /v1/audit/public-key.
	SigningKey string `yaml:"signing_key" env:"SIGNING_KEY"`
	// CitizenTokenKey is the key (at least 32 characters) shared with the
	// e-ID sign-in that issues citizens' tokens for "who looked at my data".
	// Empty: one is generated once into <data_dir>/citizen-token.key.
	CitizenTokenKey string `yaml:"citizen_token_key" env:"CITIZEN_TOKEN_KEY"`
	// Retention is how long entries are kept (e.g. 43800h for five years);
	// 0 keeps them forever. Older entries are deleted at the next checkpoint
	// they are covered by, and the deletion itself is recorded in the log.
	Retention time.Duration `yaml:"retention" env:"RETENTION"`
	// CheckpointEvery is how often a signed checkpoint is appended (default 1m).
	CheckpointEvery time.Duration `yaml:"checkpoint_every" env:"CHECKPOINT_EVERY"`
	// InspectionHiddenFor keeps an auditor's search or export by citizen
	// out of that citizen's "who looked at my data" for this long (default
	// 4320h, 180 days, like the longest investigation agreement), so an
	// inspection does not warn the person inspected; auditors see it at
	// once. 0 shows it to the citizen at once.
	InspectionHiddenFor time.Duration `yaml:"inspection_hidden_for" env:"INSPECTION_HIDDEN_FOR"`
	// CheckpointsTopic is the Kafka topic every signed checkpoint is also
	// published to (default audit.checkpoints; one partition, never
	// deleted), so auditors and witnesses hold them outside the database.
	CheckpointsTopic string `yaml:"checkpoints_topic" env:"CHECKPOINTS_TOPIC"`
	// Witnesses are the base URLs of `lgsp audit witness` servers. At
	// start the bus asks each for its newest cosigned checkpoint and, with
	// the newest on CheckpointsTopic, refuses to start on a store that was
	// cut or forked behind it. An unreachable witness is logged and skipped.
	Witnesses []string `yaml:"witnesses" env:"WITNESSES" envSeparator:","`
	// VerifyEvery is how often the running bus re-verifies the whole log
	// against the newest checkpoint on CheckpointsTopic (default 24h; 0:
	// never). The outcome is the metrics lgsp_audit_verify_ok and
	// lgsp_audit_verify_last_timestamp_seconds, and an ERROR log line
	// when it fails.
	VerifyEvery time.Duration `yaml:"verify_every" env:"VERIFY_EVERY"`
}

// Policies says where the data-sharing agreements are.
type Policies struct {
	// Dir holds agreement YAML files; empty uses the agreements built into
	// the binary (policies/agreements).
	Dir string `yaml:"dir" env:"DIR"`
	// AgenciesFile is the registry of member agencies; empty uses the one
	// built into the binary (policies/agencies/agencies.yaml).
	AgenciesFile string `yaml:"agencies_file" env:"AGENCIES_FILE"`
	// FollowEvery is how often the bus reads Dir and AgenciesFile again and
	// puts a changed, valid set in force (default 2s). Instances that serve
	// together share Dir and AgenciesFile (one volume), so an agreement
	// changed through any instance is in force on all of them within this
	// period. Invalid files are logged and change nothing.
	FollowEvery time.Duration `yaml:"follow_every" env:"FOLLOW_EVERY"`
}

// Pipeline tunes the ingest path.
type Pipeline struct {
	// MaxRecordBytes is the largest row accepted; larger ones are
	// dead-lettered as too_large (default 262144).
	MaxRecordBytes int `yaml:"max_record_bytes" env:"MAX_RECORD_BYTES"`
	// MaxInFlight is how many batches per connector may wait for Kafka (default 8).
	MaxInFlight int `yaml:"max_in_flight" env:"MAX_IN_FLIGHT"`
	// LinkageRefresh is how often the linkage of streamed records without
	// a personal number checks whether to rebuild: its population when the
	// register changed (births, deaths, new names and addresses reach the
	// linkage then; exact look-ups see them at once), its model when
	// enough new records were seen (default 1m, at least 1s). A rebuild at
	// 10 million citizens takes about 9 s of CPU in the background.
	LinkageRefresh time.Duration `yaml:"linkage_refresh" env:"LINKAGE_REFRESH"`
}

// Quality configures the data-quality scorecards (README, "Data quality
// and redrive").
type Quality struct {
	// ReflectWithin is how long a ministry has to carry a change of the
	// population register (a new name, a new residence) in its records:
	// a dataset's current row about that citizen that still does not
	// carry it afterwards becomes an "alive" finding
	// (register_change_not_reflected) and counts against the alive
	// indicator (default 720h, 30 days).
	ReflectWithin time.Duration `yaml:"reflect_within" env:"REFLECT_WITHIN"`
}

// Synthetic configures the generated population and ministry streams.
type Synthetic struct {
	// Enabled runs the five synthetic ministry connectors (always on in dev).
	Enabled bool `yaml:"enabled" env:"ENABLED"`
	// Population is the number of synthetic citizens (default 100000).
	Population int `yaml:"population" env:"POPULATION"`
	// Seed makes the data reproducible (default 1).
	Seed int64 `yaml:"seed" env:"SEED"`
	// RatePerSecond is records per second per ministry (default 20; 0 = as fast as possible).
	RatePerSecond float64 `yaml:"rate_per_second" env:"RATE_PER_SECOND"`
	// Limit stops each ministry after this many records (0 = unbounded).
	Limit uint64 `yaml:"limit" env:"LIMIT"`
}

// Connector is one configured source.
type Connector struct {
	// Name identifies the connector: its position, dead-letter topic
	// (dlq.<name>) and feedback topic; it must be a source that owns datasets
	// in schemas/catalog.yaml (land, tax, insurance, civil_status, civil_servant).
	Name string `yaml:"name"`
	// Adapter is a registered adapter name (postgres-cdc, postgres-poll, files, …).
	Adapter string `yaml:"adapter"`
	// Config is the adapter's own config, checked against its spec at start.
	Config map[string]any `yaml:"config"`
}

// Log configures operator logs.
type Log struct {
	// Level is debug, info, warn or error (default info).
	Level string `yaml:"level" env:"LEVEL"`
}

// Logger is the operator log at Level, as JSON lines on w.
func (l Log) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(l.Level))) // Validate names the bad level; info otherwise
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Defaults returns the configuration of `lgsp dev`.
func Defaults() Config {
	return Config{
		DataDir:   "lgsp-data",
		API:       API{Addr: ":8080"},
		Registry:  Registry{Addr: ":8081"},
		HTTP:      HTTPLimits{HeaderTimeout: 10 * time.Second, BodyTimeout: time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10, UploadsPerCredential: 4, Uploads: 32},
		Kafka:     Kafka{EmbeddedPort: 9092, Partitions: 3, Replication: 1, EmbeddedRetentionBytes: 256 << 20},
		Store:     Store{Driver: "sqlite"},
		Pipeline:  Pipeline{MaxRecordBytes: 256 << 10, MaxInFlight: 8, LinkageRefresh: time.Minute},
		Quality:   Quality{ReflectWithin: 30 * 24 * time.Hour},
		Policies:  Policies{FollowEvery: 2 * time.Second},
		Audit:     Audit{CheckpointEvery: time.Minute, InspectionHiddenFor: 180 * 24 * time.Hour, CheckpointsTopic: "audit.checkpoints", VerifyEvery: 24 * time.Hour},
		Synthetic: Synthetic{Enabled: true, Population: 100_000, Seed: 1, RatePerSecond: 20},
		Log:       Log{Level: "info"},
	}
}

// Load reads the YAML file at path (unknown keys are errors) over the
// defaults, then applies environment variables.
func Load(path string) (Config, error) {
	c := Defaults()
	c.Synthetic.Enabled = false
	c.Store.Driver = "postgres"
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("config: %w", err)
		}
		if err := decodeFile(path, raw, &c); err != nil {
			return c, err
		}
	}
	if err := ApplyEnv(&c); err != nil {
		return c, err
	}
	return c, nil
}

// ApplyEnv overrides c with the LGSP_* environment variables that are set.
func ApplyEnv(c *Config) error {
	all := env.ToMap(os.Environ())
	if err := env.ParseWithOptions(c, env.Options{Environment: all}); err == nil {
		return nil
	}
	// Parse each LGSP_* variable alone to name exactly the ones that are wrong.
	var errs []error
	keys := envKeys()
	for k, v := range all {
		if !strings.HasPrefix(k, "LGSP_") {
			continue
		}
		var probe Config
		if err := env.ParseWithOptions(&probe, env.Options{Environment: map[string]string{k: v}}); err != nil {
			errs = append(errs, envError(k, v, keys[k], err))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

// FieldError names the setting that is wrong, as the file key and the variable.
type FieldError struct {
	Field, Env, Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("config: %s (env %s): %s", e.Field, e.Env, e.Problem)
}

var instanceID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// Validate checks c for the given mode ("dev" or "serve") and returns every
// problem at once.
func (c Config) Validate(mode string) error {
	var errs []error
	bad := func(field, envName, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Env: envName, Problem: fmt.Sprintf(format, args...)})
	}
	checkAddr := func(field, envName, addr string) {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			bad(field, envName, "%q is not host:port (e.g. \":8080\")", addr)
		}
	}
	checkAddr("api.addr", "LGSP_API_ADDR", c.API.Addr)
	checkAddr("registry.addr", "LGSP_REGISTRY_ADDR", c.Registry.Addr)
	if c.DataDir == "" {
		bad("data_dir", "LGSP_DATA_DIR", "must be set")
	}
	if id := c.Instance.ID; id != "" && !instanceID.MatchString(id) {
		bad("instance.id", "LGSP_INSTANCE_ID", "must be 1 to 100 letters, digits, '.', '_' or '-', got %q", id)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"header_timeout", c.HTTP.HeaderTimeout}, {"body_timeout", c.HTTP.BodyTimeout}, {"idle_timeout", c.HTTP.IdleTimeout}} {
		if d.v < 100*time.Millisecond {
			bad("http."+d.key, "LGSP_HTTP_"+strings.ToUpper(d.key), "must be at least 100ms, got %s", d.v)
		}
	}
	if c.HTTP.MaxHeaderBytes < 4096 {
		bad("http.max_header_bytes", "LGSP_HTTP_MAX_HEADER_BYTES", "must be at least 4096, got %d", c.HTTP.MaxHeaderBytes)
	}
	if c.HTTP.UploadsPerCredential < 1 || c.HTTP.Uploads < c.HTTP.UploadsPerCredential {
		bad("http.uploads", "LGSP_HTTP_UPLOADS", "uploads_per_credential must be at least 1 and uploads at least as many, got %d and %d", c.HTTP.UploadsPerCredential, c.HTTP.Uploads)
	}
	if mode == "serve" {
		if len(c.Kafka.Brokers) == 0 {
			bad("kafka.brokers", "LGSP_KAFKA_BROKERS", "must list at least one broker, e.g. kafka:9092")
		}
		for _, b := range c.Kafka.Brokers {
			if _, _, err := net.SplitHostPort(b); err != nil {
				bad("kafka.brokers", "LGSP_KAFKA_BROKERS", "%q is not host:port", b)
			}
		}
	}
	if mode == "serve" && c.Kafka.Auth && (c.Kafka.User == "" || c.Kafka.Password == "") {
		bad("kafka.user", "LGSP_KAFKA_USER", "kafka.auth needs the bus's own SCRAM login (kafka.user and kafka.password), a super user of the cluster")
	}
	if c.Kafka.Partitions < 1 {
		bad("kafka.partitions", "LGSP_KAFKA_PARTITIONS", "must be at least 1, got %d", c.Kafka.Partitions)
	}
	if c.Kafka.EmbeddedRetention < 0 || c.Kafka.EmbeddedRetentionBytes < 0 {
		bad("kafka.embedded_retention", "LGSP_KAFKA_EMBEDDED_RETENTION", "embedded_retention and embedded_retention_bytes must be 0 (keep everything) or positive, got %s and %d", c.Kafka.EmbeddedRetention, c.Kafka.EmbeddedRetentionBytes)
	}
	if c.Kafka.Replication < 1 {
		bad("kafka.replication", "LGSP_KAFKA_REPLICATION", "must be at least 1, got %d", c.Kafka.Replication)
	}
	if c.Kafka.EmbeddedPort < 0 || c.Kafka.EmbeddedPort > 65535 {
		bad("kafka.embedded_port", "LGSP_KAFKA_EMBEDDED_PORT", "must be a port number, got %d", c.Kafka.EmbeddedPort)
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		u, err := url.Parse(c.Store.URL)
		if c.Store.URL == "" || err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			bad("store.url", "LGSP_STORE_URL", "must be a postgres:// URL for the postgres driver")
		}
	default:
		bad("store.driver", "LGSP_STORE_DRIVER", "must be sqlite or postgres, got %q", c.Store.Driver)
	}
	if c.Audit.HMACKey != "" && len(c.Audit.HMACKey) < 16 {
		bad("audit.hmac_key", "LGSP_AUDIT_HMAC_KEY", "must be at least 16 characters")
	}
	if c.Audit.SigningKey != "" {
		if k, err := hex.DecodeString(c.Audit.SigningKey); err != nil || len(k) != 32 {
			bad("audit.signing_key", "LGSP_AUDIT_SIGNING_KEY", "must be 64 hex characters (an Ed25519 seed)")
		}
	}
	if c.API.OperatorToken != "" && len(c.API.OperatorToken) < 32 {
		bad("api.operator_token", "LGSP_API_OPERATOR_TOKEN", "must be at least 32 characters")
	}
	if t := c.API.TLS; t.Enabled {
		if (t.CACert == "") != (t.CAKey == "") || (mode == "serve" && t.CACert == "") {
			bad("api.tls.ca_cert", "LGSP_API_TLS_CA_CERT", "give both ca_cert and ca_key (in serve mode they are required; dev generates them)")
		}
		if (t.Cert == "") != (t.Key == "") {
			bad("api.tls.cert", "LGSP_API_TLS_CERT", "give both cert and key, or neither (the bus CA then issues one)")
		}
		if t.ClientValidity != 0 && t.ClientValidity < time.Hour {
			bad("api.tls.client_validity", "LGSP_API_TLS_CLIENT_VALIDITY", "must be at least 1h, got %s", t.ClientValidity)
		}
	}
	if c.Audit.CitizenTokenKey != "" && len(c.Audit.CitizenTokenKey) < 32 {
		bad("audit.citizen_token_key", "LGSP_AUDIT_CITIZEN_TOKEN_KEY", "must be at least 32 characters")
	}
	if c.Audit.Retention < 0 || (c.Audit.Retention > 0 && c.Audit.Retention < time.Hour) {
		bad("audit.retention", "LGSP_AUDIT_RETENTION", "must be 0 (keep forever) or at least 1h, got %s", c.Audit.Retention)
	}
	if c.Audit.InspectionHiddenFor < 0 {
		bad("audit.inspection_hidden_for", "LGSP_AUDIT_INSPECTION_HIDDEN_FOR", "must be 0 or more, got %s", c.Audit.InspectionHiddenFor)
	}
	if c.Audit.VerifyEvery < 0 {
		bad("audit.verify_every", "LGSP_AUDIT_VERIFY_EVERY", "must be 0 (off) or more, got %s", c.Audit.VerifyEvery)
	}
	if c.Audit.CheckpointsTopic == "" {
		bad("audit.checkpoints_topic", "LGSP_AUDIT_CHECKPOINTS_TOPIC", "must name a topic (default audit.checkpoints)")
	}
	for i, w := range c.Audit.Witnesses {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(fmt.Sprintf("audit.witnesses[%d]", i), "LGSP_AUDIT_WITNESSES", "must be an http(s) URL of a witness, got %q", w)
		}
	}
	if c.Audit.CheckpointEvery < time.Second {
		bad("audit.checkpoint_every", "LGSP_AUDIT_CHECKPOINT_EVERY", "must be at least 1s, got %s", c.Audit.CheckpointEvery)
	}
	if c.Pipeline.MaxRecordBytes < 1024 || c.Pipeline.MaxRecordBytes > 900<<10 {
		bad("pipeline.max_record_bytes", "LGSP_PIPELINE_MAX_RECORD_BYTES", "must be between 1024 and %d (under Kafka's 1 MB message limit), got %d", 900<<10, c.Pipeline.MaxRecordBytes)
	}
	if c.Policies.FollowEvery < 100*time.Millisecond {
		bad("policies.follow_every", "LGSP_POLICIES_FOLLOW_EVERY", "must be at least 100ms, got %s", c.Policies.FollowEvery)
	}
	if c.Pipeline.LinkageRefresh < time.Second {
		bad("pipeline.linkage_refresh", "LGSP_PIPELINE_LINKAGE_REFRESH", "must be at least 1s, got %s", c.Pipeline.LinkageRefresh)
	}
	if c.Quality.ReflectWithin < time.Hour {
		bad("quality.reflect_within", "LGSP_QUALITY_REFLECT_WITHIN", "must be at least 1h (the days a ministry has to carry a register change), got %s", c.Quality.ReflectWithin)
	}
	if c.Pipeline.MaxInFlight < 1 {
		bad("pipeline.max_in_flight", "LGSP_PIPELINE_MAX_IN_FLIGHT", "must be at least 1")
	}
	if c.Synthetic.Enabled && (c.Synthetic.Population < 100 || c.Synthetic.Population > 50_000_000) {
		bad("synthetic.population", "LGSP_SYNTHETIC_POPULATION", "must be between 100 and 50000000, got %d", c.Synthetic.Population)
	}
	if c.Synthetic.RatePerSecond < 0 {
		bad("synthetic.rate_per_second", "LGSP_SYNTHETIC_RATE_PER_SECOND", "must not be negative")
	}
	seen := map[string]bool{}
	for i, cn := range c.Connectors {
		field := fmt.Sprintf("connectors[%d]", i)
		if cn.Name == "" || cn.Adapter == "" {
			bad(field, "-", "needs a name and an adapter")
		}
		if seen[cn.Name] {
			bad(field, "-", "connector name %q is used twice", cn.Name)
		}
		seen[cn.Name] = true
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "LGSP_LOG_LEVEL", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	return errors.Join(errs...)
}
