package runtime_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// An operator resets a connector's position over REST: the reset is audited,
// the connector re-reads from there, and metrics count it.
func TestConnectorResetOverREST(t *testing.T) {
	c := devConfig(t, t.TempDir())
	c.Synthetic = config.Synthetic{Enabled: true, Population: 2000, Seed: 1, Limit: 100}
	bus := start(t, c)
	defer bus.Close(context.Background())
	api := "http://" + bus.Addrs().API
	waitAcked := func(n uint64) {
		deadline := time.Now().Add(30 * time.Second)
		for {
			for _, s := range bus.Connectors() {
				if s.Name == "tax" && s.Acked >= n {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("tax never acked %d: %+v", n, bus.Connectors())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitAcked(100)
	op := operatorToken(t, bus)

	for body, want := range map[string]int{
		`{"position":"zz","reason":"x"}`:                 400,
		`{"reason":"x"}`:                                 400,
		`{"position":"","reason":""}`:                    400,
		`{"position":"","reason":"x","extra":1}`:         400,
		`{"position":"0000000000000031","reason":"   "}`: 400,
	} {
		if code, raw := postAs(t, api+"/v1/connectors/tax/reset", op, "application/json", []byte(body)); code != want || !strings.Contains(string(raw), "error") {
			t.Errorf("%s: %d %s", body, code, raw)
		}
	}
	if code, _ := postAs(t, api+"/v1/connectors/nobody/reset", op, "application/json", []byte(`{"position":"","reason":"x"}`)); code != 404 {
		t.Errorf("unknown connector: %d", code)
	}

	// Back to position 49: records 50-99 are read again (100 were acked before).
	code, raw := postAs(t, api+"/v1/connectors/tax/reset", op, "application/json", []byte(`{"position":"0000000000000031","reason":"ministry re-sent corrected rows 50-99"}`))
	if code != 200 {
		t.Fatalf("reset: %d %s", code, raw)
	}
	waitAcked(150)
	entries, err := bus.Store.ListAudit(context.Background(), store.AuditQuery{RequestID: "tax@0000000000000031"})
	if err != nil || len(entries) != 1 || entries[0].Action != "connector.reset" || !strings.Contains(entries[0].Reason, "corrected") {
		t.Fatalf("reset not audited: %+v %v", entries, err)
	}
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{`lgsp_connector_resets_total{connector="tax"} 1`, `lgsp_connector_up{connector="tax"} 1`, fmt.Sprintf(`lgsp_connector_records_acked_total{connector="tax"} %d`, 150)} {
		if !strings.Contains(string(m), line) {
			t.Errorf("metrics lack %q", line)
		}
	}
}
