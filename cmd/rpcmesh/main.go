// Command rpcmesh is a JSON-RPC gateway in front of many independent Ethereum
// node operators, plus the tools to test it (a real multi-node devnet with
// faults on demand, and a load generator).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand of the binary.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"devnet": {"run a real multi-node Ethereum chain on loopback with faults on demand, and the gateway in front of it", runDevnet},
		"serve":  {"run the gateway from a YAML config", runServe},
		"config": {"work with config files (config check FILE)", runConfig},
		"bench":  {"generate JSON-RPC load and report latency (bench upstream: a trivial in-memory upstream)", runBench},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: rpcmesh <command> [flags]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'rpcmesh <command> --help' for a command's flags")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "rpcmesh: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "rpcmesh %s: %v\n", args[0], err)
		return 1
	}
	return 0
}
