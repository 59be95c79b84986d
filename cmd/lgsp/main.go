// Command lgsp is the LGSP bus: `lgsp dev` runs it on embedded parts,
// `lgsp serve --config FILE` against Kafka and PostgreSQL, `lgsp bench`
// measures it; the other subcommands are tools beside a bus. This package
// is flags and wiring only: each subcommand's file registers it, and its
// logic lives in the package it names. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

func main() { os.Exit(realMain()) }

// realMain returns the exit code, so that its deferred cleanup runs
// before os.Exit.
func realMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// command is a subcommand. Run prints its own usage for -h and returns
// flag.ErrHelp; one without flags sets Usage, which -h prints instead.
type command struct {
	Name, Summary string
	Usage         string
	// HelpAnywhere: -h or --help after a sub-subcommand prints Usage too
	// (`lgsp policy check --help`), for commands that parse no flags of
	// their own and would take it for an argument.
	HelpAnywhere bool
	Run          func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands []command

// register adds a subcommand; each subcommand's file calls it from init.
func register(c command) { commands = append(commands, c) }

// errSilent ends a command with exit code 1 after it has said why.
var errSilent = errors.New("failed (reported above)")

func usage(w io.Writer) {
	fmt.Fprint(w, "usage: lgsp <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.Name, c.Summary)
	}
	fmt.Fprint(w, "\nRun 'lgsp <command> -h' (or 'lgsp help <command>') for a command's flags.\n")
}

func isHelp(s string) bool { return isHelpFlag(s) || s == "help" }

func isHelpFlag(s string) bool { return s == "-h" || s == "--help" || s == "-help" }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if isHelp(args[0]) {
		if len(args) == 1 {
			usage(stdout)
			return 0
		}
		args = []string{args[1], "-h"}
	}
	i := slices.IndexFunc(commands, func(c command) bool { return c.Name == args[0] })
	if i < 0 {
		fmt.Fprintf(stderr, "lgsp: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	c := commands[i]
	if c.Usage != "" && len(args) > 1 && (isHelp(args[1]) || c.HelpAnywhere && slices.ContainsFunc(args[2:], isHelpFlag)) {
		fmt.Fprintf(stdout, "lgsp %s: %s\n%s\n", c.Name, c.Summary, strings.TrimRight(c.Usage, "\n"))
		return 0
	}
	err := c.Run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errSilent):
		return 1
	}
	fmt.Fprintf(stderr, "lgsp %s: %v\n", c.Name, err)
	return 1
}

// newFlags is a subcommand's flag set, reporting on stderr.
func newFlags(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if usage == "" {
		usage = "usage: lgsp " + name + " [flags]\n\nflags:\n"
	}
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	return fs
}
