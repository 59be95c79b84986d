package population_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/devkafka"
	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/population"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/connectors/contract"
	"github.com/segmentio/kafka-go"
)

// register is an in-memory register and index of one instance.
type register struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (r *register) PutCitizens(_ context.Context, cs []store.Citizen) error { return nil }
func (r *register) CountCitizens(context.Context) (int64, error)            { return 0, nil }
func (r *register) ScanCitizens(context.Context, func(store.Citizen) error) error {
	return nil
}
func (r *register) Add(c store.Citizen) error {
	r.mu.Lock()
	r.seen[c.ID] = true
	r.mu.Unlock()
	return nil
}
func (r *register) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// Two bus instances each keep their own index: both see every change of
// the register, whichever partition it is on (a shared consumer group
// would split the partitions between them).
func TestEveryInstanceSeesEveryChange(t *testing.T) {
	b, err := devkafka.Start(devkafka.Options{DataDir: t.TempDir(), Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl := kafkaio.Plain(b.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafkaio.EnsureTopics(ctx, cl, []kafkaio.Topic{{Name: population.Topic, Partitions: 3}}, 1); err != nil {
		t.Fatal(err)
	}
	const n = 60
	w := kafkaio.NewWriter(cl, kafkaio.WriterOptions{})
	var msgs []kafka.Message
	for i := range n {
		id := fmt.Sprintf("0010900%05d", i)
		v, _ := json.Marshal(map[string]any{"op": "c", "after": map[string]any{"personal_id": id, "full_name": "Nguyễn Văn A", "dob": "1990-01-01", "sex": "M"}})
		msgs = append(msgs, kafka.Message{Topic: population.Topic, Key: []byte(id), Value: append(contract.AppendWire(nil, 1), v...)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	regs := []*register{{seen: map[string]bool{}}, {seen: map[string]bool{}}}
	var wg sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	for i, r := range regs {
		u := population.New(cl, fmt.Sprintf("instance-%d", i), r, r, nil)
		wg.Add(1)
		go func() { defer wg.Done(); u.Run(rctx); u.Close() }()
	}
	for regs[0].count() < n || regs[1].count() < n {
		if ctx.Err() != nil {
			t.Fatalf("instances saw %d and %d of %d changes", regs[0].count(), regs[1].count(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()
}
