//go:build unix

package validate

import (
	"syscall"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/lgsp-bus/lgsp/schemas"
)

// A realistic 15-field record: a residence registration as a ministry
// system sends it, with the constraints the shared schemas use (12-digit
// personal number, codes, dates, enums, nullable fields, Vietnamese text
// in NFC). Synthetic person.
const (
	residenceJSONSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "required": ["personal_id", "full_name", "dob", "sex", "ethnicity", "nationality", "province_code",
               "district_code", "ward_code", "address", "registered_on", "status", "household_id"],
  "properties": {
    "personal_id":   {"type": "string", "pattern": "^[0-9]{12}$"},
    "full_name":     {"type": "string", "minLength": 1, "maxLength": 100},
    "dob":           {"type": "string", "format": "date"},
    "sex":           {"type": "string", "enum": ["M", "F"]},
    "ethnicity":     {"type": "string", "minLength": 1, "maxLength": 40},
    "religion":      {"type": ["string", "null"], "maxLength": 40},
    "nationality":   {"type": "string", "pattern": "^[A-Z]{2}$"},
    "province_code": {"type": "string", "pattern": "^[0-9]{2}$"},
    "district_code": {"type": "string", "pattern": "^[0-9]{3}$"},
    "ward_code":     {"type": "string", "pattern": "^[0-9]{5}$"},
    "address":       {"type": "string", "maxLength": 200},
    "phone":         {"type": ["string", "null"], "pattern": "^0[0-9]{9}$"},
    "household_id":  {"type": "string", "pattern": "^[0-9]{9}$"},
    "registered_on": {"type": "string", "format": "date"},
    "status":        {"type": "string", "enum": ["PERMANENT", "TEMPORARY", "MOVED_OUT"]}
  }
}`
	residenceAvroSchema = `{
  "type": "record", "name": "Residence", "namespace": "vn.gov.lgsp.bench",
  "fields": [
    {"name": "personal_id", "type": "string"},
    {"name": "full_name", "type": "string"},
    {"name": "dob", "type": "string"},
    {"name": "sex", "type": {"type": "enum", "name": "Sex", "symbols": ["M", "F"]}},
    {"name": "ethnicity", "type": "string"},
    {"name": "religion", "type": ["null", "string"], "default": null},
    {"name": "nationality", "type": "string"},
    {"name": "province_code", "type": "string"},
    {"name": "district_code", "type": "string"},
    {"name": "ward_code", "type": "string"},
    {"name": "address", "type": "string"},
    {"name": "phone", "type": ["null", "string"], "default": null},
    {"name": "household_id", "type": "string"},
    {"name": "registered_on", "type": "string"},
    {"name": "status", "type": {"type": "enum", "name": "ResidenceStatus", "symbols": ["PERMANENT", "TEMPORARY", "MOVED_OUT"]}}
  ]
}`
)

func residenceRow() map[string]any {
	return map[string]any{
		"personal_id": "001090012345", "full_name": "Nguyễn Thị Thu Hương", "dob": "1990-01-02", "sex": "F",
		"ethnicity": "Kinh", "religion": nil, "nationality": "VN", "province_code": "01", "district_code": "001",
		"ward_code": "00001", "address": "Số 12 phố Hàng Bạc, phường Hàng Bạc, quận Hoàn Kiếm", "phone": "0912345678",
		"household_id": "010012345", "registered_on": "2021-07-01", "status": "PERMANENT",
	}
}

// meter measures a benchmark loop in wall time and in the CPU time the
// process used (user + system, from getrusage), so a figure taken on a
// busy machine still says what one record costs one core.
type meter struct {
	start time.Time
	cpu   time.Duration
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startMeter() meter { return meter{start: time.Now(), cpu: cpuTime()} }

// report adds records/s (wall clock; sequential runs use one core, so
// this is the per-core rate) and cpu-ns/op with the per-core rate it
// implies.
func (m meter) report(b *testing.B) {
	if s := time.Since(m.start).Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "records/s")
	}
	if cpu := cpuTime() - m.cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
	}
}

// BenchmarkValidate15Fields checks a 15-field record against a schema
// compiled once, as the pipeline does per record: JSON Schema with
// gojsonschema (ValidateValue, on the row's Go values) and with its
// compiled fast form (Check, what the pipeline calls), Avro with the
// walk that also converts the row for encoding, and Avro with the
// encoding the pipeline does next. The parallel variants use every core.
//
//	go test -run XXX -bench Validate15Fields -count 3 ./broker/validate/
func BenchmarkValidate15Fields(b *testing.B) {
	js, err := NewJSON(residenceJSONSchema)
	if err != nil {
		b.Fatal(err)
	}
	if !js.HasFastForm() {
		b.Fatal("the residence schema has no fast form")
	}
	av, err := NewAvro(residenceAvroSchema)
	if err != nil {
		b.Fatal(err)
	}
	row := residenceRow()
	if vs := js.ValidateValue(row); vs != nil {
		b.Fatalf("the benchmark row is not valid JSON Schema: %v", vs)
	}
	if _, vs := av.Convert(row); vs != nil {
		b.Fatalf("the benchmark row is not valid Avro: %v", vs)
	}
	bad := residenceRow()
	bad["personal_id"] = "00109001234X"
	if vs := js.ValidateValue(bad); len(vs) != 1 || vs[0].Path != "$.personal_id" {
		b.Fatalf("the JSON Schema does not catch a bad personal number: %v", vs)
	}

	jsonOne := func() {
		if js.ValidateValue(row) != nil {
			b.Fatal("invalid")
		}
	}
	fastOne := func() {
		if js.Check(row) != nil {
			b.Fatal("invalid")
		}
	}
	avroOne := func() {
		if _, vs := av.Convert(row); vs != nil {
			b.Fatal("invalid")
		}
	}
	avroEncode := func() {
		conv, vs := av.Convert(row)
		if vs != nil {
			b.Fatal("invalid")
		}
		if _, err := avro.Marshal(av.Schema(), conv); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		one  func()
	}{{"json", jsonOne}, {"json-fast", fastOne}, {"avro", avroOne}, {"avro+encode", avroEncode}} {
		b.Run(bc.name+"/core", func(b *testing.B) {
			b.ReportAllocs()
			m := startMeter()
			for b.Loop() {
				bc.one()
			}
			m.report(b)
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			m := startMeter()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					bc.one()
				}
			})
			m.report(b)
		})
	}
}

// BenchmarkCheckLand is the pipeline's validation of a land-use right:
// ValidateValue (gojsonschema, the reference) against Check (the fast
// form, gojsonschema only for rows it does not find valid).
//
//	go test -run XXX -bench CheckLand -count 5 ./broker/validate/
func BenchmarkCheckLand(b *testing.B) {
	d, ok := schemas.MustLoad().Dataset("land.land_use_right")
	if !ok {
		b.Fatal("no land.land_use_right")
	}
	j, err := NewJSON(d.Schema)
	if err != nil {
		b.Fatal(err)
	}
	row := baseRows(b)["land.land_use_right"]
	for _, bc := range []struct {
		name string
		fn   func(map[string]any) []Violation
	}{{"gojsonschema", j.ValidateValue}, {"fast", j.Check}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			m := startMeter()
			for b.Loop() {
				if bc.fn(row) != nil {
					b.Fatal("invalid")
				}
			}
			m.report(b)
		})
	}
}
