package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/store"
)

// OpenBusStore opens the store of a bus for a tool beside it (lgsp
// reconcile, lgsp review): the PostgreSQL of the config file cfgPath, or
// the SQLite file of dataDir, which must exist (a mistyped data dir would
// otherwise get a new, empty store). Both can be opened while the bus
// runs: PostgreSQL serves many clients, and the SQLite file is in WAL mode,
// whose writers wait for each other (busy timeout) rather than fail.
func OpenBusStore(ctx context.Context, cfgPath, dataDir string) (store.Store, error) {
	cfg := config.Defaults()
	if cfgPath != "" {
		var err error
		if cfg, err = config.Load(cfgPath); err != nil {
			return nil, err
		}
	} else {
		cfg.DataDir = dataDir
	}
	if cfg.Store.Driver == "sqlite" {
		path := cfg.Store.URL
		if path == "" {
			path = filepath.Join(cfg.DataDir, "lgsp.db")
		}
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no bus store at %s (%w): give the data dir of a bus that has run (--data-dir DIR) or its config (--config FILE)", path, err)
		}
	}
	return OpenStore(ctx, cfg)
}
