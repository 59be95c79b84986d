package main

import (
	"context"
	"encoding/json"
	"io"

	"github.com/lgsp-bus/lgsp/examples/synthetic/gen"
)

func init() {
	register(command{Name: "gen", Summary: "write a synthetic population, a corrupted ministry extract and its ground truth", Run: runGen})
}

const genUsage = `usage: lgsp gen [--dir DIR] [--citizens N] [--records N] [--seed S] [--format csv|ndjson] [rates]

` + gen.Files

// runGen is a dev tool: it writes the synthetic files of examples/synthetic/gen.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gen", stderr, genUsage)
	o := gen.DefaultOptions()
	fs.StringVar(&o.Dir, "dir", o.Dir, "directory to write population, records and truth files into")
	fs.IntVar(&o.Citizens, "citizens", o.Citizens, "size of the synthetic population register")
	fs.IntVar(&o.Records, "records", o.Records, "records of the ministry extract (at most --citizens: one row per person)")
	fs.Int64Var(&o.Seed, "seed", o.Seed, "seed: the same seed and sizes give the same files")
	fs.StringVar(&o.Format, "format", o.Format, "csv or ndjson")
	fs.BoolVar(&o.Extras, "extras", o.Extras, "write the address, postcode and social-insurance columns (population: residence, postcode, insurance_number; records: dia_chi, ma_buu_chinh, so_bhxh), for a mapping with extra fields")
	for _, r := range o.Rates() {
		fs.Float64Var(r.P, r.Name, *r.P, r.Doc)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	sum, err := gen.Generate(ctx, o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}
