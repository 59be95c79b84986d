// Package runtime assembles the bus from its parts for both ways to run:
// `lgsp dev` (embedded Kafka-protocol broker and SQLite, synthetic
// population and ministry streams) and `lgsp serve` (external Kafka and
// PostgreSQL). Everything above the Kafka address and the store is the same
// code in both modes.
package runtime

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/broker/api"
	"github.com/lgsp-bus/lgsp/broker/audit"
	"github.com/lgsp-bus/lgsp/broker/audit/witness"
	"github.com/lgsp-bus/lgsp/broker/citizenauth"
	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/console"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/deliver"
	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/httpguard"
	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/internal/lifecycle"
	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/pki"
	"github.com/lgsp-bus/lgsp/broker/population"
	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/registry"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/pgstore"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
	"github.com/lgsp-bus/lgsp/broker/streamlink"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/connectors/atomicfile"
	connrt "github.com/lgsp-bus/lgsp/connectors/runtime"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

// Mode is how the bus runs.
type Mode string

const (
	Dev   Mode = "dev"
	Serve Mode = "serve"
)

// Options for Start.
type Options struct {
	Mode   Mode
	Config config.Config
	Logger *slog.Logger
	// Status receives the "ready" banner and the live status line; nil: none.
	Status      io.Writer
	StatusEvery time.Duration
	// NoDelivery leaves the delivery stage off (benchmarks of the ingest path).
	NoDelivery bool

	// The synthetic world is plugged in by the binary (lgsp dev wires
	// examples/synthetic/plug, over connectors/synthetic), not imported by the bus.
	//
	// Population returns citizen i of the synthetic register of a seed,
	// with its residence; Start writes citizens 0…synthetic.population-1
	// into a register that has fewer (dev mode, or synthetic.enabled). A
	// config that asks for a synthetic population without it fails.
	Population func(seed int64, i int) store.Citizen
	// DevConnectors returns, for the sources of the catalog, the connectors
	// that synthetic.enabled runs besides config.connectors; each is built
	// like a configured one, by its adapter's registered name and config map.
	DevConnectors func(sources []string) []config.Connector
}

// Addrs says where everything listens.
type Addrs struct {
	API, Registry string
	Kafka         []string
	DataDir       string
}

// Bus is a running bus.
type Bus struct {
	opts    Options
	log     *slog.Logger
	addrs   Addrs
	Catalog *schemas.Catalog
	Store   store.Store
	Reg     *registry.Registry
	Engine  *policies.Engine
	Audit   *audit.Log
	Metrics *metrics.Metrics
	Pipe    *pipeline.Pipeline
	Quality *quality.Quality // data-quality scorecards and redrive (quality.go)
	Index   *identity.Index
	// Linker links streamed records without a usable personal number.
	Linker *streamlink.Linker
	review *review.Queue
	// SchemaIDs maps dataset → envelope schema id.
	SchemaIDs map[string]int

	citizens *citizenauth.Verifier
	agencies *policies.Agencies // the registry loaded at start
	// registry is the agency registry in force (Agencies); agreements and
	// registry change together under policyMu (agreements.go).
	registry      atomic.Pointer[policies.Agencies]
	policyMu      sync.Mutex
	kafkaAuth     *kafkaAuth // nil: kafka.auth off
	operatorToken string
	ca            *pki.CA     // the bus CA, when api.tls is enabled
	apiTLS        *tls.Config // the API listener's, when api.tls is enabled
	kafkaDev      *devkafka.Broker
	cluster       kafkaio.Cluster
	auditPub      *witness.Publisher // the checkpoints topic (auditext.go)
	pubWriter     *kafka.Writer
	dlvWriter     *kafka.Writer
	deliverer     *deliver.Deliverer
	connMu        sync.Mutex // conns grows while the API already serves
	conns         []*connrt.Connector
	servers       []*http.Server
	popUpdater    *population.Updater
	sources       []string // the catalog's sources (Sources)
	// life starts the components and stops them in reverse (components.go);
	// the workers are the goroutines of the components that have several.
	life           lifecycle.Runner
	connWorkers    *lifecycle.Workers // one per connector (leases.go)
	dlvWorkers     *lifecycle.Workers
	auditLoops     *lifecycle.Workers // checkpoints and the scheduled verification
	popWorkers     *lifecycle.Workers // the population follower and the linker's refresh
	qualityWorkers *lifecycle.Workers
	statusWorkers  *lifecycle.Workers
	instanceID     string                   // config instance.id, or derived (instanceID)
	signs          atomic.Bool              // this instance holds the checkpoint signer's lease
	members        atomic.Pointer[[]string] // the cluster's live instances (heartbeat)
	spread         spread                   // how many connectors run here, to even them out (leases.go)
}

