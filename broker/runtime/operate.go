package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/connectors"
)

// OperateConnector runs `lgsp connector test|delete` (verb) on the
// connector name of the bus config c: test calls the adapter's
// TestConnection, delete its OnDelete; it returns one line saying what came
// of it.
func OperateConnector(ctx context.Context, c config.Config, verb, name string, log *slog.Logger) (string, error) {
	for _, cc := range c.Connectors {
		if cc.Name != name {
			continue
		}
		spec, ok := connectors.Lookup(cc.Adapter)
		if !ok {
			return "", fmt.Errorf("connector %s: no adapter %q ('lgsp connector list' shows them)", name, cc.Adapter)
		}
		return connectors.Operate(ctx, verb, name, spec, connectors.NewEnv(name, log), cc.Config)
	}
	return "", fmt.Errorf("no connector %q in the config", name)
}

// CheckHealth is `lgsp health URL` (container health checks): nil when URL
// answers 200 within 5 s.
func CheckHealth(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
