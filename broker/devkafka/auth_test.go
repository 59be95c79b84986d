package devkafka_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/kafkaauth"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/policies"
	"github.com/lgsp-bus/lgsp/schemas"
	"github.com/segmentio/kafka-go"
)

const (
	vssTopic       = "deliver.vss.civil_status.birth_registration"
	gdtTopic       = "deliver.gdt.land.land_use_right"
	canonicalTopic = "civil_status.birth_registration.v1"
)

// authConfig derives the Kafka users of the real registry, agreements and
// catalog, with credentials kept under dir.
func authConfig(t *testing.T, dir string) (*kafkaauth.Store, *kafkaauth.Config, map[string]string) {
	t.Helper()
	store, err := kafkaauth.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	agencies, err := policies.LoadEmbeddedAgencies()
	if err != nil {
		t.Fatal(err)
	}
	set, err := policies.LoadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	cfg, issued, err := store.Config(kafkaauth.Inputs{
		Agencies:   agencies,
		Agreements: set.Agreements(),
		Sources:    kafkaauth.Sources(schemas.MustLoad().Datasets()),
	})
	if err != nil {
		t.Fatal(err)
	}
	return store, cfg, issued
}

func client(t *testing.T, addr, user, pass string) *kafka.Client {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(addr), Timeout: 10 * time.Second}
	if user != "" {
		tr, err := kafkaio.Transport(user, pass)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tr.CloseIdleConnections)
		c.Transport = tr
	}
	return c
}

