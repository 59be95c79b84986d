package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/consumer"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
	"github.com/segmentio/kafka-go"
)

const (
	dataset   = "civil_status.birth_registration"
	topic     = "deliver.vss." + dataset
	agreement = "vss-birth-registration-under6"
	births    = 20
)

// startBus starts a dev bus on free ports in a temp dir.
func startBus(t *testing.T) *runtime.Bus {
	t.Helper()
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", 0
	c.Synthetic.Enabled, c.Synthetic.Population = false, 2000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	return b
}

// pushBirths posts n valid birth registrations through the HTTP API and
// returns the event id of each, by registration number.
func pushBirths(t *testing.T, bus *runtime.Bus, n int) map[string]string {
	t.Helper()
	var people []store.Citizen
	err := bus.Store.ScanCitizens(context.Background(), func(c store.Citizen) error {
		if !c.Deceased && len(people) < n {
			people = append(people, c)
		}
		return nil
	})
	if err != nil || len(people) < n {
		t.Fatalf("citizens: %d, %v", len(people), err)
	}
	var recs []map[string]any
	for i, c := range people {
		recs = append(recs, map[string]any{"dataset": dataset, "op": "c", "after": map[string]any{
			"registration_no": fmt.Sprintf("001/2024/%d", i), "child_cccd": c.ID, "child_name": c.FullName, "child_dob": c.DOB,
			"child_sex": c.Sex, "birth_province": c.BirthProvince, "mother_cccd": nil, "mother_name": "Trần Thị Mai",
			"father_name": "Nguyễn Văn Hùng", "registered_on": "2024-05-02",
		}})
	}
	body, _ := json.Marshal(map[string]any{"records": recs})
	// Only the agency that owns the source may push its records.
	owner, _ := bus.Agencies().SourceOwner("civil_status")
	_, token, err := credentials.New(bus.Store.(store.TokenStore)).Issue(context.Background(), owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+bus.Addrs().API+"/v1/sources/civil_status/records", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res struct {
		Results []struct {
			EventID string `json:"event_id"`
			Status  string `json:"status"`
		} `json:"results"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &res) != nil || len(res.Results) != n {
		t.Fatalf("push: %d %s", resp.StatusCode, raw)
	}
	out := map[string]string{}
	for i, r := range res.Results {
		if r.Status != "published" {
			t.Fatalf("record %d: %+v", i, r)
		}
		out[fmt.Sprintf("001/2024/%d", i)] = r.EventID
	}
	return out
}

// recorder collects what a handler saw.
type recorder struct {
	mu     sync.Mutex
	events []consumer.Event
	calls  map[string]int // ce_id → handler calls
}

func (r *recorder) add(e consumer.Event) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[e.ID]++
	r.events = append(r.events, e)
	return r.calls[e.ID]
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) snapshot() ([]consumer.Event, map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := map[string]int{}
	for k, v := range r.calls {
		calls[k] = v
	}
	return slices.Clone(r.events), calls
}

// run runs c until done() holds (or fails after a timeout), then stops it.
func run(t *testing.T, c *consumer.Consumer, h consumer.Handler, done func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, h) }()
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		select {
		case err := <-errc:
			cancel()
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-errc
			t.Fatalf("timed out; stats %+v", c.Stats())
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func newConsumer(t *testing.T, bus *runtime.Bus, group string, opts ...consumer.Option) *consumer.Consumer {
	t.Helper()
	opts = append([]consumer.Option{consumer.WithBackoff(10*time.Millisecond, 100*time.Millisecond)}, opts...)
	// The registry answers the agency's own API token.
	_, token, err := credentials.New(bus.Store.(store.TokenStore)).Issue(context.Background(), "vss")
	if err != nil {
		t.Fatal(err)
	}
	c, err := consumer.New(consumer.Config{
		Brokers:       bus.Addrs().Kafka,
		GroupID:       group,
		Agency:        "vss",
		Datasets:      []string{dataset},
		RegistryURL:   "http://" + bus.Addrs().Registry,
		RegistryToken: token,
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// offsets returns, per partition of topic, the group's committed offset
// (-1 if none) and the end of the partition.
func offsets(t *testing.T, brokers []string, group string) (committed, end map[int]int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 {
		t.Fatalf("metadata: %v", err)
	}
	var parts []int
	var reqs []kafka.OffsetRequest
	for _, p := range md.Topics[0].Partitions {
		parts = append(parts, p.ID)
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	of, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		t.Fatalf("offset fetch: %v", err)
	}
	committed = map[int]int64{}
	for _, p := range of.Topics[topic] {
		committed[p.Partition] = p.CommittedOffset
	}
	lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	end = map[int]int64{}
	for _, p := range lo.Topics[topic] {
		end[p.Partition] = p.LastOffset
	}
	return committed, end
}

func allCommitted(t *testing.T, brokers []string, group string) bool {
	committed, end := offsets(t, brokers, group)
	for p, e := range end {
		if e > 0 && committed[p] != e {
			return false
		}
	}
	return true
}

// TestAgainstDevBus consumes deliver.vss.civil_status.birth_registration
// from a real dev bus with the SDK.
func TestAgainstDevBus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev bus")
	}
	bus := startBus(t)
	brokers := bus.Addrs().Kafka
	pushed := pushBirths(t, bus, births) // registration_no → ce_id
	grants := bus.Engine.StreamTargets(dataset, time.Now())
	allowed := map[string]bool{}
	for _, g := range grants {
		if g.Consumer == "vss" {
			for _, f := range g.Fields {
				allowed[f] = true
			}
		}
	}
	if len(allowed) == 0 {
		t.Fatal("no vss agreement on birth registrations")
	}

	t.Run("every event arrives with only the agreed fields", func(t *testing.T) {
		c := newConsumer(t, bus, "vss-all")
		if got := c.Topics(); len(got) != 1 || got[0] != topic {
			t.Fatalf("topics %v", got)
		}
		var rec recorder
		run(t, c, func(_ context.Context, e consumer.Event) error { rec.add(e); return nil },
			func() bool { return rec.distinct() >= births })
		events, calls := rec.snapshot()
		if len(events) != births || len(calls) != births {
			t.Fatalf("%d events, %d distinct", len(events), len(calls))
		}
		schemaIDs := map[int]bool{}
		for _, e := range events {
			regNo, _ := e.After["registration_no"].(string)
			if pushed[regNo] != e.ID || string(e.Key) != regNo {
				t.Errorf("event %s key %q: registration %q pushed as %s", e.ID, e.Key, regNo, pushed[regNo])
			}
			for f := range e.After {
				if !allowed[f] {
					t.Errorf("vss received field %s outside its agreement", f)
				}
			}
			if e.After["child_cccd"] == nil || e.After["father_name"] != nil || e.After["mother_cccd"] != nil {
				t.Errorf("row %v", e.After)
			}
			if m, _ := e.After["mother_name"].(string); m == "" || m == "Trần Thị Mai" {
				t.Errorf("mother_name not masked: %q", m)
			}
			if e.Agreement != agreement || e.Dataset != dataset || e.Op != "c" || e.Before != nil ||
				e.Source == "" || e.Type == "" || e.Time.IsZero() || e.Identity == "" || e.Topic != topic || e.SchemaID <= 0 {
				t.Errorf("event %+v", e)
			}
			schemaIDs[e.SchemaID] = true
		}
		// The wire-format id resolves through the registry URL.
		for id := range schemaIDs {
			s, err := c.Schema(context.Background(), id)
			if err != nil || s.Type != "JSON" || !bytes.Contains([]byte(s.Text), []byte("registration_no")) || bytes.Contains([]byte(s.Text), []byte("father_name")) {
				t.Errorf("schema %d: %+v %v", id, s, err)
			}
		}
		if st := c.Stats(); st.Handled != births || st.Duplicates != 0 || st.BadMessages != 0 || st.Retries != 0 {
			t.Errorf("stats %+v", st)
		}
		if !allCommitted(t, brokers, "vss-all") {
			t.Error("not every offset is committed")
		}
	})

	t.Run("a handler error redelivers without committing", func(t *testing.T) {
		const group = "vss-retry"
		c := newConsumer(t, bus, group)
		var rec recorder
		var first string
		var uncommitted []bool
		h := func(_ context.Context, e consumer.Event) error {
			n := rec.add(e)
			if first == "" {
				first = e.ID
			}
			if e.ID != first || n > 2 {
				return nil
			}
			committed, _ := offsets(t, brokers, group)
			uncommitted = append(uncommitted, committed[e.Partition] <= e.Offset)
			return errors.New("card service down")
		}
		run(t, c, h, func() bool { return rec.distinct() >= births })
		_, calls := rec.snapshot()
		if calls[first] != 3 {
			t.Errorf("failing event handled %d times, want 3", calls[first])
		}
		for id, n := range calls {
			if id != first && n != 1 {
				t.Errorf("event %s handled %d times", id, n)
			}
		}
		if !slices.Equal(uncommitted, []bool{true, true}) {
			t.Errorf("offset committed while the handler failed: %v", uncommitted)
		}
		if st := c.Stats(); st.Retries != 2 || st.Handled != births {
			t.Errorf("stats %+v", st)
		}
		if !allCommitted(t, brokers, group) {
			t.Error("not every offset is committed after success")
		}
	})

	t.Run("a restart resumes after the last committed offset", func(t *testing.T) {
		const group, stopAfter = "vss-restart", 7
		first := newConsumer(t, bus, group)
		var a recorder
		ctx, cancel := context.WithCancel(context.Background())
		err := first.Run(ctx, func(_ context.Context, e consumer.Event) error {
			if a.add(e); a.distinct() == stopAfter {
				cancel() // the program stops right after handling its 7th event
			}
			return nil
		})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		second := newConsumer(t, bus, group)
		var b recorder
		run(t, second, func(_ context.Context, e consumer.Event) error { b.add(e); return nil },
			func() bool { return b.distinct() >= births-stopAfter })
		_, ca := a.snapshot()
		_, cb := b.snapshot()
		if len(ca) != stopAfter || len(cb) != births-stopAfter {
			t.Fatalf("first run %d events, second %d", len(ca), len(cb))
		}
		for id := range cb {
			if ca[id] > 0 {
				t.Errorf("event %s handled again after the restart", id)
			}
		}
	})

	t.Run("duplicates are handled once and poison messages are committed", func(t *testing.T) {
		// One delivered message, as it is on the topic.
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupID: "raw-" + fmt.Sprint(time.Now().UnixNano()), Topic: topic, StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		orig, err := r.FetchMessage(ctx)
		cancel()
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		// Poison first, then the same message twice, all in its partition:
		// the duplicates are only reached if the poison does not block.
		hs := orig.Headers
		noID := slices.DeleteFunc(slices.Clone(hs), func(h kafka.Header) bool { return h.Key == contract.HeaderID })
		unknownSchema := append(contract.AppendWire(nil, 987654), orig.Value[5:]...)
		var unknownHs []kafka.Header
		for _, h := range hs {
			if h.Key == contract.HeaderSchemaID {
				h.Value = []byte("987654")
			}
			if h.Key == contract.HeaderID {
				h.Value = []byte("another-id")
			}
			unknownHs = append(unknownHs, h)
		}
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, RequiredAcks: kafka.RequireAll,
			Balancer: kafka.BalancerFunc(func(kafka.Message, ...int) int { return orig.Partition })}
		defer w.Close()
		err = w.WriteMessages(context.Background(),
			kafka.Message{Key: orig.Key, Value: []byte(`{"op":"c"}`), Headers: hs},
			kafka.Message{Key: orig.Key, Value: orig.Value, Headers: noID},
			kafka.Message{Key: orig.Key, Value: unknownSchema, Headers: unknownHs},
			kafka.Message{Key: orig.Key, Value: orig.Value, Headers: hs},
			kafka.Message{Key: orig.Key, Value: orig.Value, Headers: hs},
		)
		if err != nil {
			t.Fatal(err)
		}

		var mu sync.Mutex
		var bad []error
		c := newConsumer(t, bus, "vss-dedupe", consumer.WithOnBadMessage(func(_ context.Context, m kafka.Message, err error) {
			mu.Lock()
			bad = append(bad, err)
			mu.Unlock()
		}))
		var rec recorder
		run(t, c, func(_ context.Context, e consumer.Event) error { rec.add(e); return nil }, func() bool {
			st := c.Stats()
			return st.Handled >= births && st.Duplicates >= 2 && st.BadMessages >= 3
		})
		_, calls := rec.snapshot()
		if len(calls) != births {
			t.Errorf("%d distinct events handled", len(calls))
		}
		for id, n := range calls {
			if n != 1 {
				t.Errorf("event %s handed to the handler %d times", id, n)
			}
		}
		if st := c.Stats(); st.Handled != births || st.Duplicates != 2 || st.BadMessages != 3 {
			t.Errorf("stats %+v", st)
		}
		mu.Lock()
		defer mu.Unlock()
		wantErrs := []error{consumer.ErrNotWireFormat, consumer.ErrMissingHeader, consumer.ErrUnknownSchema}
		if len(bad) != 3 {
			t.Fatalf("bad messages: %v", bad)
		}
		for i, err := range bad {
			var de *consumer.DecodeError
			if !errors.As(err, &de) || de.Topic != topic || !errors.Is(err, wantErrs[i]) {
				t.Errorf("bad message %d: %v, want %v", i, err, wantErrs[i])
			}
		}
		if !allCommitted(t, brokers, "vss-dedupe") {
			t.Error("poison or duplicate messages left uncommitted")
		}
	})

	t.Run("a permanent handler error goes to OnBadMessage and is committed", func(t *testing.T) {
		var mu sync.Mutex
		var bad []error
		c := newConsumer(t, bus, "vss-permanent", consumer.WithOnBadMessage(func(_ context.Context, m kafka.Message, err error) {
			mu.Lock()
			bad = append(bad, err)
			mu.Unlock()
		}))
		var rec recorder
		var rejected string
		run(t, c, func(_ context.Context, e consumer.Event) error {
			rec.add(e)
			if rejected == "" {
				rejected = e.ID
				return consumer.Permanent(errors.New("child is over 6"))
			}
			return nil
		}, func() bool { return c.Stats().Handled >= births-1 })
		_, calls := rec.snapshot()
		if calls[rejected] != 1 {
			t.Errorf("rejected event handled %d times", calls[rejected])
		}
		mu.Lock()
		defer mu.Unlock()
		permanent := 0
		for _, err := range bad {
			var pe *consumer.PermanentError
			if errors.As(err, &pe) {
				permanent++
			}
		}
		if permanent != 1 {
			t.Errorf("OnBadMessage got %v", bad)
		}
	})
}