// instanceID is the configured instance id, or one derived from the host
// name and the data dir, stable across restarts of the same process.
func instanceID(c config.Config) string {
	if c.Instance.ID != "" {
		return c.Instance.ID
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "lgsp"
	}
	abs, _ := filepath.Abs(c.DataDir)
	sum := sha256.Sum256([]byte(abs))
	return host + "-" + hex.EncodeToString(sum[:4])
}

// Sources are the five ministries; each pushes its datasets and has its own
// dead-letter and feedback topics.
func Sources(cat *schemas.Catalog) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range cat.Datasets() {
		if !seen[d.Owner] {
			seen[d.Owner] = true
			out = append(out, d.Owner)
		}
	}
	sort.Strings(out)
	return out
}

// Start brings the whole bus up and returns once it is ready: it starts
// the bus's components in order (components.go). On error every component
// already started is stopped again, and the error names the one that
// failed.
func Start(ctx context.Context, o Options) (*Bus, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
	if o.StatusEvery == 0 {
		o.StatusEvery = 5 * time.Second
	}
	c := o.Config
	if err := c.Validate(string(o.Mode)); err != nil {
		return nil, err
	}
	b := &Bus{opts: o, log: o.Logger, SchemaIDs: map[string]int{}, instanceID: instanceID(c)}
	if err := b.life.Start(ctx, b.components()...); err != nil {
		return nil, err
	}
	b.log.Info("bus ready", "mode", o.Mode, "api", b.addrs.API, "registry", b.addrs.Registry, "kafka", strings.Join(b.addrs.Kafka, ","))
	return b, nil
}

// Cluster is how the bus reaches Kafka (with its superuser login when the
// embedded broker requires authentication).
func (b *Bus) Cluster() kafkaio.Cluster { return b.cluster }

// loadPolicies reads the catalog, the agreements and the agency registry
// and checks that every agreement names a registered agency.
func loadPolicies(c config.Config) (*schemas.Catalog, *policies.Set, *policies.Agencies, error) {
	cat, err := schemas.Load()
	if err != nil {
		return nil, nil, nil, err
	}
	var set *policies.Set
	if c.Policies.Dir != "" {
		set, err = policies.LoadDir(c.Policies.Dir)
	} else {
		set, err = policies.LoadEmbedded()
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("agreements: %w", err)
	}
	var ags *policies.Agencies
	if c.Policies.AgenciesFile != "" {
		ags, err = policies.LoadAgenciesFile(c.Policies.AgenciesFile)
	} else {
		ags, err = policies.LoadEmbeddedAgencies()
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("agencies: %w", err)
	}
	if err := ags.CheckConsumers(set); err != nil {
		return nil, nil, nil, fmt.Errorf("agreements: %w", err)
	}
	if err := ags.CheckSources(Sources(cat)); err != nil {
		return nil, nil, nil, fmt.Errorf("agencies: %w", err)
	}
	return cat, set, ags, nil
}

// kafkaCredentials prepares the embedded broker's users and ACLs from the
// agency registry and the stream agreements (see agreements.go).
func (b *Bus) kafkaCredentials(c config.Config, set *policies.Set) (*kafkaauth.Config, error) {
	if err := b.openKafkaAuth(c, kafkaauth.Credential{}, nil); err != nil {
		return nil, err
	}
	cfg, _, err := b.kafkaConfig(set, b.Agencies())
	return cfg, err
}

// Addrs says where the bus listens.
func (b *Bus) Addrs() Addrs { return b.addrs }

// Connectors returns the states of every connector.
func (b *Bus) Connectors() []connrt.State {
	b.connMu.Lock()
	conns := slices.Clone(b.conns)
	b.connMu.Unlock()
	out := make([]connrt.State, len(conns))
	for i, c := range conns {
		out[i] = c.State()
	}
	return out
}

