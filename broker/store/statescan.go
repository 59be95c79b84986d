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

// ScanStatePages is ScanState for a backend that reads one page at a time:
// page returns up to size rows after the entity key after (from the first
// row when first is set), and fn gets every row until a page comes back
// short. An error of page is returned wrapped by the caller; fn's
// unwrapped, as ScanState promises.
func ScanStatePages(size int, page func(first bool, after string) ([]StateRow, error), fn func(StateRow) error) (pageErr, fnErr error) {
	first, after := true, ""
	for {
		rows, err := page(first, after)
		if err != nil {
			return err, nil
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return nil, err
			}
		}
		if len(rows) < size {
			return nil, nil
		}
		first, after = false, rows[len(rows)-1].Key
	}
}
