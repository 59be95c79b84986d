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

	"github.com/hamba/avro/v2"
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
	"github.com/lgsp-bus/lgsp/connectors/contract"
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
	// examples/synthetic), not imported by the bus.
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
	cancelConn    context.CancelFunc
	cancelDlv     context.CancelFunc
	cancelMisc    context.CancelFunc
	cancelPop     context.CancelFunc
	popWG         sync.WaitGroup
	popUpdater    *population.Updater
	connWG        sync.WaitGroup
	dlvWG         sync.WaitGroup
	miscWG        sync.WaitGroup
	closeOnce     sync.Once
	instanceID    string                   // config instance.id, or derived (instanceID)
	signs         atomic.Bool              // this instance holds the checkpoint signer's lease
	members       atomic.Pointer[[]string] // the cluster's live instances (heartbeat)
	spread        spread                   // how many connectors run here, to even them out (leases.go)
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

// Start brings the whole bus up and returns once it is ready. On error every
// part already started is stopped again.
func Start(ctx context.Context, o Options) (b *Bus, err error) {
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
	b = &Bus{opts: o, log: o.Logger, SchemaIDs: map[string]int{}, instanceID: instanceID(c)}
	defer func() {
		if err != nil {
			b.Close(context.Background())
			b = nil
		}
	}()
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return b, fmt.Errorf("data dir %s: %w", c.DataDir, err)
	}
	abs, _ := filepath.Abs(c.DataDir)
	b.addrs.DataDir = abs

	// Catalog, agreements and agencies.
	var set *policies.Set
	if b.Catalog, set, b.agencies, err = loadPolicies(c); err != nil {
		return b, err
	}
	b.Engine = policies.NewEngine(set)
	b.Engine.SetAgencies(b.agencies)
	b.registry.Store(b.agencies)

	// Kafka.
	b.cluster = kafkaio.Cluster{Brokers: c.Kafka.Brokers, User: c.Kafka.User, Password: c.Kafka.Password}
	if o.Mode == Dev {
		var auth *kafkaauth.Config
		if c.Kafka.Auth {
			if auth, err = b.kafkaCredentials(c, set); err != nil {
				return b, err
			}
		}
		b.kafkaDev, err = devkafka.Start(devkafka.Options{DataDir: filepath.Join(c.DataDir, "kafka"), Port: c.Kafka.EmbeddedPort, Partitions: c.Kafka.Partitions, Auth: auth,
			Retention: c.Kafka.EmbeddedRetention, RetentionBytes: c.Kafka.EmbeddedRetentionBytes})
		if err != nil {
			return b, err
		}
		b.cluster = kafkaio.Plain(b.kafkaDev.Addr())
		if auth != nil {
			b.cluster.User, b.cluster.Password = auth.Superuser.User, auth.Superuser.Password
		}
	}
	brokers := b.cluster.Brokers
	b.addrs.Kafka = brokers
	if err := kafkaio.Ping(ctx, b.cluster); err != nil {
		return b, err
	}
	// Store.
	if b.Store, err = OpenStore(ctx, c); err != nil {
		return b, err
	}
	if o.Mode == Serve && c.Kafka.Auth {
		// The credentials live in the shared store, so a credential issued
		// through any instance is the one every instance puts on Kafka.
		if err := b.startKafkaAuth(ctx, c, set); err != nil {
			return b, err
		}
	}

	// Registry.
	b.Reg = registry.New(b.Store)
	if b.SchemaIDs, err = b.Reg.Bootstrap(ctx, b.Catalog); err != nil {
		return b, fmt.Errorf("register shared schemas: %w", err)
	}
	if b.operatorToken, err = OperatorToken(c); err != nil {
		return b, err
	}

	// Citizens' tokens for "who looked at my data".
	if b.citizens, err = CitizenVerifier(c); err != nil {
		return b, err
	}

	// Audit.
	key, err := hmacKey(c)
	if err != nil {
		return b, err
	}
	signer, err := signingKey(c)
	if err != nil {
		return b, err
	}
	secrets, err := clusterSecrets(c, b.operatorToken, key, signer.Seed())
	if err != nil {
		return b, err
	}
	if err := checkClusterKeys(ctx, b.Store, b.instanceID, secrets); err != nil {
		return b, err
	}
	if err := b.openAudit(ctx, c, key, signer); err != nil {
		return b, err
	}
	// Search filters of the log's sealed buckets that are missing (a log
	// written before they existed) are built in the background; searches
	// visit the buckets without one meanwhile.
	b.Store.SealAuditBucketsInBackground(func(err error) {
		b.log.Warn("audit search filters not built; searches by citizen visit every bucket until they are", "error", err)
	})

	// Population index.
	if c.Synthetic.Enabled || (o.Mode == Dev && c.Synthetic.Population > 0) {
		if err := seedPopulation(ctx, b.Store, c.Synthetic, o.Population, b.log); err != nil {
			return b, err
		}
	}
	if b.Index, err = loadIndex(ctx, b.Store); err != nil {
		return b, err
	}
	if b.Linker, err = streamlink.New(ctx, b.Store.ScanCitizens, streamlink.Config{Refresh: c.Pipeline.LinkageRefresh}, b.log); err != nil {
		return b, fmt.Errorf("identity linker: %w", err)
	}
	b.review = review.New(b.Store)

	// Topics.
	sources := Sources(b.Catalog)
	var topics []kafkaio.Topic
	for _, d := range b.Catalog.Datasets() {
		topics = append(topics, kafkaio.Topic{Name: d.Topic(), Partitions: c.Kafka.Partitions})
	}
	for _, s := range sources {
		topics = append(topics, kafkaio.Topic{Name: contract.DeadLetterTopic(s), Partitions: 1}, kafkaio.Topic{Name: contract.FeedbackTopic(s), Partitions: 1})
	}
	for _, a := range b.Engine.Agreements() {
		if a.Mode == policies.ModeStream {
			topics = append(topics, kafkaio.Topic{Name: contract.DeliveryTopic(a.Consumer, a.Dataset), Partitions: c.Kafka.Partitions})
		}
	}
	if err := kafkaio.EnsureTopics(ctx, b.cluster, topics, c.Kafka.Replication); err != nil {
		return b, err
	}

	// Pipeline.
	b.Metrics = metrics.New(func() float64 {
		if b.deliverer == nil {
			return 0
		}
		return float64(b.deliverer.Lag())
	})
	var dss []pipeline.DatasetSchema
	for _, d := range b.Catalog.Datasets() {
		ds := pipeline.DatasetSchema{Dataset: d, SchemaID: b.SchemaIDs[d.Name]}
		if d.Format == schemas.FormatAvro {
			var s avro.Schema
			if s, err = b.Reg.LookupAvro(ctx, ds.SchemaID); err != nil {
				return b, err
			}
			ds.Envelope = s
		}
		dss = append(dss, ds)
	}
	b.pubWriter = kafkaio.NewWriter(b.cluster, kafkaio.WriterOptions{Async: true, Completion: pipeline.Completion})
	idx := b.Index
	if b.Quality, err = b.newQuality(c.Quality); err != nil {
		return b, err
	}
	b.Pipe, err = pipeline.New(pipeline.Config{
		Datasets:  dss,
		Reconcile: reconciler(idx, b.Linker, b.Audit.CitizenKey),
		Review:    queueReviews(b.review),
		Observer:  b.Quality.Observer(b.Metrics),
		MaxRecord: c.Pipeline.MaxRecordBytes,
		Logger:    b.log,
	}, b.pubWriter)
	if err != nil {
		return b, err
	}

	// Delivery.
	b.dlvWriter = kafkaio.NewWriter(b.cluster, kafkaio.WriterOptions{})
	dlv := deliver.New(deliver.Config{Cluster: b.cluster, Catalog: b.Catalog, Engine: b.Engine, Schemas: b.Reg, Audit: b.Audit, Writer: b.dlvWriter, Observer: b.Metrics, Logger: b.log, State: b.Store})
	b.deliverer = dlv
	if !o.NoDelivery {
		dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		b.cancelDlv = cancel
		b.dlvWG.Add(1)
		go func() { defer b.dlvWG.Done(); _ = dlv.Run(dctx) }()
	}

	b.Metrics.WatchConnectors(b.Connectors)
	b.registerRoleMetrics(b.Metrics.Registry)

	// The population change stream keeps the register and index current.
	b.popUpdater = population.New(b.cluster, b.instanceID, b.Store, b.Quality.WatchRegister(streamlink.Notifying(b.Index, b.Linker)), b.log)
	pctx, cancelPop := context.WithCancel(context.WithoutCancel(ctx))
	b.cancelPop = cancelPop
	b.popWG.Add(1)
	go func() { defer b.popWG.Done(); b.popUpdater.Run(pctx) }()
	b.popWG.Add(1)
	go func() { defer b.popWG.Done(); b.Linker.Run(pctx) }()

	// HTTP.
	if err := b.serveHTTP(sources); err != nil {
		return b, err
	}

	// Connectors.
	cctx, cancelConn := context.WithCancel(context.WithoutCancel(ctx))
	b.cancelConn = cancelConn
	if c.Synthetic.Enabled {
		if o.DevConnectors == nil {
			return b, errors.New("synthetic.enabled: this program has no synthetic sources plugged in (lgsp dev and lgsp serve have)")
		}
		for _, cc := range o.DevConnectors(sources) {
			if err := b.startConfigured(cctx, cc, sources); err != nil {
				return b, fmt.Errorf("synthetic connector %s: %w", cc.Name, err)
			}
		}
	}
	for i, cc := range c.Connectors {
		if err := b.startConfigured(cctx, cc, sources); err != nil {
			return b, fmt.Errorf("config: connectors[%d] (%s): %w", i, cc.Name, err)
		}
	}

	mctx, cancelMisc := context.WithCancel(context.WithoutCancel(ctx))
	b.cancelMisc = cancelMisc
	b.miscWG.Add(1)
	go func() { defer b.miscWG.Done(); b.checkpointLoop(mctx) }()
	b.miscWG.Add(1)
	go func() { defer b.miscWG.Done(); b.followPolicies(mctx) }()
	b.miscWG.Add(1)
	go func() { defer b.miscWG.Done(); b.heartbeat(mctx) }()
	b.miscWG.Add(1)
	go func() { defer b.miscWG.Done(); b.Quality.Run(mctx) }()
	if o.Status != nil {
		b.printBanner()
		b.miscWG.Add(1)
		go func() { defer b.miscWG.Done(); b.statusLoop(mctx) }()
	}
	b.log.Info("bus ready", "mode", o.Mode, "api", b.addrs.API, "registry", b.addrs.Registry, "kafka", strings.Join(brokers, ","))
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
func (b *Bus) startConfigured(ctx context.Context, cc config.Connector, sources []string) error {
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
	b.run(ctx, cc.Name, func() (connectors.Source, error) { return spec.Build(env, cc.Config) }, connectors.HashConfig(cfg))
	return nil
}

