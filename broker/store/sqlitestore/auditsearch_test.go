package sqlitestore_test

import (
	"path/filepath"
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestAuditSearch(t *testing.T) {
	storetest.RunAuditSearch(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}

func TestAuditBuckets(t *testing.T) {
	storetest.RunAuditBuckets(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "store.db"))
	})
}
