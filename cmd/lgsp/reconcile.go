package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lgsp-bus/lgsp/broker/config"
	"github.com/lgsp-bus/lgsp/broker/identity"
	"github.com/lgsp-bus/lgsp/broker/identity/linkage"
	"github.com/lgsp-bus/lgsp/broker/runtime"
	"github.com/lgsp-bus/lgsp/broker/store"
	"github.com/schollz/progressbar/v3"
)

// runReconcile reconciles a ministry's person file against the population
// register, as a ministry cleaning its data would: one NDJSON result per
// record with the outcome and its explanation, and a summary.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	input := fs.String("input", "", "person file to reconcile (CSV with a header, or NDJSON)")
	format := fs.String("format", "", "csv or ndjson (default: from the file extension)")
	mappingPath := fs.String("mapping", "", "JSON field mapping: which columns hold id, name, dob, sex, province, old id (default: columns named so)")
	output := fs.String("output", "", "results file, NDJSON (default: <input>.results.ndjson)")
	dataDir := fs.String("data-dir", "lgsp-data", "data dir of an embedded bus whose population register to use")
	cfgPath := fs.String("config", "", "config file of a bus on PostgreSQL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *input == "" {
		return errors.New("usage: lgsp reconcile --input FILE [--format csv|ndjson] [--mapping FILE] [--output FILE] [--data-dir DIR | --config FILE]")
	}
	f := linkage.Format(*format)
	if f == "" {
		f = linkage.CSV
		if ext := strings.ToLower(filepath.Ext(*input)); ext == ".ndjson" || ext == ".jsonl" {
			f = linkage.NDJSON
		}
	}
	if f != linkage.CSV && f != linkage.NDJSON {
		return fmt.Errorf("--format must be csv or ndjson, got %q", *format)
	}
	var mapping *linkage.Mapping
	if *mappingPath != "" {
		mf, err := os.Open(*mappingPath)
		if err != nil {
			return err
		}
		m, err := linkage.ParseMapping(mf)
		mf.Close()
		if err != nil {
			return fmt.Errorf("mapping %s: %w", *mappingPath, err)
		}
		mapping = &m
	}
	cfg := config.Defaults()
	if *cfgPath != "" {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	} else {
		cfg.DataDir = *dataDir
	}
	st, err := runtime.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.CountCitizens(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("the population register in the store is empty (start the bus once, or load it)")
	}
	fmt.Fprintf(stderr, "loading %d citizens…\n", n)
	var citizens []store.Citizen
	idx := identity.NewIndex(int(n))
	if err := st.ScanCitizens(ctx, func(c store.Citizen) error {
		if idx.Add(c) == nil {
			citizens = append(citizens, c)
		}
		return nil
	}); err != nil {
		return err
	}
	pop, err := linkage.PopulationOf(citizens)
	if err != nil {
		return err
	}
	in, err := os.Open(*input)
	if err != nil {
		return err
	}
	defer in.Close()
	sample, err := linkage.ReadSample(in, f, mapping, 20_000)
	if err != nil {
		return fmt.Errorf("%s: %w", *input, err)
	}
	fmt.Fprintf(stderr, "estimating the linkage model from %d records…\n", len(sample))
	linker := linkage.Train(pop, sample, linkage.DefaultConfig())
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if *output == "" {
		*output = *input + ".results.ndjson"
	}
	out, err := os.Create(*output)
	if err != nil {
		return err
	}
	defer out.Close()
	bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("reconciling"), progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"))
	last := 0
	sum, err := linkage.Reconcile(ctx, idx, linker, in, out, linkage.BulkOptions{Format: f, Mapping: mapping, Source: filepath.Base(*input),
		Progress: func(n int) { _ = bar.Add(n - last); last = n }})
	_ = bar.Finish()
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	sum.Model = nil // the model is long; it is in the results' explanations
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	fmt.Fprintf(stderr, "results in %s\n", *output)
	return enc.Encode(sum)
}
