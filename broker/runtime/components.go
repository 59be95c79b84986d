package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/lgsp-bus/lgsp/broker/citizenauth"
	"github.com/lgsp-bus/lgsp/broker/deliver"
	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/internal/lifecycle"
	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/broker/pipeline"
	"github.com/lgsp-bus/lgsp/broker/population"
	"github.com/lgsp-bus/lgsp/broker/registry"
	"github.com/lgsp-bus/lgsp/broker/review"
	"github.com/lgsp-bus/lgsp/broker/streamlink"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
)

// components are the parts of the bus in the order they start; Close
// stops them in reverse. The order is what makes a stop lose nothing, so
// a part comes after everything it uses and, where it matters, after what
// must outlive it:
//
//   - connectors stop first (they drain in-flight batches and save their
//     positions only after Kafka acknowledged), and release their leases;
//   - the API stops before the publisher, so a push in flight is
//     acknowledged; the publisher's writer is then flushed (at most
//     writerCloseWait);
//   - the cluster membership is released after the connectors' leases;
//   - the quality counters stop after the publisher, so batches
//     acknowledged while it flushes are counted and stored;
//   - the final audit checkpoint is signed after everything that writes
//     to the log has stopped, then the store and the broker close.
func (b *Bus) components() []lifecycle.Part {
	part := func(name string, start, stop func(context.Context) error) lifecycle.Part {
		return lifecycle.Part{Name: name, Component: lifecycle.Func{OnStart: start, OnClose: stop}}
	}
	return []lifecycle.Part{
		part("catalog and agreements", b.loadCatalog, nil),
		part("kafka", b.startKafka, b.closeKafka),
		part("store", b.openStore, b.closeStore),
		part("kafka users and ACLs", b.startKafkaUsers, nil),
		part("schema registry", b.startRegistry, nil),
		part("tokens", b.loadTokens, nil),
		part("audit log", b.openAuditLog, b.closeAuditLog),
		part("population index", b.loadPopulation, nil),
		part("topics", b.ensureTopics, nil),
		part("metrics", b.startMetrics, nil),
		part("data quality", b.startQuality, func(ctx context.Context) error { return b.qualityWorkers.Stop(ctx) }),
		part("population follower", b.startPopulationFollower, b.closePopulationFollower),
		part("audit checkpoints", b.startCheckpoints, func(ctx context.Context) error { return b.auditLoops.Stop(ctx) }),
		{Name: "agreements follower", Component: lifecycle.Loops(b.followPolicies)},
		{Name: "cluster membership", Component: lifecycle.Loops(b.heartbeat)},
		{Name: "delivery lag", Component: lifecycle.Loops(b.measureFlow)}, // flow.go
		part("delivery", b.startDelivery, b.closeDelivery),
		part("pipeline", b.startPipeline, b.closePipeline),
		part("api", func(context.Context) error { return b.serveHTTP(b.sources) }, b.closeHTTP),
		part("connectors", b.startConnectors, func(ctx context.Context) error { return b.connWorkers.Stop(ctx) }),
		part("status", b.startStatus, func(ctx context.Context) error { return b.statusWorkers.Stop(ctx) }),
	}
}

// loadCatalog makes the data dir and loads the catalog, the agreements
// and the agency registry.
func (b *Bus) loadCatalog(context.Context) error {
	c := b.opts.Config
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return fmt.Errorf("data dir %s: %w", c.DataDir, err)
	}
	abs, _ := filepath.Abs(c.DataDir)
	b.addrs.DataDir = abs
	cat, set, ags, err := loadPolicies(c)
	if err != nil {
		return err
	}
	b.Catalog, b.agencies = cat, ags
	b.Engine = policies.NewEngine(set)
	b.Engine.SetAgencies(b.agencies)
	b.registry.Store(b.agencies)
	b.sources = Sources(b.Catalog)
	return nil
}

