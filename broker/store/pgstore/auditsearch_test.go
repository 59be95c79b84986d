package pgstore_test

import (
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestAuditSearch(t *testing.T) {
	testURL(t)
	storetest.RunAuditSearch(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}

func TestAuditBuckets(t *testing.T) {
	testURL(t)
	storetest.RunAuditBuckets(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}
