package pgstore_test

import (
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

func TestQuality(t *testing.T) {
	testURL(t)
	storetest.RunQuality(t, func(t *testing.T) store.Store { return open(t, freshSchema(t)) })
}