// startKafka starts the embedded broker (dev), with the agencies' users
// and ACLs when kafka.auth is on, and checks that Kafka answers.
func (b *Bus) startKafka(ctx context.Context) error {
	c := b.opts.Config
	b.cluster = kafkaio.Cluster{Brokers: c.Kafka.Brokers, User: c.Kafka.User, Password: c.Kafka.Password}
	if b.opts.Mode == Dev {
		var auth *kafkaauth.Config
		if c.Kafka.Auth {
			var err error
			if auth, err = b.kafkaCredentials(c, b.Engine.Current()); err != nil {
				return err
			}
		}
		kd, err := devkafka.Start(devkafka.Options{DataDir: filepath.Join(c.DataDir, "kafka"), Port: c.Kafka.EmbeddedPort, Partitions: c.Kafka.Partitions, Auth: auth,
			Retention: c.Kafka.EmbeddedRetention, RetentionBytes: c.Kafka.EmbeddedRetentionBytes})
		if err != nil {
			return err
		}
		b.kafkaDev = kd
		b.cluster = kafkaio.Plain(b.kafkaDev.Addr())
		if auth != nil {
			b.cluster.User, b.cluster.Password = auth.Superuser.User, auth.Superuser.Password
		}
	}
	b.addrs.Kafka = b.cluster.Brokers
	return kafkaio.Ping(ctx, b.cluster)
}

func (b *Bus) closeKafka(context.Context) error {
	if b.kafkaDev != nil {
		b.kafkaDev.Close()
	}
	return nil
}

func (b *Bus) openStore(ctx context.Context) error {
	st, err := OpenStore(ctx, b.opts.Config)
	if err != nil {
		return err
	}
	b.Store = st
	return nil
}

func (b *Bus) closeStore(context.Context) error {
	if b.Store != nil {
		_ = b.Store.Close()
	}
	return nil
}

// startKafkaUsers puts the agencies' users and ACLs on an external cluster
// (serve with kafka.auth). The credentials live in the shared store, so a
// credential issued through any instance is the one every instance puts
// on Kafka.
func (b *Bus) startKafkaUsers(ctx context.Context) error {
	c := b.opts.Config
	if b.opts.Mode != Serve || !c.Kafka.Auth {
		return nil
	}
	return b.startKafkaAuth(ctx, c, b.Engine.Current())
}

func (b *Bus) startRegistry(ctx context.Context) error {
	b.Reg = registry.New(b.Store)
	ids, err := b.Reg.Bootstrap(ctx, b.Catalog)
	if err != nil {
		return fmt.Errorf("register shared schemas: %w", err)
	}
	b.SchemaIDs = ids
	return nil
}

// loadTokens reads (or generates) the operator token and the key of
// citizens' tokens for "who looked at my data".
func (b *Bus) loadTokens(context.Context) error {
	c := b.opts.Config
	var err error
	if b.operatorToken, err = OperatorToken(c); err != nil {
		return err
	}
	var v *citizenauth.Verifier
	if v, err = CitizenVerifier(c); err != nil {
		return err
	}
	b.citizens = v
	return nil
}

// openAuditLog checks the shared keys against the other instances' and
// opens the access log (auditext.go).
func (b *Bus) openAuditLog(ctx context.Context) error {
	c := b.opts.Config
	key, err := hmacKey(c)
	if err != nil {
		return err
	}
	signer, err := signingKey(c)
	if err != nil {
		return err
	}
	secrets, err := clusterSecrets(c, b.operatorToken, key, signer.Seed())
	if err != nil {
		return err
	}
	if err := checkClusterKeys(ctx, b.Store, b.instanceID, secrets); err != nil {
		return err
	}
	if err := b.openAudit(ctx, c, key, signer); err != nil {
		return err
	}
	// Search filters of the log's sealed buckets that are missing (a log
	// written before they existed) are built in the background; searches
	// visit the buckets without one meanwhile.
	b.Store.SealAuditBucketsInBackground(func(err error) {
		b.log.Warn("audit search filters not built; searches by citizen visit every bucket until they are", "error", err)
	})
	return nil
}

// closeAuditLog signs a final checkpoint covering everything delivered in
// this run, and publishes it.
func (b *Bus) closeAuditLog(ctx context.Context) error {
	if b.Audit != nil {
		if _, err := b.Audit.Checkpoint(ctx); err != nil {
			b.log.Error("final audit checkpoint failed", "error", err)
		}
	}
	if b.auditPub != nil {
		_ = b.auditPub.Close()
	}
	return nil
}

