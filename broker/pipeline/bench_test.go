//go:build unix

package pipeline

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/broker/registry"
	"github.com/lgsp-bus/lgsp/connectors"
	"github.com/lgsp-bus/lgsp/schemas"
)

// BenchmarkProcessLand is one land-use right through validate, reconcile
// (a stub: the index is broker/identity's) and encoding into its message,
// on one core, without Kafka: the pipeline's own CPU per record.
//
//	go test -run '^$' -bench ProcessLand -count 5 ./broker/pipeline/
func BenchmarkProcessLand(b *testing.B) {
	d, ok := schemas.MustLoad().Dataset("land.land_use_right")
	if !ok {
		b.Fatal("no land.land_use_right")
	}
	p, err := New(Config{Datasets: []DatasetSchema{{Dataset: d, SchemaID: 7}}, Reconcile: func(Claim) Verdict { return Verdict{Outcome: "verified"} }}, nil)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]connectors.Record, 1000)
	for i := range recs {
		recs[i] = connectors.Record{Dataset: d.Name, Op: connectors.OpCreate, Position: connectors.Position(fmt.Sprintf("1:%d", i)), Time: time.Unix(1_700_000_000, 0),
			After: map[string]any{"certificate_no": fmt.Sprintf("C%c%06d", 'A'+i%26, i), "parcel_id": fmt.Sprintf("TĐ%03d/TH%05d", i%400, i),
				"province_code": "001", "address": fmt.Sprintf("Số %d, đường Nguyễn Trãi, phường Thượng Đình, quận Thanh Xuân, thành phố Hà Nội", i%300),
				"area_m2": float64(50 + i%950), "land_use_purpose": "ODT", "holder_cccd": fmt.Sprintf("001090%06d", i), "holder_name": "Nguyễn Thị Thu Hương",
				"holder_dob": "1990-01-02", "issued_on": "2021-06-15"}}
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		_, _, res := p.process("land-registry", &recs[i%len(recs)], now)
		if res.Status != StatusPublished {
			b.Fatalf("record %d: %s %s", i, res.Path, res.Error)
		}
		i++
	}
	// CPU time (user + system) per record: steadier than ns/op on a
	// machine other work shares.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProcessTax is BenchmarkProcessLand for an Avro dataset (a
// taxpayer): the row converted to hamba's generic form and encoded in its
// registered envelope.
//
//	go test -run '^$' -bench ProcessTax -count 5 ./broker/pipeline/
func BenchmarkProcessTax(b *testing.B) {
	d, ok := schemas.MustLoad().Dataset("tax.taxpayer")
	if !ok {
		b.Fatal("no tax.taxpayer")
	}
	_, text, err := registry.EnvelopeSchema(d)
	if err != nil {
		b.Fatal(err)
	}
	env, err := avro.Parse(text)
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(Config{Datasets: []DatasetSchema{{Dataset: d, SchemaID: 7, Envelope: env}}, Reconcile: func(Claim) Verdict { return Verdict{Outcome: "verified"} }}, nil)
	if err != nil {
		b.Fatal(err)
	}
	recs := make([]connectors.Record, 1000)
	for i := range recs {
		recs[i] = connectors.Record{Dataset: d.Name, Op: connectors.OpCreate, Position: connectors.Position(fmt.Sprintf("1:%d", i)), Time: time.Unix(1_700_000_000, 0),
			After: map[string]any{"tax_code": fmt.Sprintf("80%08d", i), "cccd": fmt.Sprintf("001090%06d", i), "full_name": "Nguyễn Thị Thu Hương", "dob": "1990-01-02", "sex": "F",
				"address": fmt.Sprintf("Số %d, đường Lê Lợi, phường Bến Nghé, quận 1, thành phố Hồ Chí Minh", i%300), "tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04"}}
	}
	now := time.Now()
	b.ReportAllocs()
	i := 0
	cpu0 := cpuTime()
	for b.Loop() {
		_, _, res := p.process("tax", &recs[i%len(recs)], now)
		if res.Status != StatusPublished {
			b.Fatalf("record %d: %s %s", i, res.Path, res.Error)
		}
		i++
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
