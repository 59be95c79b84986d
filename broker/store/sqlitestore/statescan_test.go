package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestStateScan(t *testing.T) {
	storetest.RunStateScan(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

func TestStateVersions(t *testing.T) {
	storetest.RunStateVersions(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

func TestLeases(t *testing.T) {
	storetest.RunLeases(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

func TestSharedDocs(t *testing.T) {
	storetest.RunSharedDocs(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

func TestStateBatch(t *testing.T) {
	storetest.RunStateBatch(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}
