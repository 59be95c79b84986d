package pgstore_test

import (
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestStateScan(t *testing.T) {
	testURL(t)
	storetest.RunStateScan(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

func TestStateVersions(t *testing.T) {
	testURL(t)
	storetest.RunStateVersions(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

func TestLeases(t *testing.T) {
	testURL(t)
	storetest.RunLeases(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

func TestSharedDocs(t *testing.T) {
	testURL(t)
	storetest.RunSharedDocs(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

func TestStateBatch(t *testing.T) {
	testURL(t)
	storetest.RunStateBatch(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}
