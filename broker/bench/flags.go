package bench

import (
	"flag"
	"os"
	"time"
)

// Flags defines `lgsp bench`'s flags on fs, filling p when fs is parsed;
// the flags' help is the user documentation. brokers is the -brokers
// value, a comma-separated list the caller splits into p.Brokers.
func (p *Plan) Flags(fs *flag.FlagSet) (brokers *string) {
	fs.IntVar(&p.Records, "n", 200_000, "records to push through each path")
	fs.IntVar(&p.Runs, "runs", 3, "repetitions; the median is reported")
	fs.StringVar(&p.Dataset, "dataset", "land.land_use_right", "dataset pushed: land.land_use_right (JSON Schema) or tax.taxpayer (Avro)")
	fs.StringVar(&p.Source, "source", "push", "push: records handed to the pipeline; postgres: a land registry table of -n rows snapshotted and streamed by the postgres-cdc connector")
	fs.StringVar(&p.PostgresURL, "postgres-url", os.Getenv("LGSP_TEST_POSTGRES_URL"), "PostgreSQL with wal_level=logical, for -source postgres")
	fs.IntVar(&p.Updates, "updates", 0, "rows updated after the snapshot, for -source postgres (default n/10)")
	fs.BoolVar(&p.E2E, "e2e", false, "end to end: delivery and audit on; a record counts once it is on every delivery topic its agreements name and audited")
	fs.StringVar(&p.Store, "store", "sqlite", "with -e2e: the bus's store, sqlite or postgres (on -postgres-url, in a schema of its own)")
	brokers = fs.String("brokers", "", "with -e2e: comma-separated external Kafka brokers (e.g. an `lgsp kafka`), so the broker's CPU is not counted; default embedded")
	fs.StringVar(&p.DataDir, "keep", "", "with -e2e: keep the bus's data dir here (and the PostgreSQL schema), for `lgsp audit verify`")
	fs.IntVar(&p.LoadRate, "load-rate", 0, "with -e2e: then send lookups and verifications at this many requests/s from another process (e.g. 5000)")
	fs.DurationVar(&p.LoadDuration, "load-duration", 10*time.Second, "with -load-rate: how long")
	fs.StringVar(&p.LoadAPI, "load", "", "run only the load generator against this API base URL (what -load-rate starts in another process)")
	fs.StringVar(&p.LoadProfilePath, "load-cpuprofile", "", "with -load-rate: write a CPU profile of the bus during the load to this file (go tool pprof); with -load, one of the generator")
	fs.StringVar(&p.LoadGenProfile, "load-gen-cpuprofile", "", "with -load-rate: write a CPU profile of the load generator's process to this file")
	fs.StringVar(&p.Requests, "requests", "", "with -load: the requests file (PATH<TAB>TOKEN<TAB>BODY lines)")
	return brokers
}
