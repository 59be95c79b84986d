package metrics

import (
	"sync"
	"time"
)

// PartitionOffsets is one reading of a canonical topic's partition: its
// end (the offset the next published record gets) and the next offset the
// delivery consumer group delivers.
type PartitionOffsets struct {
	Topic     string
	Partition int
	End, Next int64
}

// maxMarks bounds a partition's history: at one reading every 2 s with
// records arriving all the time, about 34 minutes of it.
const maxMarks = 1024

// mark says that by time t the partition's end had reached end.
type mark struct {
	t   time.Time
	end int64
}

type topicPartition struct {
	topic     string
	partition int
}

// LagTracker turns periodic readings of the canonical topics' offsets
// into each dataset's delivery lag. Kafka keeps the committed offset and
// the end, not when each record was published, so the tracker remembers
// when each partition's end grew: the oldest waiting record (the one at
// the committed offset) was published by the first reading whose end is
// past it. Its age is thus known to the reading period, from Kafka alone,
// for the whole bus, whichever instance published or delivers it.
type LagTracker struct {
	mu      sync.Mutex
	dataset map[string]string // topic → dataset
	hist    map[topicPartition][]mark
	lags    map[string]Lag
	at      time.Time
	ok      bool
}

// NewLagTracker tracks the given topics, each the canonical topic of a
// dataset.
func NewLagTracker(topicDataset map[string]string) *LagTracker {
	return &LagTracker{dataset: topicDataset, hist: map[topicPartition][]mark{}}
}

// Observe records a reading of every partition taken at now.
func (t *LagTracker) Observe(now time.Time, parts []PartitionOffsets) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lags := map[string]Lag{}
	for _, p := range parts {
		ds, ok := t.dataset[p.Topic]
		if !ok {
			continue
		}
		k := topicPartition{p.Topic, p.Partition}
		h := t.hist[k]
		if n := len(h); n > 0 && p.End < h[n-1].end {
			h = nil // the topic was recreated: its history no longer applies
		}
		if n := len(h); n == 0 || p.End > h[n-1].end {
			h = append(h, mark{now, p.End})
		}
		// Marks before the one the committed offset falls after are never
		// needed again (the group only moves on); one at or below it is
		// kept so the next one's time is known to be exact.
		for len(h) > 1 && h[1].end <= p.Next {
			h = h[1:]
		}
		if len(h) > maxMarks {
			h = h[len(h)-maxMarks:]
		}
		t.hist[k] = h
		l := Lag{}
		if p.End > p.Next {
			l.Records = p.End - p.Next
			for i, m := range h {
				if m.end > p.Next {
					l.Seconds = max(now.Sub(m.t).Seconds(), 0)
					l.AtLeast = i == 0 // published before the first reading kept
					break
				}
			}
		}
		lags[ds] = lags[ds].worse(l)
	}
	t.lags, t.at, t.ok = lags, now, true
}

// Lags is each dataset's lag as of the last reading (false: none yet).
func (t *LagTracker) Lags() (map[string]Lag, time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Lag, len(t.lags))
	for k, v := range t.lags {
		out[k] = v
	}
	return out, t.at, t.ok
}
