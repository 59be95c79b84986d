package plug_test

import (
	"context"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/examples/synthetic/plug"
	"github.com/segmentio/kafka-go"
)

// Regression (issue 17): in dev, death, marriage, social insurance
// participant, land parcel and land transfer had no synthetic stream and
// their canonical topics stayed empty. A dev bus now puts messages on the
// canonical topic of every dataset of the catalog.
func TestDevBusStreamsEveryDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dev bus")
	}
	c := config.Defaults()
	c.DataDir, c.API.Addr, c.Registry.Addr, c.Kafka.EmbeddedPort = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", 0
	// 90 records per ministry: 30 per dataset of the ministries with three.
	c.Synthetic.Enabled, c.Synthetic.Population, c.Synthetic.RatePerSecond, c.Synthetic.Limit = true, 2000, 0, 90
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bus, err := runtime.Start(ctx, plug.Synthetic(runtime.Options{Mode: runtime.Dev, Config: c}))
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())

	cl := &kafka.Client{Addr: kafka.TCP(bus.Addrs().Kafka...), Timeout: 10 * time.Second}
	counts := func() map[string]int64 {
		out := map[string]int64{}
		for _, d := range bus.Catalog.Datasets() {
			md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{d.Topic()}})
			if err != nil || len(md.Topics) != 1 || md.Topics[0].Error != nil {
				continue // not created yet
			}
			var reqs []kafka.OffsetRequest
			for _, p := range md.Topics[0].Partitions {
				reqs = append(reqs, kafka.LastOffsetOf(p.ID))
			}
			lo, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{d.Topic(): reqs}})
			if err != nil {
				continue
			}
			for _, p := range lo.Topics[d.Topic()] {
				out[d.Name] += p.LastOffset
			}
		}
		return out
	}
	for {
		got := counts()
		var empty []string
		for _, d := range bus.Catalog.Datasets() {
			if got[d.Name] == 0 {
				empty = append(empty, d.Topic())
			}
		}
		if len(empty) == 0 {
			t.Logf("messages per canonical topic: %v", got)
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("canonical topics still empty: %v (messages: %v; connectors: %+v)", empty, got, bus.Connectors())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
