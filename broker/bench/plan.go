package bench

import (
	"context"
	"fmt"
	"os"
)

// Plan is one `lgsp bench` invocation: which benchmark, with what. Run
// picks the benchmark: the load generator alone (LoadAPI), end to end
// (E2E), PostgreSQL → Kafka (Source "postgres") or the pipeline against
// the minimal program (Source "push").
type Plan struct {
	// E2EOptions holds the settings the benchmarks share (Options:
	// records, runs, dataset, progress, citizen; PostgresURL; LoadRate and
	// LoadDuration, which the load generator alone uses too) and those of
	// the end-to-end run.
	E2EOptions
	E2E bool
	// Source is push or postgres (without E2E).
	Source string
	// Updates are the rows updated after the snapshot, for postgres
	// (default Records/10).
	Updates int
	// Land returns the land registry's sample database, for postgres.
	Land func() (LandRegistry, error)
	// LoadAPI, when set, runs only the load generator against this API,
	// sending the requests of the Requests file.
	LoadAPI, Requests string
	// LoadProfilePath, with E2E and a load rate, receives a CPU profile of
	// the bus during the load (go tool pprof); with LoadAPI, one of the
	// load generator itself.
	LoadProfilePath string
}

// Run runs the benchmark p names and returns its result.
func (p Plan) Run(ctx context.Context) (fmt.Stringer, error) {
	switch {
	case p.LoadAPI != "":
		return RunLoad(ctx, LoadOptions{API: p.LoadAPI, Requests: p.Requests, Rate: p.LoadRate, Duration: p.LoadDuration, CPUProfile: p.LoadProfilePath})
	case p.E2E:
		if p.LoadProfilePath != "" {
			f, err := os.Create(p.LoadProfilePath)
			if err != nil {
				return nil, fmt.Errorf("bench: -load-cpuprofile: %w", err)
			}
			defer f.Close()
			p.LoadProfile = f
		}
		return RunE2E(ctx, p.E2EOptions)
	case p.Source == "postgres":
		land, err := p.Land()
		if err != nil {
			return nil, err
		}
		return RunCDC(ctx, CDCOptions{PostgresURL: p.PostgresURL, Rows: p.Records, Updates: p.Updates, Progress: p.Progress, Citizen: p.Citizen, Land: land})
	case p.Source == "push":
		return Run(ctx, p.Options)
	}
	return nil, fmt.Errorf("bench: -source must be push or postgres, got %q", p.Source)
}
