package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// runConfig runs "rpcmesh config check FILE [FILE...]".
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", `usage: rpcmesh config check FILE [FILE...]

Checks each config file: YAML syntax, unknown keys, types, ranges and
cross-field rules, with ${ENV} and ${ENV:-default} substituted from the
environment. Prints "FILE: ok (N chains, M providers)" or every problem as
"FILE:LINE: field.path: message", and fails if any file is invalid.
See docs/configuration.md for every key.`, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 || fs.Arg(0) != "check" {
		fs.Usage()
		if fs.NArg() == 0 {
			return errors.New("missing subcommand (want: check FILE...)")
		}
		return fmt.Errorf("unknown subcommand %q (want: check FILE...)", fs.Arg(0))
	}
	return runConfigCheck(fs.Args()[1:], stdout, stderr)
}

// runConfigCheck checks each file and reports on stdout (ok) or stderr (problems).
func runConfigCheck(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", "usage: rpcmesh config check FILE [FILE...]", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("check: no file given")
	}
	bad := 0
	for _, path := range fs.Args() {
		cfg, err := config.Load(path)
		if err != nil {
			bad++
			fmt.Fprintln(stderr, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (%s, %s)\n", path, plural(len(cfg.Chains), "chain"), plural(cfg.ProviderCount(), "provider"))
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d files invalid", bad, fs.NArg())
	}
	return nil
}

// plural formats "1 chain", "6 chains".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
