package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/lgsp-bus/lgsp/policies"
)

const policyUsage = `usage: lgsp policy check [DIR [AGENCIES_FILE]]     lint agreement files (file and line of every problem)
       lgsp policy diff OLD_DIR NEW_DIR [--json]  which agency gains or loses which fields, before applying
DIR "builtin" = the agreements built into the binary`

func init() {
	register(command{Name: "policy", Summary: "lint agreement files (check) and show who gains or loses access (diff)", Usage: policyUsage, HelpAnywhere: true, Run: runPolicy})
}

func runPolicy(_ context.Context, args []string, stdout, _ io.Writer) error {
	usage := errors.New(policyUsage)
	if len(args) == 0 {
		return usage
	}
	switch args[0] {
	case "check":
		opt := append(append([]string{}, args[1:]...), "", "") // [DIR [AGENCIES_FILE]], "" = built in
		set, err := policies.Lint(opt[0], opt[1])
		if err != nil {
			fmt.Fprintln(stdout, err)
			return errSilent
		}
		fmt.Fprintf(stdout, "%d agreements OK (%s), every consumer a registered agency\n", set.Len(), set.Digest())
		return nil
	case "diff":
		if len(args) < 3 {
			return usage
		}
		old, err := policies.LoadDirOrBuiltin(args[1])
		if err != nil {
			return fmt.Errorf("old agreements: %w", err)
		}
		newSet, err := policies.LoadDirOrBuiltin(args[2])
		if err != nil {
			return fmt.Errorf("new agreements (not applied): %w", err)
		}
		return policies.WriteDiff(stdout, policies.Diff(old, newSet), len(args) > 3 && args[3] == "--json")
	}
	return usage
}
