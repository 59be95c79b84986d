package runtime_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/envelope"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
)

func maxAcked(b *runtime.Bus) (n uint64) {
	for _, s := range b.Connectors() {
		n = max(n, s.Acked)
	}
	return n
}

// Stop the bus in the middle of the ministries' streams, start it again on
// the same data dir: every record arrives at least once, and once duplicates
// are dropped as a consumer would (same ce_source and ce_id), each key's
// changes are in order.
func TestRestartMidStreamLosesNothing(t *testing.T) {
	t.Parallel() // boots its own bus: it overlaps the others' waits
	const limit = 2500
	dir := t.TempDir()
	c := devConfig(t, dir)
	c.Synthetic.Enabled, c.Synthetic.RatePerSecond, c.Synthetic.Limit = true, 500, limit

	bus := start(t, c)
	deadline := time.Now().Add(30 * time.Second)
	for maxAcked(bus) < 1000 { // well into the streams, none finished (2500 at 500/s)
		if time.Now().After(deadline) {
			t.Fatalf("no progress: %+v", bus.Connectors())
		}
		time.Sleep(20 * time.Millisecond)
	}
	bus.Close(context.Background())
	before := map[string]string{}
	midStream := 0
	for _, s := range bus.Connectors() {
		before[s.Name] = s.Position
		if s.Acked > 0 && s.Acked < limit {
			midStream++
		}
	}
	if midStream == 0 {
		t.Fatalf("no stream was stopped mid-stream: %+v", bus.Connectors())
	}

	bus = start(t, c)
	defer bus.Close(context.Background())
	sources := runtime.Sources(bus.Catalog)
	deadline = time.Now().Add(60 * time.Second)
	for {
		done := 0
		for _, s := range bus.Connectors() {
			if s.Position == fmt.Sprintf("%016x", limit-1) {
				done++
			}
		}
		if done == len(sources) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("streams did not finish after restart: %+v", bus.Connectors())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Read every canonical and dead-letter topic.
	var topics []string
	for _, d := range bus.Catalog.Datasets() {
		topics = append(topics, d.Topic())
	}
	for _, s := range sources {
		topics = append(topics, contract.DeadLetterTopic(s))
	}
	seen := map[string]map[uint64]bool{} // source → sequences
	perKey := map[string][]uint64{}      // topic/partition/key → sequences in log order, first occurrences only
	dups := map[string]int{}
	want := uint64(limit) * uint64(len(sources))
	got := uint64(0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// kafka-go gives a fetch only MaxWait/4 beyond the broker's wait before an
	// i/o timeout and a redial; with one connection per partition of every
	// catalog topic, 100 ms left 25 ms and the reader thrashed under -race.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: bus.Addrs().Kafka, GroupID: "restart-check", GroupTopics: topics, StartOffset: kafka.FirstOffset, MaxWait: time.Second})
	defer r.Close()
	for got < want {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %d of %d distinct records: %v", got, want, err)
		}
		src := envelope.HeaderValue(m.Headers, contract.HeaderSource)
		raw, err := hex.DecodeString(envelope.HeaderValue(m.Headers, contract.HeaderSequence))
		if err != nil || len(raw) != 8 {
			t.Fatalf("message without an 8-byte sequence: %v", m.Headers)
		}
		seq := uint64(0)
		for _, b := range raw {
			seq = seq<<8 | uint64(b)
		}
		if seen[src] == nil {
			seen[src] = map[uint64]bool{}
		}
		if seen[src][seq] {
			dups[src]++
			continue
		}
		seen[src][seq] = true
		got++
		if m.Topic[:4] != "dlq." {
			k := fmt.Sprintf("%s/%d/%s", m.Topic, m.Partition, m.Key)
			perKey[k] = append(perKey[k], seq)
		}
	}
	for src, s := range seen {
		for i := uint64(0); i < limit; i++ {
			if !s[i] {
				t.Errorf("%s: record %d lost", src, i)
			}
		}
	}
	for k, seqs := range perKey {
		for i := 1; i < len(seqs); i++ {
			if seqs[i] < seqs[i-1] {
				t.Errorf("%s: changes out of order: %d after %d", k, seqs[i], seqs[i-1])
			}
		}
	}
	// Resumed, not restarted: duplicates are bounded by what was in flight.
	for src, n := range dups {
		if n > 8*500 {
			t.Errorf("%s: %d duplicates; the restart did not resume from the saved position %s", src, n, before[src[len("/lgsp/connectors/"):]])
		}
	}
	t.Logf("positions at stop %v; duplicates after restart %v", before, dups)
}
