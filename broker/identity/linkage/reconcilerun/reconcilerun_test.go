package reconcilerun

import (
	"strings"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/schemas"
)

// The within_days window: the flag, else the mapping, else the dataset's
// catalog setting, else the linker's default.
func TestLinkConfigDateWindow(t *testing.T) {
	ds := &schemas.Linkage{DateWithinDays: 14}
	m := &linkage.Mapping{DateWithinDays: 21}
	for _, c := range []struct {
		name string
		flag int
		ds   *schemas.Linkage
		m    *linkage.Mapping
		want int
	}{
		{"default", 0, nil, nil, 0},
		{"catalog", 0, ds, nil, 14},
		{"mapping over catalog", 0, ds, m, 21},
		{"flag over both", 3, ds, m, 3},
	} {
		cfg, err := linkConfig(Options{DateWithinDays: c.flag}, c.ds, c.m)
		if err != nil || cfg.DateNearDays != c.want {
			t.Errorf("%s: %d, %v; want %d", c.name, cfg.DateNearDays, err, c.want)
		}
	}
	if _, err := linkConfig(Options{DateWithinDays: 1000}, nil, nil); err == nil || !strings.Contains(err.Error(), "--date-within-days") {
		t.Errorf("a window of 1000 days: %v", err)
	}
}