// loadPopulation seeds the synthetic population when asked, and loads the
// population index, the identity linker and the review queue.
func (b *Bus) loadPopulation(ctx context.Context) error {
	c, o := b.opts.Config, b.opts
	if c.Synthetic.Enabled || (o.Mode == Dev && c.Synthetic.Population > 0) {
		if err := seedPopulation(ctx, b.Store, c.Synthetic, o.Population, b.log); err != nil {
			return err
		}
	}
	var err error
	if b.Index, err = loadIndex(ctx, b.Store); err != nil {
		return err
	}
	if b.Linker, err = streamlink.New(ctx, b.Store.ScanCitizens, streamlink.Config{Refresh: c.Pipeline.LinkageRefresh, Datasets: streamlink.FromCatalog(b.Catalog)}, b.log); err != nil {
		return fmt.Errorf("identity linker: %w", err)
	}
	b.review = review.New(b.Store)
	return nil
}

// ensureTopics creates the canonical, dead-letter, feedback and delivery
// topics.
func (b *Bus) ensureTopics(ctx context.Context) error {
	c := b.opts.Config
	var topics []kafkaio.Topic
	for _, d := range b.Catalog.Datasets() {
		topics = append(topics, kafkaio.Topic{Name: d.Topic(), Partitions: c.Kafka.Partitions})
	}
	for _, s := range b.sources {
		topics = append(topics, kafkaio.Topic{Name: contract.DeadLetterTopic(s), Partitions: 1}, kafkaio.Topic{Name: contract.FeedbackTopic(s), Partitions: 1})
	}
	for _, a := range b.Engine.Agreements() {
		if a.Mode == policies.ModeStream {
			topics = append(topics, kafkaio.Topic{Name: contract.DeliveryTopic(a.Consumer, a.Dataset), Partitions: c.Kafka.Partitions})
		}
	}
	return kafkaio.EnsureTopics(ctx, b.cluster, topics, c.Kafka.Replication)
}

func (b *Bus) startMetrics(context.Context) error {
	b.Metrics = metrics.New(func() float64 {
		if b.deliverer == nil {
			return 0
		}
		return float64(b.deliverer.Lag())
	})
	b.Metrics.WatchConnectors(b.Connectors)
	b.watchFlow() // per dataset and agency (flow.go)
	b.registerRoleMetrics(b.Metrics.Registry)
	return nil
}

// startQuality builds the scorecards and redrive (quality.go) and runs
// their counters' flush; the pipeline and the population follower feed
// them. Redrive needs the pipeline, which starts later: only the API
// calls it.
func (b *Bus) startQuality(ctx context.Context) error {
	q, err := b.newQuality(b.opts.Config.Quality)
	if err != nil {
		return err
	}
	b.Quality = q
	b.qualityWorkers = lifecycle.NewWorkers(ctx)
	b.qualityWorkers.Go(q.Run)
	return nil
}

// startPopulationFollower keeps the register, the index and the linker
// current from the population change stream.
func (b *Bus) startPopulationFollower(ctx context.Context) error {
	b.popUpdater = population.New(b.cluster, b.instanceID, b.Store, b.Quality.WatchRegister(streamlink.Notifying(b.Index, b.Linker)), b.log)
	b.popWorkers = lifecycle.NewWorkers(ctx)
	b.popWorkers.Go(b.popUpdater.Run)
	b.popWorkers.Go(b.Linker.Run)
	return nil
}

func (b *Bus) closePopulationFollower(ctx context.Context) error {
	if b.popUpdater == nil {
		return nil
	}
	err := b.popWorkers.Stop(ctx)
	_ = b.popUpdater.Close()
	return err
}

func (b *Bus) startCheckpoints(ctx context.Context) error {
	b.auditLoops = lifecycle.NewWorkers(ctx)
	b.auditLoops.Go(b.checkpointLoop)
	return nil
}

// startDelivery runs delivery (unless Options.NoDelivery): each record to
// the agreements that release it, audited first.
func (b *Bus) startDelivery(ctx context.Context) error {
	b.dlvWriter = kafkaio.NewWriter(b.cluster, kafkaio.WriterOptions{})
	dlv := deliver.New(deliver.Config{Cluster: b.cluster, Catalog: b.Catalog, Engine: b.Engine, Schemas: b.Reg, Audit: b.Audit, Writer: b.dlvWriter, Observer: b.Metrics, Logger: b.log, State: b.Store})
	b.deliverer = dlv
	if !b.opts.NoDelivery {
		b.dlvWorkers = lifecycle.NewWorkers(ctx)
		b.dlvWorkers.Go(func(ctx context.Context) { _ = dlv.Run(ctx) })
	}
	return nil
}

func (b *Bus) closeDelivery(ctx context.Context) error {
	err := b.dlvWorkers.Stop(ctx)
	if b.deliverer != nil {
		_ = b.deliverer.Close()
	}
	if b.dlvWriter != nil {
		b.closeWithin("delivery writer", b.dlvWriter, writerCloseWait)
	}
	return err
}

// startPipeline builds the ingest pipeline and its Kafka writer.
func (b *Bus) startPipeline(ctx context.Context) error {
	c := b.opts.Config
	var dss []pipeline.DatasetSchema
	for _, d := range b.Catalog.Datasets() {
		ds := pipeline.DatasetSchema{Dataset: d, SchemaID: b.SchemaIDs[d.Name]}
		if d.Format == schemas.FormatAvro {
			s, err := b.Reg.LookupAvro(ctx, ds.SchemaID)
			if err != nil {
				return err
			}
			ds.Envelope = s
		}
		dss = append(dss, ds)
	}
	b.pubWriter = kafkaio.NewWriter(b.cluster, kafkaio.WriterOptions{Async: true, Completion: pipeline.Completion})
	p, err := pipeline.New(pipeline.Config{
		Datasets:  dss,
		Reconcile: reconciler(b.Index, b.Linker, b.Audit.CitizenKey),
		Review:    queueReviews(b.review),
		Observer:  b.Quality.Observer(b.Metrics),
		MaxRecord: c.Pipeline.MaxRecordBytes,
		Logger:    b.log,
	}, b.pubWriter)
	if err != nil {
		return err
	}
	b.Pipe = p
	return nil
}

// closePipeline flushes the publisher: what the connectors and the API
// submitted last reaches Kafka, or is sent again after the restart.
func (b *Bus) closePipeline(context.Context) error {
	if b.pubWriter != nil {
		b.closeWithin("publisher", b.pubWriter, writerCloseWait)
	}
	return nil
}

func (b *Bus) closeHTTP(ctx context.Context) error {
	for _, s := range b.servers {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = s.Shutdown(sctx)
		cancel()
	}
	return nil
}

// startConnectors runs the synthetic connectors (synthetic.enabled) and
// the configured ones, each under its lease (leases.go).
func (b *Bus) startConnectors(ctx context.Context) error {
	c, o := b.opts.Config, b.opts
	b.connWorkers = lifecycle.NewWorkers(ctx)
	if c.Synthetic.Enabled {
		if o.DevConnectors == nil {
			return errors.New("synthetic.enabled: this program has no synthetic sources plugged in (lgsp dev and lgsp serve have)")
		}
		for _, cc := range o.DevConnectors(b.sources) {
			if err := b.startConfigured(cc, b.sources); err != nil {
				return fmt.Errorf("synthetic connector %s: %w", cc.Name, err)
			}
		}
	}
	for i, cc := range c.Connectors {
		if err := b.startConfigured(cc, b.sources); err != nil {
			return fmt.Errorf("config: connectors[%d] (%s): %w", i, cc.Name, err)
		}
	}
	return nil
}

// startStatus prints the "ready" banner and the status line every
// Options.StatusEvery on Options.Status.
func (b *Bus) startStatus(ctx context.Context) error {
	if b.opts.Status == nil {
		return nil
	}
	b.printBanner()
	b.statusWorkers = lifecycle.NewWorkers(ctx)
	b.statusWorkers.Go(b.statusLoop)
	return nil
}
