package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Plan.Run refuses an unknown source and reports what the land registry's
// loader says, before anything starts.
func TestPlanRefusesBeforeStarting(t *testing.T) {
	errLand := errors.New("no land registry")
	tests := []struct {
		name string
		p    Plan
		want string
	}{
		{"unknown source", Plan{Source: "kafka"}, `-source must be push or postgres, got "kafka"`},
		{"land registry missing", Plan{Source: "postgres", Land: func() (LandRegistry, error) { return LandRegistry{}, errLand }}, errLand.Error()},
		{"load without requests", Plan{LoadAPI: "http://127.0.0.1:1"}, "open"},
	}
	for _, tt := range tests {
		if _, err := tt.p.Run(context.Background()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
