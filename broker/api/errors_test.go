package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/api"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/prometheus/client_golang/prometheus"
)

// brokenQueue fails as a store does when its server is gone, with driver
// text a client must never see.
type brokenQueue struct{ linkage.ReviewQueue }

var errDriver = errors.New("pq: password authentication failed for user lgsp at 10.1.2.3:5432")

func (brokenQueue) List(context.Context, linkage.ReviewStatus, string, int) ([]linkage.ReviewItem, error) {
	return nil, errDriver
}

// A failure of something the bus depends on is a 503 that says what to do
// and names a reference; the cause goes to the operator's log only.
func TestUnavailableAnswersHideTheCause(t *testing.T) {
	var logs bytes.Buffer
	srv := httptest.NewServer(api.New(api.Deps{Metrics: prometheus.NewRegistry(), OperatorToken: operatorToken,
		Review: brokenQueue{}, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/operator/review", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var p api.Problem
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(raw, &p) != nil {
		t.Fatalf("got %d %s", resp.StatusCode, raw)
	}
	if strings.Contains(string(raw), "pq:") || strings.Contains(string(raw), "10.1.2.3") {
		t.Fatalf("driver text reached the client: %s", raw)
	}
	if !strings.Contains(p.Error, "retry") || !strings.Contains(p.Error, "reference ") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("answer does not say what to do or give a reference: %s (Retry-After %q)", raw, resp.Header.Get("Retry-After"))
	}
	ref := p.Error[strings.Index(p.Error, "reference ")+len("reference ") : strings.Index(p.Error, "reference ")+len("reference ")+36]
	if !strings.Contains(logs.String(), ref) || !strings.Contains(logs.String(), "pq: password") {
		t.Fatalf("operator log lacks the reference %s and the cause: %s", ref, logs.String())
	}
}
