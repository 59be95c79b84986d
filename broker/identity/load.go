package identity

import (
	"context"
	"fmt"

	"github.com/lgsp-bus/lgsp/broker/store"
)

// Register is the population register an index is loaded from.
type Register interface {
	CountCitizens(ctx context.Context) (int64, error)
	ScanCitizens(ctx context.Context, fn func(store.Citizen) error) error
}

// LoadIndex builds the exact-lookup index of a register. A citizen the
// index refuses (malformed number, date or sex) is skipped and counted: a
// bad register row must not stop the bus. visit (nil: none) sees every
// citizen added, in scan order; an error from it stops the scan and is
// returned. The bus loads its index with it at start, lgsp reconcile the
// register of a bus's store.
func LoadIndex(ctx context.Context, reg Register, visit func(store.Citizen) error) (idx *Index, skipped int, err error) {
	n, err := reg.CountCitizens(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("population register: %w", err)
	}
	idx = NewIndex(int(n))
	err = reg.ScanCitizens(ctx, func(c store.Citizen) error {
		if idx.Add(c) != nil {
			skipped++
			return nil
		}
		if visit != nil {
			return visit(c)
		}
		return nil
	})
	return idx, skipped, err
}