func (b *Bus) connector(name string) *connrt.Connector {
	b.connMu.Lock()
	defer b.connMu.Unlock()
	for _, c := range b.conns {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// startConfigured runs a connector from the config's connectors list. Its
// config is decoded and validated now, so a bad one stops the start.
func (b *Bus) startConfigured(cc config.Connector, sources []string) error {
	if !slices.Contains(sources, cc.Name) {
		return fmt.Errorf("name must be one of the sources %v (its topics and datasets follow from it)", sources)
	}
	spec, ok := connectors.Lookup(cc.Adapter)
	if !ok {
		return fmt.Errorf("no adapter %q ('lgsp connector list' shows them)", cc.Adapter)
	}
	cfg, err := spec.DecodeConfig(cc.Config)
	if err != nil {
		return err
	}
	// The adapter logs through the bus's log and may draw progress bars on
	// the operator's terminal; the hash lets the runtime call OnUpdate.
	env := connectors.NewEnv(cc.Name, b.log)
	env.Progress = os.Stderr
	b.run(cc.Name, func() (connectors.Source, error) { return spec.Build(env, cc.Config) }, connectors.HashConfig(cfg))
	return nil
}

// run supervises a source under the connector runtime, feeding the
// pipeline, until the connectors component is closed.
func (b *Bus) run(name string, newSource func() (connectors.Source, error), configHash []byte) {
	b.connWorkers.Go(func(ctx context.Context) { b.runLeased(ctx, name, newSource, configHash) })
}

// checkpoints adapts the store to the connector runtime.
type checkpoints struct{ st store.PositionStore }

func (c checkpoints) Load(ctx context.Context, name string) (connectors.Position, bool, error) {
	p, err := c.st.GetPosition(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	return p, err == nil, err
}

func (c checkpoints) Save(ctx context.Context, name string, pos connectors.Position) error {
	return c.st.PutPosition(ctx, name, pos)
}

func verdict(r identity.Result) pipeline.Verdict {
	parts := make([]string, len(r.Fields))
	for i, f := range r.Fields {
		parts[i] = string(f.Field) + ":" + string(f.Kind)
	}
	return pipeline.Verdict{Outcome: string(r.Outcome), Fields: strings.Join(parts, ",")}
}

func (b *Bus) serveHTTP(sources []string) error {
	c := b.opts.Config
	var err error
	if b.ca, b.apiTLS, err = apiTLS(b.opts.Mode, c); err != nil {
		return err
	}
	known := map[string]bool{}
	for _, s := range sources {
		known[s] = true
	}
	tokens := credentials.New(b.Store)
	schemas := b.registryHandler() // its own listener, and the console's schema pages
	con, err := console.New(console.Deps{Schemas: schemas, OperatorToken: b.operatorToken, CitizenToken: b.citizens.Verify, Registry: b.Agencies,
		AgencyToken: func(ctx context.Context, t string) (string, error) {
			ag, _, err := tokens.Verify(ctx, t)
			return ag, err
		},
		AuditSize: b.Audit.Size, Metrics: b.Metrics.Registry, TLS: b.apiTLS != nil, Logger: b.log})
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	apiSrv := api.New(api.Deps{Console: con,
		Catalog: b.Catalog, SchemaIDs: b.SchemaIDs, Ingest: b.Pipe, Sources: known,
		Connectors: api.ConnectorFuncs{StatesFunc: b.Connectors, ResetFunc: func(ctx context.Context, name string, pos []byte) error {
			if c := b.connector(name); c != nil {
				return c.Reset(ctx, pos)
			}
			return api.ErrNoConnector
		}},
		Engine: b.Engine, Audit: b.Store, AuditLog: b.Audit, CitizenKeys: b.Audit,
		InspectionHiddenFor: c.Audit.InspectionHiddenFor,
		CitizenTokens:       b.citizens,
		Tokens:              tokens,
		CA:                  b.ca,
		OperatorToken:       b.operatorToken,
		Agreements:          api.AgreementFuncs{ReloadFunc: b.reloadAgreements, PutFunc: b.putAgreement, DeleteFunc: b.deleteAgreement},
		AgreementsDir:       c.Policies.Dir,
		KafkaUsers:          api.KafkaPasswordFunc(b.rotateKafkaPassword),
		Registry:            b,
		State:               b.Store,
		Review:              b.review,
		Quality:             b.Quality,
		Logger:              b.log,
		Idempotency:         b.Store,
		Instance:            api.InstanceFuncs{StatusFunc: func() any { return b.status() }, RoleFunc: func() any { return b.role() }},
		Metrics:             b.Metrics.Registry,
		Ready: map[string]func(context.Context) error{
			"kafka": func(ctx context.Context) error { return kafkaio.Ping(ctx, b.cluster) },
			"store": b.Store.Ping,
			"registry": func(ctx context.Context) error {
				_, err := b.Reg.Subjects(ctx)
				return err
			},
		},
	})
	con.SetAPI(apiSrv)
	for _, l := range []struct {
		addr   string
		h      http.Handler
		dst    *string
		tls    *tls.Config
		refuse httpguard.Refuse
	}{{c.API.Addr, apiSrv, &b.addrs.API, b.apiTLS, refuseAPI}, {c.Registry.Addr, schemas, &b.addrs.Registry, nil, refuseRegistry}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("listen on %s (in use? set another address): %w", l.addr, err)
		}
		*l.dst = ln.Addr().String()
		if l.tls != nil {
			ln = tls.NewListener(ln, l.tls)
		}
		srv := httpguard.Server(l.h, httpLimits(c.HTTP), l.refuse, b.log)
		b.servers = append(b.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.log.Error("http server stopped", "addr", ln.Addr().String(), "error", err)
			}
		}()
	}
	return nil
}

func httpLimits(h config.HTTPLimits) httpguard.Limits {
	return httpguard.Limits{HeaderTimeout: h.HeaderTimeout, BodyTimeout: h.BodyTimeout, IdleTimeout: h.IdleTimeout,
		MaxHeaderBytes: h.MaxHeaderBytes, UploadsPerCredential: h.UploadsPerCredential, Uploads: h.Uploads}
}

// refuseAPI and refuseRegistry answer an upload over the caps in each
// listener's own error format.
func refuseAPI(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Problem{Error: msg})
}