// run supervises a source under the connector runtime, feeding the pipeline.
func (b *Bus) run(ctx context.Context, name string, newSource func() (connectors.Source, error), configHash []byte) {
	b.connWG.Add(1)
	go func() { defer b.connWG.Done(); b.runLeased(ctx, name, newSource, configHash) }()
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
		"instance": b.instanceID, "connector_owners": b.leases(ctx), "signs_checkpoints": b.signs.Load()}
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

// Close stops the bus in the order that loses nothing: connectors first
// (they drain their in-flight batches and save positions), then the
// publisher, then delivery, the HTTP servers, the store and the broker.
func (b *Bus) Close(ctx context.Context) {
	b.closeOnce.Do(func() {
		if b.cancelConn != nil {
			b.cancelConn()
			b.connWG.Wait()
		}
		if b.pubWriter != nil {
			b.closeWithin("publisher", b.pubWriter, writerCloseWait)
		}
		for _, s := range b.servers {
			sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = s.Shutdown(sctx)
			cancel()
		}
		if b.cancelDlv != nil {
			b.cancelDlv()
			b.dlvWG.Wait()
		}
		if b.deliverer != nil {
			_ = b.deliverer.Close()
		}
		if b.dlvWriter != nil {
			b.closeWithin("delivery writer", b.dlvWriter, writerCloseWait)
		}
		if b.cancelMisc != nil {
			b.cancelMisc()
			b.miscWG.Wait()
		}
		if b.cancelPop != nil {
			b.cancelPop()
			b.popWG.Wait()
			_ = b.popUpdater.Close()
		}
		if b.Audit != nil {
			// A final checkpoint covers everything delivered in this run.
			if _, err := b.Audit.Checkpoint(ctx); err != nil {
				b.log.Error("final audit checkpoint failed", "error", err)
			}
		}
		if b.auditPub != nil {
			_ = b.auditPub.Close()
		}
		if b.Store != nil {
			_ = b.Store.Close()
		}
		if b.kafkaDev != nil {
			b.kafkaDev.Close()
		}
	})
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
		b.miscWG.Add(1)
		go func() { defer b.miscWG.Done(); b.verifyLoop(ctx, every) }()
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
