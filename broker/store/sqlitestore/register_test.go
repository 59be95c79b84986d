package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

// TestRegisterRaceTwoHandles races registrations through two handles on
// one database file, as two processes sharing it would.
func TestRegisterRaceTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	storetest.RegisterRace(t, open(t, path), open(t, path))
}
