package kafkaio

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupPosition is one partition's end offset (the offset the next
// message gets) and the next offset a consumer group reads there: its
// committed offset, or the partition's first offset when it has none.
type GroupPosition struct {
	Topic     string
	Partition int
	End, Next int64
}

// GroupPositions reads where a consumer group stands in every partition of
// topics: the per-partition form of GroupLag, with the same three requests.
func GroupPositions(ctx context.Context, cl Cluster, group string, topics []string) ([]GroupPosition, error) {
	client := cl.Client(5 * time.Second)
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, fmt.Errorf("kafkaio: group positions metadata: %w", err)
	}
	parts := map[string][]int{}
	offReq := map[string][]kafka.OffsetRequest{}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			parts[t.Name] = append(parts[t.Name], p.ID)
			offReq[t.Name] = append(offReq[t.Name], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
	}
	ends, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: offReq})
	if err != nil {
		return nil, fmt.Errorf("kafkaio: group positions end offsets: %w", err)
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: parts})
	if err != nil {
		return nil, fmt.Errorf("kafkaio: group positions committed offsets: %w", err)
	}
	done := map[string]map[int]int64{}
	for t, ps := range committed.Topics {
		done[t] = map[int]int64{}
		for _, p := range ps {
			done[t][p.Partition] = p.CommittedOffset
		}
	}
	var out []GroupPosition
	for t, ps := range ends.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("kafkaio: group positions of %s/%d: %w", t, p.Partition, p.Error)
			}
			c, ok := done[t][p.Partition]
			if !ok || c < 0 {
				c = p.FirstOffset
			}
			out = append(out, GroupPosition{Topic: t, Partition: p.Partition, End: p.LastOffset, Next: min(c, p.LastOffset)})
		}
	}
	return out, nil
}
