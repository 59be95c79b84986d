package pgstore_test

import (
	"testing"

	"github.com/lgsp-bus/lgsp/broker/store/storetest"
)

// TestRegisterRaceTwoInstances races registrations through two store
// handles on one PostgreSQL schema, as two bus instances sharing the
// database do: one id per schema, versions 1..n per subject.
func TestRegisterRaceTwoInstances(t *testing.T) {
	u := freshSchema(t)
	storetest.RegisterRace(t, open(t, u), open(t, u))
}
