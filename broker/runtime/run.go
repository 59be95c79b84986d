package runtime

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lgsp-bus/lgsp/broker/config"
)

// Run starts the bus, serves until ctx is done (the signal), then drains
// in-flight records, saves positions and stops, within 30 s; the steps are
// told on o.Status. It is lgsp dev and lgsp serve.
func Run(ctx context.Context, o Options) error {
	bus, err := Start(ctx, o)
	if err != nil {
		return err
	}
	status := o.Status
	if status == nil {
		status = io.Discard
	}
	<-ctx.Done()
	fmt.Fprintln(status, "stopping: draining in-flight records and saving positions…")
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus.Close(closeCtx)
	fmt.Fprintln(status, "stopped cleanly")
	return nil
}

// MintCitizenToken mints a citizen's token for /v1/citizen/accesses with
// the key of the bus in dataDir (or LGSP_AUDIT_CITIZEN_TOKEN_KEY): the dev
// stand-in for the e-ID sign-in (lgsp citizen-token).
func MintCitizenToken(dataDir, personalNumber string, ttl time.Duration) (string, error) {
	cfg := config.Defaults()
	cfg.DataDir = dataDir
	if err := config.ApplyEnv(&cfg); err != nil {
		return "", err
	}
	v, err := CitizenVerifier(cfg)
	if err != nil {
		return "", err
	}
	return v.Mint(personalNumber, ttl)
}