func refuseRegistry(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error_code": status, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// registryHandler is the schema registry's HTTP handler, authenticated with
// the bus's own credentials (the operator token, agencies' API tokens) and
// auditing every change in the bus's audit log.
func (b *Bus) registryHandler() http.Handler {
	auth := registry.TokenAuth{
		OperatorToken: b.operatorToken,
		Verify:        credentials.New(b.Store).Verify,
		Agency:        func(id string) (policies.Agency, bool) { return b.Agencies().Get(id) },
	}
	return b.Reg.Handler(registry.WithAuth(auth, b.Audit), registry.WithAnonymousRead(b.opts.Config.Registry.AnonymousRead),
		registry.WithMetrics(b.Metrics.Registry))
}

func (b *Bus) status() map[string]any {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s := b.Metrics.Snapshot()
	return map[string]any{"records_in": s.In, "published": s.Published, "dead_lettered": s.DeadLettered, "delivered": s.Delivered,
		"identity": s.Outcomes, "connectors": b.Connectors(), "population": b.Index.Len(), "linkage": b.Linker.State(),
		"instance": b.instanceID, "connector_owners": b.leases(ctx), "signs_checkpoints": b.signs.Load(),
		"flow": b.flowStatus()}
}

func (b *Bus) printBanner() {
	a := b.addrs
	fmt.Fprintf(b.opts.Status, `LGSP bus ready (%s mode)
  REST API         %s://%s   (health /healthz, ready /readyz, metrics /metrics, OpenAPI /openapi.json)
  schema registry  http://%s   (Confluent REST)
  Kafka bootstrap  %s
  data dir         %s
  operator token   %s   (every API call needs a token: README "REST API")
  population       %d citizens in the index
  agreements       %d in force
Press Ctrl-C to stop; starting again on the same data dir resumes where it stopped.
`, b.opts.Mode, b.apiScheme(), hostPort(a.API), hostPort(a.Registry), strings.Join(a.Kafka, ","), a.DataDir, b.operatorTokenHint(), b.Index.Len(), b.Engine.Current().Len())
}

// hostPort turns "[::]:8080" into "localhost:8080" for a clickable URL.
func hostPort(addr string) string {
	h, p, err := net.SplitHostPort(addr)
	if err != nil || h == "" || h == "::" || h == "0.0.0.0" {
		return "localhost:" + p
	}
	return addr
}

func (b *Bus) statusLoop(ctx context.Context) {
	t := time.NewTicker(b.opts.StatusEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprintf(b.opts.Status, "%s %s lag=%d\n", time.Now().Format("15:04:05"), b.Metrics.Snapshot().StatusLine(), b.deliverer.Lag())
		}
	}
}

