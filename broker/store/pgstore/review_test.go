package pgstore_test

import (
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestReview(t *testing.T) {
	testURL(t)
	storetest.RunReview(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t))
	})
}
