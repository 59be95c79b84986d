package metrics

import (
	"testing"
	"time"
)

// The lag tracker's age of the oldest waiting record, reading by reading.
func TestLagTracker(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	type reading struct {
		sec       int
		end, next int64
		want      Lag
	}
	for _, tc := range []struct {
		name     string
		readings []reading
	}{
		{"caught up", []reading{{0, 10, 10, Lag{}}, {2, 10, 10, Lag{}}}},
		{"a backlog from before the first reading is at least that old", []reading{
			{0, 100, 40, Lag{Records: 60, AtLeast: true}},
			{2, 100, 70, Lag{Records: 30, Seconds: 2, AtLeast: true}},
			{4, 100, 100, Lag{}}}},
		{"records published while watched: aged from the reading that saw them", []reading{
			{0, 10, 10, Lag{}},
			{2, 15, 10, Lag{Records: 5}},
			{4, 20, 12, Lag{Records: 8, Seconds: 2}},
			{6, 20, 15, Lag{Records: 5, Seconds: 2}},   // offset 15 appeared after 2, by 4
			{8, 25, 20, Lag{Records: 5}},               // 20..24 are new at 8
			{30, 25, 20, Lag{Records: 5, Seconds: 22}}, // delivery stuck: the age grows
			{32, 25, 25, Lag{}}}},
		{"a recreated topic starts over", []reading{
			{0, 50, 50, Lag{}},
			{2, 5, 0, Lag{Records: 5, AtLeast: true}},
			{4, 5, 3, Lag{Records: 2, Seconds: 2, AtLeast: true}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewLagTracker(map[string]string{"tax.taxpayer.v1": "tax.taxpayer"})
			if _, _, ok := tr.Lags(); ok {
				t.Fatal("measured before any reading")
			}
			for _, r := range tc.readings {
				tr.Observe(at(r.sec), []PartitionOffsets{{Topic: "tax.taxpayer.v1", Partition: 0, End: r.end, Next: r.next},
					{Topic: "other.topic", Partition: 0, End: 99}})
				lags, when, ok := tr.Lags()
				if !ok || !when.Equal(at(r.sec)) || lags["tax.taxpayer"] != r.want || len(lags) != 1 {
					t.Fatalf("at %d s: %+v at %v, want %+v", r.sec, lags, when, r.want)
				}
			}
		})
	}
}

// A dataset's partitions together: records add up, the oldest age wins.
func TestLagTrackerPartitions(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tr := NewLagTracker(map[string]string{"d.v1": "d"})
	tr.Observe(t0, []PartitionOffsets{{"d.v1", 0, 0, 0}, {"d.v1", 1, 0, 0}, {"d.v1", 2, 0, 0}})
	tr.Observe(t0.Add(2*time.Second), []PartitionOffsets{{"d.v1", 0, 3, 0}, {"d.v1", 1, 0, 0}, {"d.v1", 2, 0, 0}})
	tr.Observe(t0.Add(5*time.Second), []PartitionOffsets{{"d.v1", 0, 3, 1}, {"d.v1", 1, 4, 0}, {"d.v1", 2, 1, 1}})
	lags, _, _ := tr.Lags()
	if want := (Lag{Records: 6, Seconds: 3}); lags["d"] != want {
		t.Fatalf("%+v, want %+v", lags["d"], want)
	}
}

// The history stays bounded however long delivery is stuck.
func TestLagTrackerBounded(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tr := NewLagTracker(map[string]string{"d.v1": "d"})
	for i := range 3 * maxMarks {
		tr.Observe(t0.Add(time.Duration(i)*time.Second), []PartitionOffsets{{"d.v1", 0, int64(i + 1), 0}})
	}
	if n := len(tr.hist[topicPartition{"d.v1", 0}]); n > maxMarks {
		t.Fatalf("%d marks kept", n)
	}
	lags, _, _ := tr.Lags()
	if l := lags["d"]; !l.AtLeast || l.Records != 3*maxMarks || l.Seconds != float64(maxMarks-1) {
		t.Fatalf("%+v", l)
	}
}

// Any sequence of readings (ends and positions moving any way, partitions
// coming and going) keeps the lag sane: the records waiting are the sum of
// end minus position where positive, the age is never negative nor older
// than the first reading, none waiting means no age, and the history stays
// bounded. Each 4 bytes are a reading: partition, end step, position step,
// seconds since the last reading.
func FuzzLagTracker(f *testing.F) {
	f.Add([]byte{0, 5, 0, 2, 0, 5, 3, 2, 1, 9, 1, 0, 0, 0, 7, 2})
	f.Add([]byte{0, 200, 0, 0, 0, 0, 255, 9, 2, 1, 1, 1})
	f.Add([]byte{1, 1, 1, 1, 1, 128, 0, 3, 1, 0, 250, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		now := t0
		tr := NewLagTracker(map[string]string{"d.v1": "d"})
		end, next := [3]int64{}, [3]int64{}
		for i := 0; i+4 <= len(data); i += 4 {
			p := int(data[i] % 3)
			end[p] += int64(int8(data[i+1])) // a negative step: the topic was recreated
			end[p] = max(end[p], 0)
			next[p] = max(min(next[p]+int64(int8(data[i+2])), end[p]), 0)
			now = now.Add(time.Duration(data[i+3]) * time.Second)
			var parts []PartitionOffsets
			want := int64(0)
			for q := range 3 {
				parts = append(parts, PartitionOffsets{Topic: "d.v1", Partition: q, End: end[q], Next: next[q]})
				want += end[q] - next[q]
			}
			tr.Observe(now, parts)
			lags, at, ok := tr.Lags()
			l := lags["d"]
			if !ok || !at.Equal(now) || l.Records != want || l.Seconds < 0 || l.Seconds > now.Sub(t0).Seconds() || (l.Records == 0 && (l.Seconds != 0 || l.AtLeast)) {
				t.Fatalf("reading %d: %+v, want %d records within %v", i/4, l, want, now.Sub(t0))
			}
			for k, h := range tr.hist {
				if len(h) > maxMarks {
					t.Fatalf("%v: %d marks", k, len(h))
				}
			}
		}
	})
}
