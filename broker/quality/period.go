package quality

import (
	"fmt"
	"time"
)

// Period returns the days of a scorecard period given as dates (YYYY-MM-DD
// in the configured zone), as `lgsp quality --from --to` and GET
// /v1/quality take them: to defaults to the day of now, from to 29 days
// before to, so the default is the last 30 days. A date that does not parse
// is named in the error ("from …" or "to …").
func (q *Quality) Period(from, to string, now time.Time) (fromDay, toDay int64, err error) {
	toDay = q.Day(now)
	if to != "" {
		if toDay, err = q.DayOfDate(to); err != nil {
			return 0, 0, fmt.Errorf("to must be a date such as 2026-03-01: %w", err)
		}
	}
	fromDay = toDay - 29
	if from != "" {
		if fromDay, err = q.DayOfDate(from); err != nil {
			return 0, 0, fmt.Errorf("from must be a date such as 2026-03-01: %w", err)
		}
	}
	return fromDay, toDay, nil
}
