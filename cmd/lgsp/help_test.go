package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Every registered subcommand answers -h and --help (and `lgsp help X`)
// with its usage on stdout or stderr and exit 0, and starts nothing.
func TestEveryCommandHasHelp(t *testing.T) {
	if len(commands) < 10 {
		t.Fatalf("only %d commands registered", len(commands))
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.Name, "-h"}, {c.Name, "--help"}, {"help", c.Name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errb bytes.Buffer
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // a command that ignored -h and started would stop at once
				code := run(ctx, args, &out, &errb)
				all := out.String() + errb.String()
				if code != 0 {
					t.Fatalf("exit %d, want 0:\n%s", code, all)
				}
				if !strings.Contains(strings.ToLower(all), "usage") || !strings.Contains(all, c.Name) {
					t.Fatalf("no usage naming %q:\n%s", c.Name, all)
				}
			})
		}
	}
}

// Subcommands with their own subcommands answer -h after those too, rather
// than taking it for an argument (`lgsp policy check --help` is not a folder).
func TestNestedHelp(t *testing.T) {
	for _, args := range [][]string{
		{"policy", "check", "--help"}, {"policy", "diff", "-h"}, {"review", "list", "-h"}, {"review", "export", "--help"},
		{"connector", "list", "-h"}, {"connector", "spec", "--help"}, {"connector", "test", "-h"}, {"connector", "delete", "-h"},
		{"audit", "verify", "-h"}, {"audit", "witness", "--help"}, {"cert", "issue", "-h"}, {"cert", "list", "--help"}, {"cert", "revoke", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), args, &out, &errb)
			all := out.String() + errb.String()
			if code != 0 || !strings.Contains(strings.ToLower(all), "usage") {
				t.Fatalf("exit %d, want 0 with usage:\n%s", code, all)
			}
			if strings.Contains(all, "no such file") || strings.Contains(all, "agreements OK") {
				t.Fatalf("took the flag for an argument:\n%s", all)
			}
		})
	}
}
