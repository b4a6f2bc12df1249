// Command rpcmesh is the JSON-RPC gateway in front of many independent
// Ethereum node operators: `serve` runs it, `config check` validates its
// config. The tools to test it are commands of their own, so that the
// gateway binary links no Ethereum node: rpcmesh-devnet (a real multi-node
// chain with faults on demand, and the gateway in front of it) and
// rpcmesh-bench (the load generator).
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

	vm "github.com/VictoriaMetrics/metrics"
)

// command is one subcommand of the binary.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":   {"run the gateway from a YAML config", runServe},
		"config":  {"work with config files (config check FILE)", runConfig},
		"version": {"print the version and source revision the binary was built from", runVersion},
		"usage":   {"check a signed usage statement and an operator's record (usage verify FILE)", runUsage},
		"vet":     {"vet a candidate provider against the admitted ones (vet URL --against CONFIG)", runVet},
	}
}

// siblings are the commands that run another binary of rpcmesh's, the
// test tools kept out of the gateway binary: each name maps to the binary
// and the arguments put before the user's.
func siblings() map[string]sibling {
	return map[string]sibling{
		"devnet": {"rpcmesh-devnet", nil, "docs/devnet.md"},
		"demo":   {"rpcmesh-devnet", []string{"demo"}, "docs/demo.md"},
		"chaos":  {"rpcmesh-devnet", []string{"chaos"}, "docs/reliability.md"},
		"bench":  {"rpcmesh-bench", nil, "internal/bench/README.md"},
	}
}

// newFlagSet is a subcommand's flag set: its errors, and its usage text
// when asked for or when a flag is wrong, go to stderr.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	return fs
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
	fmt.Fprintln(w, "\nrun 'rpcmesh <command> --help' for a command's flags\n\n"+
		"to test a gateway (binaries of their own, run when found beside rpcmesh or on PATH):\n"+
		"  devnet   real go-ethereum nodes with faults on demand, and the gateway in front (rpcmesh-devnet)\n"+
		"  demo     the devnet, the gateway, client traffic and a scripted outage timeline (rpcmesh-devnet demo)\n"+
		"  chaos    the fault matrix under checked traffic: a table of results (rpcmesh-devnet chaos)\n"+
		"  bench    JSON-RPC load generator (rpcmesh-bench)")
}

func main() {
	// The /metrics exposition's # HELP and # TYPE lines: a switch of the
	// metrics library that is global to the process, so it is set here
	// once, by the program, and never by a package.
	vm.ExposeMetadata(true)
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
	if sib, ok := siblings()[args[0]]; ok {
		return sib.run(args[0], args[1:], stderr)
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
		var ee *exitError
		if errors.As(err, &ee) && ee.err == nil {
			return ee.code // the command has said why
		}
		fmt.Fprintf(stderr, "rpcmesh %s: %v\n", args[0], err)
		if ee != nil {
			return ee.code
		}
		return 1
	}
	return 0
}

// exitError is a command's error with the exit status it stands for; with
// no err, the command has already said why.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }
