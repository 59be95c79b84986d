// Package consumer is the SDK a consuming agency uses to read its delivery
// topics from the LGSP bus safely.
//
// The bus releases each record a data-sharing agreement covers to the
// agency's topic "deliver.<agency>.<domain>.<dataset>", projected to the
// fields the agreement allows. Each message carries CloudEvents 1.0 headers
// (binary mode: ce_id, ce_source, ce_type, ce_time, ce_subject, …) and a
// value in the Confluent wire format (magic byte 0, 4-byte big-endian schema
// id) around a JSON change {op, before, after, source, ts_ms, agreement}.
//
// Delivery is at-least-once, so an agency must tolerate seeing an event
// again. A Consumer does the bookkeeping:
//
//   - it fetches without committing (kafka-go FetchMessage, never
//     ReadMessage, which commits before the work is done);
//   - it decodes each message into an Event and, when RegistryURL is set,
//     resolves the wire-format schema id through the registry
//     (GET /schemas/ids/{id}, cached) and checks the payload against it;
//   - it skips an event whose (ce_source, ce_id) pair it has already handled
//     (an LRU of the last DedupeWindow pairs);
//   - it calls the handler and commits the offset only after the handler
//     returned nil. A handler error is retried with back-off, without
//     committing; return Permanent(err) for an event that can never succeed,
//     and it goes to the WithOnBadMessage callback instead (the agency's own dead
//     letter) and is committed;
//   - a message that cannot be decoded (poison) goes to the WithOnBadMessage callback, is
//     logged and committed, so it never blocks the stream.
//
// The dedupe window lives in memory and is per process: after a restart the
// consumer resumes after the last committed offset, and a handler that must
// never apply an event twice across restarts should also keep (Source, ID)
// in its own database, in the same transaction as its effect.
//
// A minimal agency program:
//
//	c, err := consumer.New(consumer.Config{
//		Brokers:       []string{"kafka.lgsp.gov.vn:9092"},
//		GroupID:       "vss-card-issuer",
//		Agency:        "vss",
//		Datasets:      []string{"civil_status.birth_registration"},
//		RegistryURL:   "https://registry.lgsp.gov.vn",
//		RegistryToken: os.Getenv("LGSP_API_TOKEN"), // the agency's API token
//		Username:      "vss", Password: os.Getenv("LGSP_PASSWORD"),
//	}, consumer.WithLogger(slog.Default()))
//	if err != nil { … }
//	defer c.Close()
//	err = c.Run(ctx, func(ctx context.Context, e consumer.Event) error {
//		return issueCard(ctx, e.After) // nil commits; an error retries
//	})
package consumer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
)

// Config says what to read and how to connect.
type Config struct {
	// Brokers are the Kafka bootstrap addresses ("host:9092").
	Brokers []string
	// GroupID is the agency's consumer group; offsets are committed to it, so
	// a restarted program resumes where it left off. Several processes with
	// one GroupID share the partitions.
	GroupID string
	// Topics to read. Instead (or as well), give Agency and Datasets and the
	// delivery topics "deliver.<agency>.<domain>.<dataset>" are derived.
	Topics []string
	// Agency is the consumer name in the agreements, e.g. "vss".
	Agency string
	// Datasets are "<domain>.<dataset>" names, e.g. "civil_status.birth_registration".
	Datasets []string
	// RegistryURL is the bus's Confluent-compatible schema registry (a bare
	// URL, e.g. "http://127.0.0.1:8081"). Optional: when set, each schema id
	// is fetched once and every payload is checked against its schema.
	RegistryURL string
	// RegistryToken is the agency's API token (lgsp_…), sent to the
	// registry as "Authorization: Bearer". The bus's registry answers reads
	// without a credential only if its operator allowed anonymous reads.
	RegistryToken string
	// Username and Password enable SASL/SCRAM-SHA-512 authentication, the
	// mechanism the bus's Kafka ACLs use for agencies. Both or neither.
	Username, Password string
	// TLS, when non-nil, encrypts the Kafka connections (use it with SASL in
	// production).
	TLS *tls.Config
	// DedupeWindow is how many recent (ce_source, ce_id) pairs are
	// remembered to skip duplicates (default DefaultDedupeWindow).
	DedupeWindow int
}

// topics returns the topics cfg names: Topics plus the delivery topics of
// Agency and Datasets, without repeats.
func (cfg Config) topics() []string {
	var out []string
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	for _, t := range cfg.Topics {
		add(t)
	}
	if cfg.Agency != "" {
		for _, d := range cfg.Datasets {
			add(DeliveryTopic(cfg.Agency, d))
		}
	}
	return out
}

// DeliveryTopic is the topic the bus delivers dataset ("<domain>.<dataset>")
// to agency on.
func DeliveryTopic(agency, dataset string) string { return contract.DeliveryTopic(agency, dataset) }

func (cfg Config) validate() error {
	var p []string
	if len(cfg.Brokers) == 0 {
		p = append(p, "Brokers: at least one broker address is required")
	}
	for _, b := range cfg.Brokers {
		if strings.TrimSpace(b) == "" {
			p = append(p, "Brokers: empty address")
		}
	}
	if cfg.GroupID == "" {
		p = append(p, "GroupID: required (offsets are committed to the group)")
	}
	if cfg.Agency != "" && len(cfg.Datasets) == 0 {
		p = append(p, "Datasets: required with Agency")
	}
	if cfg.Agency == "" && len(cfg.Datasets) > 0 {
		p = append(p, "Agency: required with Datasets")
	}
	for _, d := range cfg.Datasets {
		if dom, ds, ok := strings.Cut(d, "."); !ok || dom == "" || ds == "" {
			p = append(p, fmt.Sprintf("Datasets: %q is not <domain>.<dataset>", d))
		}
	}
	if len(cfg.topics()) == 0 && cfg.Agency == "" {
		p = append(p, "Topics: give Topics, or Agency and Datasets")
	}
	if cfg.RegistryURL != "" {
		u, err := url.Parse(cfg.RegistryURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p = append(p, fmt.Sprintf("RegistryURL: %q is not an http(s) URL", cfg.RegistryURL))
		}
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		p = append(p, "Username, Password: give both for SASL/SCRAM-SHA-512, or neither")
	}
	if cfg.DedupeWindow < 0 {
		p = append(p, "DedupeWindow: must not be negative")
	}
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// Handler processes one event. Returning nil commits it; returning an error
// retries it with back-off (nothing is committed meanwhile); returning
// Permanent(err) hands it to the WithOnBadMessage callback and commits it. The handler must
// be idempotent across restarts: delivery is at-least-once.
type Handler func(ctx context.Context, e Event) error

// BadMessageFunc receives a message that will be committed without being
// handled: err is a *DecodeError for a poison message, or the
// *PermanentError the handler returned. Use it to keep the message for
// inspection (a file, a table, an agency DLQ topic).
type BadMessageFunc func(ctx context.Context, m kafka.Message, err error)

// Option tunes a Consumer.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	onBad      BadMessageFunc
	minBackoff time.Duration
	maxBackoff time.Duration
	httpClient *http.Client
	start      int64
}

// WithLogger sends the consumer's log (retries, poison messages, commit
// failures) to l. Without it nothing is logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithOnBadMessage sets the callback for messages committed without being
// handled (poison messages and permanent handler errors).
func WithOnBadMessage(f BadMessageFunc) Option { return func(o *options) { o.onBad = f } }

// WithBackoff sets the retry back-off of a failing handler (and of a
// registry or broker that cannot be reached): it starts at min and doubles,
// with jitter, up to max. Default 200ms to 30s.
func WithBackoff(min, max time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = min, max }
}

// WithHTTPClient sets the client used to ask the schema registry.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithStartOffset sets where a group with no committed offset starts:
// kafka.FirstOffset (the default: everything still retained) or
// kafka.LastOffset (only new deliveries).
func WithStartOffset(offset int64) Option { return func(o *options) { o.start = offset } }

// Stats counts what a Consumer did since New.
type Stats struct {
	Handled     int64 // events the handler accepted (committed)
	Duplicates  int64 // events skipped as already handled (committed)
	BadMessages int64 // poison messages and permanent handler errors (committed)
	Retries     int64 // handler calls that failed and were retried
}

// Consumer reads an agency's delivery topics. Create it with New, call Run
// once, then Close.
type Consumer struct {
	cfg     Config
	opts    options
	topics  []string
	reader  *kafka.Reader
	reg     *registry
	dedupe  *lru
	log     *slog.Logger
	running atomic.Bool
	closed  atomic.Bool
	close   sync.Once

	handled, duplicates, bad, retries atomic.Int64
}

// New checks cfg (reporting every problem at once as a *ConfigError) and
// prepares the consumer; it does not contact Kafka until Run.
func New(cfg Config, opts ...Option) (*Consumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := options{minBackoff: 200 * time.Millisecond, maxBackoff: 30 * time.Second, start: kafka.FirstOffset}
	for _, f := range opts {
		f(&o)
	}
	if o.minBackoff <= 0 {
		o.minBackoff = 200 * time.Millisecond
	}
	if o.maxBackoff < o.minBackoff {
		o.maxBackoff = o.minBackoff
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DedupeWindow == 0 {
		cfg.DedupeWindow = DefaultDedupeWindow
	}
	dialer := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: cfg.TLS}
	if cfg.Username != "" {
		mech, err := newSCRAM(cfg.Username, cfg.Password)
		if err != nil {
			return nil, &ConfigError{Problems: []string{"Username, Password: " + err.Error()}}
		}
		dialer.SASLMechanism = mech
	}
	c := &Consumer{cfg: cfg, opts: o, topics: cfg.topics(), dedupe: newLRU(cfg.DedupeWindow), log: o.logger}
	if cfg.RegistryURL != "" {
		c.reg = newRegistry(cfg.RegistryURL, cfg.RegistryToken, o.httpClient)
	}
	var kafkaLog kafka.Logger
	if o.logger.Enabled(context.Background(), slog.LevelWarn) {
		// The reader retries connection, authentication and group errors
		// itself; surface them, or a wrong password looks like silence.
		kafkaLog = kafka.LoggerFunc(func(msg string, args ...any) {
			o.logger.Warn("lgsp consumer: kafka: " + fmt.Sprintf(msg, args...))
		})
	}
	c.reader = kafka.NewReader(kafka.ReaderConfig{
		ErrorLogger:    kafkaLog,
		Brokers:        cfg.Brokers,
		GroupID:        cfg.GroupID,
		GroupTopics:    c.topics,
		Dialer:         dialer,
		MinBytes:       1,
		MaxBytes:       8 << 20,
		MaxWait:        time.Second,
		StartOffset:    o.start,
		CommitInterval: 0, // synchronous commits, only after the handler succeeded
		// Short group timeouts: a restarted agency program gets its
		// partitions back quickly.
		HeartbeatInterval: time.Second,
		SessionTimeout:    10 * time.Second,
		RebalanceTimeout:  10 * time.Second,
	})
	return c, nil
}

// Topics returns the topics the consumer reads.
func (c *Consumer) Topics() []string { return append([]string(nil), c.topics...) }

// Stats returns the counters so far.
func (c *Consumer) Stats() Stats {
	return Stats{Handled: c.handled.Load(), Duplicates: c.duplicates.Load(), BadMessages: c.bad.Load(), Retries: c.retries.Load()}
}

// Schema returns the registry schema with id (cached). It needs RegistryURL.
func (c *Consumer) Schema(ctx context.Context, id int) (Schema, error) {
	if c.reg == nil {
		return Schema{}, errors.New("consumer: no RegistryURL configured")
	}
	s, err := c.reg.schema(ctx, id)
	if err != nil {
		return Schema{}, err
	}
	return Schema{ID: s.ID, Type: s.Type, Text: s.Text}, nil
}

// Run reads and handles events until ctx is done (then it returns nil) or
// the consumer is closed (ErrClosed). Events are handled one at a time, in
// order within a partition (so in order per entity key); while the handler
// retries an event, nothing else is handled. The offset of an event is committed only after
// the handler returned nil for it (or it was a duplicate, a poison message
// or a Permanent failure). Run may be called only once.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("consumer: nil handler")
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("consumer: Run called twice")
	}
	for fails := 0; ; {
		m, err := c.reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if c.closed.Load() || errors.Is(err, io.EOF) {
				return ErrClosed
			}
			fails++
			c.log.Warn("lgsp consumer: fetch failed, retrying", "error", err, "attempt", fails)
			if !c.sleep(ctx, fails) {
				return nil
			}
			continue
		}
		fails = 0
		if ctx.Err() != nil {
			// FetchMessage may hand out a buffered message after ctx
			// ended; leave it uncommitted for the next run.
			return nil
		}
		if !c.process(ctx, m, h) {
			if c.closed.Load() && ctx.Err() == nil {
				return ErrClosed
			}
			return nil
		}
	}
}

// process handles one message; false means ctx ended before it was done
// (nothing committed).
func (c *Consumer) process(ctx context.Context, m kafka.Message, h Handler) bool {
	attrs := []any{"topic", m.Topic, "partition", m.Partition, "offset", m.Offset}
	var ev Event
	for attempt := 1; ; attempt++ {
		var err error
		ev, err = c.decode(ctx, m)
		if err == nil {
			break
		}
		if errors.Is(err, ErrRegistryUnavailable) {
			c.log.Warn("lgsp consumer: schema registry unavailable, retrying", append(attrs, "error", err, "attempt", attempt)...)
			if !c.sleep(ctx, attempt) {
				return false
			}
			continue
		}
		derr := &DecodeError{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Err: err}
		c.log.Error("lgsp consumer: undecodable message skipped and committed", append(attrs, "error", err)...)
		c.bad.Add(1)
		if c.opts.onBad != nil {
			c.opts.onBad(ctx, m, derr)
		}
		c.commit(ctx, m)
		return true
	}
	key := dedupeKey{ev.Source, ev.ID}
	if c.dedupe.seen(key) {
		c.log.Debug("lgsp consumer: duplicate skipped", append(attrs, "ce_source", ev.Source, "ce_id", ev.ID)...)
		c.duplicates.Add(1)
		c.commit(ctx, m)
		return true
	}
	for attempt := 1; ; attempt++ {
		err := call(ctx, h, ev)
		if err == nil {
			break
		}
		var perm *PermanentError
		if errors.As(err, &perm) {
			c.log.Error("lgsp consumer: handler rejected the event permanently; committed without handling", append(attrs, "ce_id", ev.ID, "error", err)...)
			c.bad.Add(1)
			c.dedupe.add(key)
			if c.opts.onBad != nil {
				c.opts.onBad(ctx, m, err)
			}
			c.commit(ctx, m)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.retries.Add(1)
		c.log.Warn("lgsp consumer: handler failed; retrying without committing", append(attrs, "ce_id", ev.ID, "error", err, "attempt", attempt)...)
		if !c.sleep(ctx, attempt) {
			return false
		}
	}
	c.dedupe.add(key)
	c.handled.Add(1)
	c.commit(ctx, m)
	return true
}

func (c *Consumer) decode(ctx context.Context, m kafka.Message) (Event, error) {
	ev, payload, err := decode(m)
	if err != nil || c.reg == nil {
		return ev, err
	}
	s, err := c.reg.schema(ctx, ev.SchemaID)
	if err != nil {
		return ev, err
	}
	return ev, s.check(payload)
}

// call runs the handler, turning a panic into an error (retried like one).
func call(ctx context.Context, h Handler, ev Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("consumer: handler panicked: %v", r)
		}
	}()
	return h(ctx, ev)
}

// commit commits m even when ctx has just ended: the handler's work is done
// and must not be redone needlessly. A failed commit only means the message
// comes again (at-least-once), so it is logged, not fatal.
func (c *Consumer) commit(ctx context.Context, m kafka.Message) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.reader.CommitMessages(cctx, m); err != nil {
		c.log.Warn("lgsp consumer: commit failed; the message may be delivered again", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "error", err)
	}
}

// sleep waits the back-off of attempt; false if ctx ended first.
func (c *Consumer) sleep(ctx context.Context, attempt int) bool {
	d := c.opts.minBackoff << min(attempt-1, 20)
	if d <= 0 || d > c.opts.maxBackoff {
		d = c.opts.maxBackoff
	}
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Close leaves the consumer group and releases the connections. Call it
// after Run returned (or to make a running Run return ErrClosed).
func (c *Consumer) Close() error {
	var err error
	c.close.Do(func() {
		c.closed.Store(true)
		err = c.reader.Close()
	})
	return err
}
