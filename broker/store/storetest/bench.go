package storetest

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

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
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer() // measure the store, not the fixture
		for i := range batch {
			seq++
			batch[i] = entry(seq)
		}
		b.StartTimer()
		c0 := cpuTime()
		if err := s.AppendAudit(ctx, batch); err != nil {
			b.Fatalf("AppendAudit: %v", err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(seq)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(seq), "cpu_µs/entry")
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

// StateBatch is the batch size of BenchApplyState: a delivery group
// commit of a few partitions' batches.
const StateBatch = 1000

// BenchApplyState writes batches of StateBatch land rows of ~400 bytes
// over a fixed set of 20,000 keys (updates after the first pass, as a
// source sending its records again gives) and reports rows/s and the
// store's CPU (this process's only, not a PostgreSQL server's).
func BenchApplyState(b *testing.B, s store.StateStore) {
	ctx := context.Background()
	batch := make([]store.StateRow, StateBatch)
	var n int64
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		for i := range batch {
			k := n % 20_000
			batch[i] = store.StateRow{Dataset: "land.land_use_right", Key: fmt.Sprintf("TĐ%03d/TH%05d", k%400, k),
				CitizenKey: fmt.Sprintf("%064x", k*7919), EventID: fmt.Sprintf("0190a3b2-%04x-7000-8000-%012x", k%65536, n),
				Row:     fmt.Appendf(nil, `{"address":"Số %d, đường Nguyễn Trãi, phường Thượng Đình, quận Thanh Xuân, thành phố Hà Nội","area_m2":%d,"certificate_no":"CA%06d","holder_cccd":"0012%08d","holder_dob":"1980-01-02","holder_name":"Nguyễn Văn An","issued_on":"2021-06-15","land_use_purpose":"ONT","parcel_id":"TĐ%03d/TH%05d","province_code":"01"}`, k%300, 50+k%950, k, k, k%400, k),
				Updated: time.Unix(1_700_000_000, 0), Version: n}
			n++
		}
		b.StartTimer()
		c0 := cpuTime()
		if err := s.ApplyState(ctx, batch, nil); err != nil {
			b.Fatalf("ApplyState: %v", err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(n), "cpu_µs/row")
}

// cpuTime is this process's CPU time (user and system): a bench's figure
// that a loaded machine disturbs far less than its wall rate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
