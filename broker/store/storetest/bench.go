package storetest

import (
	"context"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// AuditBatch is the batch size of BenchAppendAudit: about what the audit
// package flushes at once under load.
const AuditBatch = 256

// CitizenBatch is the batch size of BenchPutCitizens, as a population
// import would write.
const CitizenBatch = 10_000

// BenchAppendAudit appends batches of AuditBatch entries to s, which must
// have an empty audit log, and reports entries/s.
func BenchAppendAudit(b *testing.B, s store.Store) {
	ctx := context.Background()
	batch := make([]store.AuditEntry, AuditBatch)
	var seq int64
	for b.Loop() {
		b.StopTimer() // measure the store, not the fixture
		for i := range batch {
			seq++
			batch[i] = entry(seq)
		}
		b.StartTimer()
		if err := s.AppendAudit(ctx, batch); err != nil {
			b.Fatalf("AppendAudit: %v", err)
		}
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "entries/s")
}

// BenchPutCitizens inserts batches of CitizenBatch new citizens into s and
// reports entries/s.
func BenchPutCitizens(b *testing.B, s store.Store) {
	ctx := context.Background()
	batch := make([]store.Citizen, CitizenBatch)
	n := 0
	for b.Loop() {
		b.StopTimer()
		for i := range batch {
			batch[i] = SyntheticCitizen(n)
			n++
		}
		b.StartTimer()
		if err := s.PutCitizens(ctx, batch); err != nil {
			b.Fatalf("PutCitizens: %v", err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
}
