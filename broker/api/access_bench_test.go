package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/credentials"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// BenchmarkAccess: a lookup and a verification through the whole API
// handler (middleware, token check, policy, durable audit entry, state
// read, answer) on the test bus's SQLite store, many at once so the audit
// entries share group commits as under load. The network is left out
// (lgsp bench -e2e -load-rate measures it). Run:
// go test -run '^$' -bench Access -benchmem ./broker/api
func BenchmarkAccess(b *testing.B) {
	bus := newTestBus(b)
	p := citizen
	ctx := context.Background()
	for _, s := range []struct {
		dataset, key string
		row          map[string]any
	}{
		{"tax.taxpayer", "8012345678", map[string]any{"tax_code": "8012345678", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
			"address": "12 Lê Lợi, Quận 1", "tax_office": "79101", "status": "ACTIVE", "registered_on": "2015-03-04"}},
		{"insurance.health_insurance_card", "GD4797920001234", map[string]any{"card_no": "GD4797920001234", "cccd": p.ID, "full_name": p.FullName, "dob": p.DOB, "sex": p.Sex,
			"beneficiary_group": "GD", "benefit_level": 4, "hospital_code": "79-001", "valid_from": "2026-01-01", "valid_to": "2026-12-31"}},
	} {
		raw, _ := json.Marshal(s.row)
		if err := bus.st.ApplyState(ctx, []store.StateRow{{Dataset: s.dataset, Key: s.key, CitizenKey: bus.log.CitizenKey(p.ID),
			Row: raw, EventID: "ev-" + s.key, Updated: time.Now(), Version: 1}}, nil); err != nil {
			b.Fatal(err)
		}
	}
	tokens := credentials.New(bus.st)
	_, thads, err := tokens.Issue(ctx, "thads-hcm")
	if err != nil {
		b.Fatal(err)
	}
	_, bank, err := tokens.Issue(ctx, "bank-vcb")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, path, token, body, want string
	}{
		{"lookup", "/v1/lookup", thads, `{"dataset":"tax.taxpayer","citizen":"` + p.ID + `","purpose":"judgment_enforcement","case_reference":"THA-2026/1"}`, `"tax_code":"8012345678"`},
		{"verify", "/v1/verify", bank, `{"dataset":"insurance.health_insurance_card","citizen":"` + p.ID + `","purpose":"identity_verification","claims":{"full_name":"` + p.FullName + `"}}`, `"match":true`},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := []byte(c.body)
			b.ReportAllocs()
			b.SetParallelism(32) // 32 × GOMAXPROCS requests at once: group commits, as under load
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", c.path, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+c.token)
					w := httptest.NewRecorder()
					bus.handler.ServeHTTP(w, req)
					if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(c.want)) {
						b.Errorf("%s: %d %s", c.name, w.Code, w.Body)
						return
					}
				}
			})
			// wall time per op is mostly the commits' fsync; CPU is what
			// limits the rate a shared machine can answer
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// processCPU is this process's CPU time (user+sys).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