// busSetup creates the topics as the bus superuser and puts one record in each.
func busSetup(ctx context.Context, t *testing.T, addr string, bus kafkaauth.Credential, topics ...string) {
	t.Helper()
	c := client(t, addr, bus.User, bus.Password)
	req := &kafka.CreateTopicsRequest{}
	for _, tp := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: tp, NumPartitions: 1, ReplicationFactor: 1})
	}
	resp, err := c.CreateTopics(ctx, req)
	if err != nil {
		t.Fatalf("superuser create topics: %v", err)
	}
	for name, e := range resp.Errors {
		if e != nil && !errors.Is(e, kafka.TopicAlreadyExists) {
			t.Fatalf("superuser create %s: %v", name, e)
		}
	}
	w := kafkaio.NewWriter(kafkaio.Plain(addr), kafkaio.WriterOptions{})
	w.Transport = c.Transport
	defer w.Close()
	var msgs []kafka.Message
	for _, tp := range topics {
		msgs = append(msgs, kafka.Message{Topic: tp, Key: []byte("k"), Value: []byte("v:" + tp)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("superuser produce: %v", err)
	}
}

// fetch reads the first record of partition 0 of topic the way a kafka-go
// reader does: find the partition leader (a metadata request, which needs
// Describe), then fetch (which needs Read).
func fetch(ctx context.Context, d *kafka.Dialer, addr, topic string) error {
	conn, err := d.DialLeader(ctx, "tcp", addr, topic, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Seek(0, kafka.SeekAbsolute); err != nil {
		return err
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	batch := conn.ReadBatch(1, 1<<20)
	_, err = batch.ReadMessage()
	if cerr := batch.Close(); err == nil {
		err = cerr
	}
	return err
}

// produce writes one record to partition 0 of topic (needs Describe, then Write).
func produce(ctx context.Context, d *kafka.Dialer, addr, topic string) error {
	conn, err := d.DialLeader(ctx, "tcp", addr, topic, 0)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetRequiredAcks(int(kafka.RequireAll))
	if err := conn.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	_, err = conn.WriteMessages(kafka.Message{Key: []byte("k"), Value: []byte("x")})
	return err
}

// readGroup consumes one record of topic in group with a real kafka-go
// reader and commits it.
func readGroup(ctx context.Context, t *testing.T, addr, user, pass, group, topic string) {
	t.Helper()
	d, err := kafkaio.Dialer(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, GroupID: group, Topic: topic, Dialer: d, MaxWait: 100 * time.Millisecond, StartOffset: kafka.FirstOffset})
	defer r.Close()
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatalf("%s reading %s in group %s: %v", user, topic, group, err)
	}
	if err := r.CommitMessages(ctx, m); err != nil {
		t.Fatalf("%s committing in group %s: %v", user, group, err)
	}
}

// With auth on, a consumer with valid credentials cannot read another
// agency's topic or write to a canonical topic; each source reaches only its
// own topics; the bus superuser reaches everything; and nobody gets in
// without the right password.
func TestAuthACLs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	_, cfg, issued := authConfig(t, dir)
	b, err := devkafka.Start(devkafka.Options{DataDir: filepath.Join(dir, "kafka"), Auth: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	addr := b.Addr()
	busSetup(ctx, t, addr, cfg.Superuser, vssTopic, gdtTopic, canonicalTopic, "dlq.land", "dlq.tax", "feedback.land", "ingest.land.parcels", "ingest.tax.returns")

	// The bus superuser reads anything and commits in any group.
	readGroup(ctx, t, addr, cfg.Superuser.User, cfg.Superuser.Password, "lgsp.deliver", canonicalTopic)
	// vss reads its delivery topic and commits in its own group.
	readGroup(ctx, t, addr, "vss", issued["vss"], "vss.x", vssTopic)

	tests := []struct {
		name       string
		user, pass string
		op         func(d *kafka.Dialer, c *kafka.Client) error
		want       error // nil: allowed
	}{
		{"vss reads its own delivery topic", "vss", issued["vss"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, vssTopic) }, nil},
		{"vss cannot read gdt's delivery topic", "vss", issued["vss"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, gdtTopic) }, kafka.TopicAuthorizationFailed},
		{"vss cannot read a canonical topic", "vss", issued["vss"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, canonicalTopic) }, kafka.TopicAuthorizationFailed},
		{"vss cannot produce to a canonical topic", "vss", issued["vss"], func(d *kafka.Dialer, _ *kafka.Client) error { return produce(ctx, d, addr, canonicalTopic) }, kafka.TopicAuthorizationFailed},
		{"vss cannot produce to its own delivery topic", "vss", issued["vss"], func(d *kafka.Dialer, _ *kafka.Client) error { return produce(ctx, d, addr, vssTopic) }, kafka.TopicAuthorizationFailed},
		{"vss cannot commit in gdt's group", "vss", issued["vss"], func(_ *kafka.Dialer, c *kafka.Client) error { return commit(ctx, c, "gdt.x", vssTopic) }, kafka.GroupAuthorizationFailed},
		{"gdt reads its own delivery topic", "gdt", issued["gdt"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, gdtTopic) }, nil},
		{"gdt cannot read vss's delivery topic", "gdt", issued["gdt"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, vssTopic) }, kafka.TopicAuthorizationFailed},
		{"land reads its dead letters", "land", issued["land"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, "dlq.land") }, nil},
		{"land reads its feedback", "land", issued["land"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, "feedback.land") }, nil},
		{"land cannot read tax's dead letters", "land", issued["land"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, "dlq.tax") }, kafka.TopicAuthorizationFailed},
		{"land cannot write to Kafka at all (it sends through connectors or push)", "land", issued["land"], func(d *kafka.Dialer, _ *kafka.Client) error { return produce(ctx, d, addr, "ingest.land.parcels") }, kafka.TopicAuthorizationFailed},
		{"land cannot write its dead-letter topic", "land", issued["land"], func(d *kafka.Dialer, _ *kafka.Client) error { return produce(ctx, d, addr, "dlq.land") }, kafka.TopicAuthorizationFailed},
		{"land cannot read a delivery topic", "land", issued["land"], func(d *kafka.Dialer, _ *kafka.Client) error { return fetch(ctx, d, addr, vssTopic) }, kafka.TopicAuthorizationFailed},
		{"bus superuser produces to a canonical topic", cfg.Superuser.User, cfg.Superuser.Password, func(d *kafka.Dialer, _ *kafka.Client) error { return produce(ctx, d, addr, canonicalTopic) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.pass == "" {
				t.Fatalf("no password issued to %s (issued to %v)", tc.user, keys(issued))
			}
			d, err := kafkaio.Dialer(tc.user, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.op(d, client(t, addr, tc.user, tc.pass))
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("want allowed, got %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("want %v, got %v", tc.want, err)
			}
		})
	}

	refused := []struct{ name, user, pass string }{
		{"wrong password", "vss", issued["vss"] + "x"},
		{"another agency's password", "vss", issued["gdt"]},
		{"unknown user", "nobody", issued["vss"]},
		{"agency with only a verify agreement has no user", "bank-vcb", issued["vss"]},
		{"the bus user with an agency's password", cfg.Superuser.User, issued["vss"]},
	}
	for _, tc := range refused {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			_, err := dialer(t, tc.user, tc.pass).DialContext(ctx, "tcp", addr)
			if !errors.Is(err, kafka.SASLAuthenticationFailed) {
				t.Fatalf("want %v, got %v", kafka.SASLAuthenticationFailed, err)
			}
		})
	}
	t.Run("refused: anonymous", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := client(t, addr, "", "").Metadata(ctx, &kafka.MetadataRequest{Topics: []string{vssTopic}}); err == nil {
			t.Fatal("an anonymous client got metadata; want the request refused until it logs in")
		}
	})
}

