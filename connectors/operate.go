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

// Operate runs `lgsp connector test` or `delete` (verb) on the connector
// name of adapter spec with config raw, and says in one line what came of
// it.
func Operate(ctx context.Context, verb, name string, spec Spec, env Env, raw map[string]any) (string, error) {
	if verb == "delete" {
		err := Delete(ctx, spec, env, raw)
		switch {
		case errors.Is(err, ErrNotSupported):
			return fmt.Sprintf("OK: %s (%s) holds nothing in its source system", name, spec.Name), nil
		case err != nil:
			return "", err
		}
		return fmt.Sprintf("OK: %s released what it held in its source system; remove it from the config (its stored position stays until reset)", name), nil
	}
	tested, err := Test(ctx, spec, env, raw)
	switch {
	case err != nil:
		return "", err
	case !tested:
		return fmt.Sprintf("OK: %s config is valid (adapter %s has no connection test)", name, spec.Name), nil
	}
	return "OK: " + name, nil
}
