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

// moved are the commands that were subcommands of rpcmesh before they
// became commands of their own: asked for, rpcmesh says where they are.
func moved() map[string]string {
	return map[string]string{
		"devnet": "the devnet is its own command: go run ./cmd/rpcmesh-devnet [flags] (or rpcmesh-devnet, installed); see docs/devnet.md",
		"bench":  "the load generator is its own command: go run ./cmd/rpcmesh-bench [flags] (or rpcmesh-bench, installed); see internal/bench/README.md",
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
	fmt.Fprintln(w, "\nrun 'rpcmesh <command> --help' for a command's flags\n\n"+
		"to test a gateway: rpcmesh-devnet (real go-ethereum nodes with faults on demand, and the\n"+
		"gateway in front of them) and rpcmesh-bench (JSON-RPC load generator), commands of their own")
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
	if where, ok := moved()[args[0]]; ok {
		fmt.Fprintf(stderr, "rpcmesh %s: %s\n", args[0], where)
		return 2
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
