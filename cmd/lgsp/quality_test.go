package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lgsp-bus/lgsp/broker/quality"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/sqlitestore"
)

func qualityCmd(ctx context.Context, args []string, out, errb *bytes.Buffer) error {
	return runQuality(ctx, args, out, errb)
}

// lgsp quality prints the scorecard kept in the store as a table (or the
// API's JSON), for any period; a bad date or a missing store is an error
// naming it.
func TestQualityCommand(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "lgsp.db"))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC).Unix() / 86400 // 2026-03-02, in Vietnam too (19:00)
	err = st.AddQuality(ctx, []store.QualityDelta{{Source: "land", Dataset: "land.land_use_right", Day: day,
		QualityCounts: store.QualityCounts{Received: 200, Valid: 190, Verified: 180, Mismatch: 6, NotFound: 4, LastSeen: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC)},
		Reasons:       []store.QualityReason{{Kind: "schema", Path: "$.holder_dob", Example: "holder_dob: 1990-02-31 is not a date", N: 10}}}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := cli(ctx, qualityCmd, "--data-dir", dir, "--from", "2026-03-01", "--to", "2026-03-03")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Data quality 2026-03-01 … 2026-03-03", "land.land_use_right", "200", "90.0%", "$.holder_dob", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	out, _, err = cli(ctx, qualityCmd, "--data-dir", dir, "--to", "2026-03-02", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var sc quality.Scorecard
	if err := json.Unmarshal([]byte(out), &sc); err != nil || sc.Total.Received != 200 || len(sc.Trend) != 30 || sc.From != "2026-02-01" {
		t.Fatalf("--json: %v %+v", err, sc.Total)
	}
	for _, args := range [][]string{
		{"--data-dir", dir, "--from", "March"},
		{"--data-dir", dir, "--from", "2026-03-05", "--to", "2026-03-01"},
		{"--data-dir", filepath.Join(dir, "nope")},
		{"--data-dir", dir, "extra"},
	} {
		if _, _, err := cli(ctx, qualityCmd, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
