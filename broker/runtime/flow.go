package runtime

import (
	"context"
	"time"

	"github.com/lgsp-bus/lgsp/broker/kafkaio"
	"github.com/lgsp-bus/lgsp/broker/metrics"
	"github.com/lgsp-bus/lgsp/policies"
)

// deliveryGroup is the delivery consumer group: deliver.Config's default,
// which Start keeps.
const deliveryGroup = "lgsp-deliver"

// flowEvery is how often the delivery lag is read from Kafka, and so the
// resolution of the oldest waiting record's age.
const flowEvery = 2 * time.Second

// watchFlow has the metrics count per dataset of the catalog and per
// agency of the stream agreements in force, for the overview (/v1/status
// "flow") and the Prometheus gauges. Called before anything is counted.
func (b *Bus) watchFlow() {
	topics := map[string]string{}
	var names []string
	for _, d := range b.Catalog.Datasets() {
		topics[d.Topic()] = d.Name
		names = append(names, d.Name)
	}
	b.Metrics.WatchFlow(metrics.FlowConfig{Datasets: names, Topics: topics, Deliveries: b.streamDeliveries})
}

// streamDeliveries are the (agency, dataset) pairs of the stream
// agreements in force: the overview's rows, delivered to or not yet.
func (b *Bus) streamDeliveries() [][2]string {
	seen := map[[2]string]bool{}
	var out [][2]string
	for _, a := range b.Engine.Agreements() {
		k := [2]string{a.Consumer, a.Dataset}
		if a.Mode == policies.ModeStream && !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// measureFlow reads the delivery group's position in every canonical
// partition every flowEvery; the metrics turn the readings into each
// dataset's delivery lag. A failed reading keeps the last lag (its time
// says how old it is).
func (b *Bus) measureFlow(ctx context.Context) {
	var topics []string
	for _, d := range b.Catalog.Datasets() {
		topics = append(topics, d.Topic())
	}
	t := time.NewTicker(flowEvery)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, flowEvery)
		ps, err := kafkaio.GroupPositions(rctx, b.cluster, deliveryGroup, topics)
		cancel()
		if err == nil {
			parts := make([]metrics.PartitionOffsets, len(ps))
			for i, p := range ps {
				parts[i] = metrics.PartitionOffsets{Topic: p.Topic, Partition: p.Partition, End: p.End, Next: p.Next}
			}
			b.Metrics.ObserveDelivery(time.Now(), parts)
		} else if ctx.Err() == nil {
			b.log.Debug("delivery lag not read this time", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// flowStatus is /v1/status's "flow".
func (b *Bus) flowStatus() metrics.Flow { return b.Metrics.Flow() }