func commit(ctx context.Context, c *kafka.Client, group, topic string) error {
	resp, err := c.OffsetCommit(ctx, &kafka.OffsetCommitRequest{GroupID: group, GenerationID: -1, Topics: map[string][]kafka.OffsetCommit{topic: {{Partition: 0, Offset: 1}}}})
	if err != nil {
		return err
	}
	for _, ps := range resp.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return p.Error
			}
		}
	}
	return nil
}

func dialer(t *testing.T, user, pass string) *kafka.Dialer {
	t.Helper()
	d, err := kafkaio.Dialer(user, pass)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The credentials file is private, survives a restart with the same
// passwords, and a data dir first used without auth can switch auth on.
// A rotated password takes effect on the running broker.
func TestAuthCredentialsSurviveRestartAndRotate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	kdir := filepath.Join(dir, "kafka")

	// First run without auth: topics and data already exist.
	b, err := devkafka.Start(devkafka.Options{DataDir: kdir})
	if err != nil {
		t.Fatal(err)
	}
	if err := kafkaio.EnsureTopics(ctx, kafkaio.Plain(b.Addr()), []kafkaio.Topic{{Name: vssTopic, Partitions: 1}}, 1); err != nil {
		t.Fatal(err)
	}
	b.Close()

	_, cfg, issued := authConfig(t, dir)
	fi, err := os.Stat(filepath.Join(dir, kafkaauth.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %04o, want 0600", fi.Mode().Perm())
	}
	b, err = devkafka.Start(devkafka.Options{DataDir: kdir, Auth: cfg})
	if err != nil {
		t.Fatal(err)
	}
	busSetup(ctx, t, b.Addr(), cfg.Superuser, vssTopic)
	readGroup(ctx, t, b.Addr(), "vss", issued["vss"], "vss.cards", vssTopic)
	b.Close()

	// Restart: same file, same passwords, nothing new issued.
	store, cfg2, issued2 := authConfig(t, dir)
	if len(issued2) != 0 {
		t.Fatalf("restart issued new passwords to %v", keys(issued2))
	}
	if cfg2.Superuser != cfg.Superuser {
		t.Fatal("restart changed the bus superuser credential")
	}
	b, err = devkafka.Start(devkafka.Options{DataDir: kdir, Auth: cfg2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	busSetup(ctx, t, b.Addr(), cfg2.Superuser, vssTopic)
	if err := fetch(ctx, dialer(t, "vss", issued["vss"]), b.Addr(), vssTopic); err != nil {
		t.Fatalf("vss after restart with its first password: %v", err)
	}

	// Rotation: the old password stops working, the new one works.
	newPass, err := store.Rotate("vss")
	if err != nil {
		t.Fatal(err)
	}
	_, cfg3, _ := authConfig(t, dir)
	if err := b.ApplyAuth(ctx, cfg3); err != nil {
		t.Fatal(err)
	}
	if err := fetch(ctx, dialer(t, "vss", newPass), b.Addr(), vssTopic); err != nil {
		t.Fatalf("vss with its rotated password: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 5*time.Second)
	defer cancelShort()
	if err := fetch(short, dialer(t, "vss", issued["vss"]), b.Addr(), vssTopic); !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Fatalf("vss's old password after rotation: want %v, got %v", kafka.SASLAuthenticationFailed, err)
	}
}
