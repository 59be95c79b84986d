package runtime

import (
	"slices"
	"testing"
)

// The bus stops in the order that loses nothing (components.go): each
// pair's first part is closed before its second, that is, started after
// it. A reordering of the list that breaks one of these fails here rather
// than as a record lost at a restart.
func TestComponentsCloseOrder(t *testing.T) {
	var names []string
	for _, p := range (&Bus{}).components() {
		if slices.Contains(names, p.Name) {
			t.Fatalf("two components named %q", p.Name)
		}
		names = append(names, p.Name)
	}
	closeIndex := func(name string) int {
		i := slices.Index(names, name)
		if i < 0 {
			t.Fatalf("no component %q in %q", name, names)
		}
		return len(names) - 1 - i
	}
	for _, tt := range []struct{ first, then, why string }{
		{"connectors", "pipeline", "connectors drain their batches into the publisher before it is flushed"},
		{"api", "pipeline", "a push in flight is acknowledged before the publisher is flushed"},
		{"connectors", "cluster membership", "connector leases are released before the membership"},
		{"pipeline", "data quality", "batches acknowledged while the publisher flushes are counted and stored"},
		{"api", "data quality", "redrive and pushes count before the counters' last flush"},
		{"pipeline", "delivery", "as before: the publisher flushed, then delivery stops"},
		{"delivery", "audit checkpoints", "as before: delivery stops before the background loops"},
		{"connectors", "audit log", "every writer of the log stops before the final checkpoint"},
		{"api", "audit log", "every writer of the log stops before the final checkpoint"},
		{"delivery", "audit log", "every writer of the log stops before the final checkpoint"},
		{"agreements follower", "audit log", "every writer of the log stops before the final checkpoint"},
		{"data quality", "audit log", "every writer of the log stops before the final checkpoint"},
		{"population follower", "audit log", "every writer of the log stops before the final checkpoint"},
		{"audit log", "store", "the final checkpoint is stored"},
		{"cluster membership", "store", "the membership is released in the store"},
		{"store", "kafka", "the broker closes last"},
		{"status", "connectors", "the status line stops first"},
	} {
		if closeIndex(tt.first) > closeIndex(tt.then) {
			t.Errorf("%s closes after %s, but %s", tt.first, tt.then, tt.why)
		}
	}
}
