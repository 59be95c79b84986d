package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// AuditVerify is the outcome of the running bus's scheduled full
// verification of the access log (audit.verify_every).
type AuditVerify struct {
	ok, last prometheus.Gauge
}

// NewAuditVerify registers lgsp_audit_verify_ok (1 verified, 0 failed;
// alert on 0) and lgsp_audit_verify_last_timestamp_seconds (alert when it
// gets old: the verification stopped running) on reg.
func NewAuditVerify(reg prometheus.Registerer) *AuditVerify {
	a := &AuditVerify{
		ok:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "lgsp_audit_verify_ok", Help: "1 when the last full verification of the access log (against the newest externally published checkpoint) passed, 0 when it failed."}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lgsp_audit_verify_last_timestamp_seconds", Help: "When the last full verification of the access log finished (Unix time)."}),
	}
	reg.MustRegister(a.ok, a.last)
	return a
}

// Verified records one verification's outcome.
func (a *AuditVerify) Verified(ok bool, at time.Time) {
	v := 0.0
	if ok {
		v = 1
	}
	a.ok.Set(v)
	a.last.Set(float64(at.UnixNano()) / 1e9)
}
