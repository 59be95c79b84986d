package config

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// Log.Logger writes JSON lines at the configured level; a level Validate
// would refuse is info.
func TestLogLogger(t *testing.T) {
	tests := []struct {
		level       string
		debug, info bool
	}{
		{"debug", true, true}, {"INFO", false, true}, {"warn", false, false}, {"error", false, false}, {"", false, true}, {"loud", false, true},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		l := Log{Level: tt.level}.Logger(&b)
		if l.Enabled(context.Background(), slog.LevelDebug) != tt.debug || l.Enabled(context.Background(), slog.LevelInfo) != tt.info {
			t.Errorf("level %q: debug %v info %v, want %v %v", tt.level, !tt.debug, !tt.info, tt.debug, tt.info)
		}
		l.Error("boom", "k", 1)
		var line map[string]any
		if err := json.Unmarshal(b.Bytes(), &line); err != nil || line["msg"] != "boom" {
			t.Errorf("level %q: %q is not a JSON line: %v", tt.level, b.String(), err)
		}
	}
}
