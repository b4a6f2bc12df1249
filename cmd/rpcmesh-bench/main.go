// Command rpcmesh-bench is the JSON-RPC load generator (HTTP and WebSocket,
// HDR latency histograms), with `upstream`, a trivial in-memory upstream to
// measure a gateway's own overhead, and `floor`, an HTTP server that does
// nothing but answer (see internal/bench/README.md). It is a command of its
// own so that the gateway binary, rpcmesh, does not carry the load tool.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/rpcmesh/rpcmesh/internal/bench"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the load generator (or its upstream or floor server) until it
// is done or SIGINT or SIGTERM arrives, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench.Main(ctx, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "rpcmesh-bench: %v\n", err)
		return 1
	}
	return 0
}
