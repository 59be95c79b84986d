package connectors

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotSupported marks an operation the adapter does not offer.
var ErrNotSupported = errors.New("connector: the adapter does not support this")

// Test builds the connector named env.Name from raw (its config as in the
// bus's config file) and checks it against the real system: the config's
// rules first, then the adapter's TestConnection. A nil error means the
// connector can start; an error says what to fix. tested is false for an
// adapter without TestConnection: only its config was checked.
func Test(ctx context.Context, spec Spec, env Env, raw map[string]any) (tested bool, err error) {
	src, err := spec.Build(env, raw)
	if err != nil {
		return false, err
	}
	defer src.Close(context.WithoutCancel(ctx))
	ct, ok := src.(ConnectionTester)
	if !ok {
		return false, nil
	}
	if err := ct.TestConnection(ctx); err != nil {
		return true, fmt.Errorf("%s: %w", env.Name, err)
	}
	return true, nil
}

// Delete releases what the connector named env.Name holds in its source
// system (a replication slot, a publication) through the adapter's
// OnDelete. The bus must not be running the connector any more (a slot in
// use is refused as a temporary error: stop the bus or remove the
// connector from its config first, then retry). An adapter without
// lifecycle hooks holds nothing: Delete returns ErrNotSupported.
func Delete(ctx context.Context, spec Spec, env Env, raw map[string]any) error {
	src, err := spec.Build(env, raw)
	if err != nil {
		return err
	}
	defer src.Close(context.WithoutCancel(ctx))
	lc, ok := src.(LifecycleHooks)
	if !ok {
		return fmt.Errorf("%s: adapter %s holds nothing in the source system: %w", env.Name, spec.Name, ErrNotSupported)
	}
	if err := lc.OnDelete(ctx); err != nil {
		return fmt.Errorf("%s: %w", env.Name, err)
	}
	return nil
}