// writerCloseWait bounds how long Close waits for a Kafka writer's last
// batches. What it gives up on loses nothing: the connectors' positions and
// the delivery offsets move only after Kafka acknowledged, so those records
// are sent again after the restart.
const writerCloseWait = 15 * time.Second

// closeWithin closes c, waiting at most d: a writer whose last produce
// never returns must not keep the process from stopping.
func (b *Bus) closeWithin(what string, c io.Closer, d time.Duration) {
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Close() }()
	select {
	case <-done:
	case <-time.After(d):
		b.log.Warn("stopping without waiting longer for the Kafka writer; its unacknowledged records are sent again after the restart", "writer", what, "waited", d)
	}
}

// Close stops the bus: its components in the reverse of their start order
// (components.go), which loses nothing: connectors first (they drain their
// in-flight batches and save positions), the API, the publisher, delivery,
// the background loops (the membership released last of them), the
// population follower and the quality counters, then the final audit
// checkpoint, the store and the broker. Calls after the first do nothing.
func (b *Bus) Close(ctx context.Context) {
	if err := b.life.Close(ctx); err != nil {
		b.log.Warn("the bus stopped, but not every part of it cleanly", "error", err)
	}
}

// OpenStore opens the configured store: SQLite in the data dir (or at
// store.url) or PostgreSQL. Migrations run on open.
func OpenStore(ctx context.Context, c config.Config) (store.Store, error) {
	var st store.Store
	var err error
	switch c.Store.Driver {
	case "sqlite":
		path := c.Store.URL
		if path == "" {
			path = filepath.Join(c.DataDir, "lgsp.db")
		}
		st, err = sqlitestore.Open(ctx, path)
	case "postgres":
		st, err = pgstore.Open(ctx, c.Store.URL)
	default:
		err = fmt.Errorf("unknown driver %q", c.Store.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return st, nil
}

// secretHex returns the hex secret kept in <data dir>/file, generating
// size random bytes into it (0600) on first use.
func secretHex(dataDir, file string, size int) (string, error) {
	path := filepath.Join(dataDir, file)
	raw, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(raw)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	k := make([]byte, size)
	if _, err := rand.Read(k); err != nil {
		return "", err
	}
	h := hex.EncodeToString(k)
	// atomically: a crash mid-write must not leave a truncated key that the
	// next start would read as the secret
	if err := atomicfile.WriteFile(path, []byte(h+"\n"), 0o600); err != nil {
		return "", err
	}
	return h, nil
}

// OperatorToken is the configured operator token or the one generated into
// the data dir (0600).
func OperatorToken(c config.Config) (string, error) {
	if c.API.OperatorToken != "" {
		return c.API.OperatorToken, nil
	}
	return secretHex(c.DataDir, "operator.token", 32)
}

// CitizenVerifier checks citizens' tokens with the configured key or the one
// generated into the data dir.
func CitizenVerifier(c config.Config) (*citizenauth.Verifier, error) {
	key := c.Audit.CitizenTokenKey
	if key == "" {
		var err error
		if key, err = secretHex(c.DataDir, "citizen-token.key", 32); err != nil {
			return nil, err
		}
	}
	return citizenauth.New([]byte(key))
}

// AuditPublicKey is the checkpoint verification key of this configuration.
func AuditPublicKey(c config.Config) (ed25519.PublicKey, error) {
	k, err := signingKey(c)
	if err != nil {
		return nil, err
	}
	return k.Public().(ed25519.PublicKey), nil
}

// checkpointLoop appends a signed checkpoint every Audit.CheckpointEvery.
// It also starts the scheduled full verification (Audit.VerifyEvery).
func (b *Bus) checkpointLoop(ctx context.Context) {
	if every := b.opts.Config.Audit.VerifyEvery; every > 0 {
		b.auditLoops.Go(func(ctx context.Context) { b.verifyLoop(ctx, every) })
	}
	t := time.NewTicker(b.opts.Config.Audit.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !b.holdsSignerLease(ctx) {
				continue // another instance signs the checkpoints and applies retention
			}
			if _, err := b.Audit.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				b.log.Error("audit checkpoint failed", "error", err)
			}
			if r := b.opts.Config.Audit.Retention; r > 0 {
				res, err := b.Audit.Prune(ctx, time.Now().Add(-r))
				if err != nil && ctx.Err() == nil {
					b.log.Error("audit retention failed; nothing was deleted", "error", err)
				} else if res.Deleted > 0 {
					b.log.Info("audit retention: old entries deleted and the deletion recorded", "entries", res.Deleted)
				}
			}
		}
	}
}

