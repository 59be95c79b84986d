package quality_test

import (
	"strings"
	"testing"
	"time"
)

// Period: the defaults (the last 30 days up to today, or up to --to) and
// a bad date named by its flag.
func TestPeriod(t *testing.T) {
	q := newFixture(t).q
	now := time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC) // 11 March in Vietnam (UTC+7)
	day := func(s string) int64 {
		d, err := q.DayOfDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		from, to         string
		wantFrom, wantTo int64
		wantErr          string
	}{
		{"", "", day("2026-02-10"), day("2026-03-11"), ""},
		{"", "2026-03-02", day("2026-02-01"), day("2026-03-02"), ""},
		{"2026-03-01", "", day("2026-03-01"), day("2026-03-11"), ""},
		{"2026-03-01", "2026-03-03", day("2026-03-01"), day("2026-03-03"), ""},
		{"March", "", 0, 0, "from must be a date"},
		{"", "2026-3-1", 0, 0, "to must be a date"},
	}
	for _, tt := range tests {
		from, to, err := q.Period(tt.from, tt.to, now)
		if tt.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Period(%q, %q): error %v, want %q…", tt.from, tt.to, err, tt.wantErr)
			}
			continue
		}
		if err != nil || from != tt.wantFrom || to != tt.wantTo {
			t.Errorf("Period(%q, %q) = %d, %d, %v; want %d, %d", tt.from, tt.to, from, to, err, tt.wantFrom, tt.wantTo)
		}
	}
}
