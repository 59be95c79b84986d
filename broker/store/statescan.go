package store

import "context"

// StateScanner reads a dataset's current state whole, for bulk work on it
// outside the pipeline (`lgsp reconcile --dataset`). Both backends
// implement it.
type StateScanner interface {
	// CountState returns how many rows dataset has.
	CountState(ctx context.Context, dataset string) (int64, error)
	// ScanState calls fn with every row of dataset in entity-key order.
	// Rows are read in pages with no transaction held between them, so a
	// running bus is never blocked: a row changed during the scan is seen
	// before or after the change, and one added or removed may be missed.
	// It stops at fn's first error and returns it unwrapped.
	ScanState(ctx context.Context, dataset string, fn func(StateRow) error) error
}