// signerLease names the lease of the instance that signs checkpoints and
// applies retention; "#" keeps it out of the connector view.
const signerLease = "#audit-signer"

// holdsSignerLease reports whether this instance signs the audit log's
// checkpoints now: one instance at a time, taken over by another when its
// holder stops renewing (two checkpoint periods).
func (b *Bus) holdsSignerLease(ctx context.Context) bool {
	ttl := 2*b.opts.Config.Audit.CheckpointEvery + leaseTTL
	l, err := b.Store.AcquireLease(ctx, signerLease, b.instanceID, time.Now(), ttl)
	held := err == nil && l.Owner == b.instanceID
	if err != nil && ctx.Err() == nil {
		b.log.Warn("audit signer lease not checked; no checkpoint this period", "error", err)
	}
	b.signs.Store(held)
	return held
}

// SigningKeyPath is where the generated checkpoint signing key is kept.
func SigningKeyPath(dataDir string) string { return filepath.Join(dataDir, "audit-signing.key") }

// signingKey returns the configured Ed25519 key or the one generated into the data dir.
func signingKey(c config.Config) (ed25519.PrivateKey, error) {
	seedHex := c.Audit.SigningKey
	if seedHex == "" {
		var err error
		if seedHex, err = secretHex(c.DataDir, filepath.Base(SigningKeyPath(c.DataDir)), ed25519.SeedSize); err != nil {
			return nil, err
		}
	}
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("audit signing key must be 64 hex characters (an Ed25519 seed)")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// hmacKey returns the configured audit key or the one generated into the data dir.
func hmacKey(c config.Config) ([]byte, error) {
	if c.Audit.HMACKey != "" {
		return []byte(c.Audit.HMACKey), nil
	}
	h, err := secretHex(c.DataDir, "audit.key", 32)
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(h)
}

// seedPopulation writes the synthetic population into the store once,
// each citizen with the registered residence of the synthetic geography
// (the address lgsp gen's extracts are corrupted from).
func seedPopulation(ctx context.Context, st store.Store, sc config.Synthetic, citizen func(seed int64, i int) store.Citizen, log *slog.Logger) error {
	if citizen == nil {
		return errors.New("synthetic.population: this program has no synthetic population plugged in (lgsp dev and lgsp serve have); set it to 0")
	}
	n, err := st.CountCitizens(ctx)
	if err != nil {
		return fmt.Errorf("population: %w", err)
	}
	if n >= int64(sc.Population) {
		return nil
	}
	log.Info("generating synthetic population", "citizens", sc.Population)
	const chunk = 10_000
	batch := make([]store.Citizen, 0, chunk)
	for i := 0; i < sc.Population; i++ {
		batch = append(batch, citizen(sc.Seed, i))
		if len(batch) == chunk || i == sc.Population-1 {
			if err := st.PutCitizens(ctx, batch); err != nil {
				return fmt.Errorf("population: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

func loadIndex(ctx context.Context, st store.Store) (*identity.Index, error) {
	idx, skipped, err := identity.LoadIndex(ctx, st, nil)
	if err != nil {
		return nil, fmt.Errorf("population index: %w", err)
	}
	if skipped > 0 {
		slog.Warn("population rows skipped: malformed personal number", "rows", skipped)
	}
	return idx, nil
}
