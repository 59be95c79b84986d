package credentials

import "time"

// SetClock replaces the clock Verify reads for its cache.
func SetClock(t *Tokens, now func() time.Time) { t.now = now }
