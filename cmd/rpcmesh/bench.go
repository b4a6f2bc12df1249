package main

import (
	"context"
	"io"

	"github.com/rpcmesh/rpcmesh/internal/bench"
)

// runBench runs `rpcmesh bench`: the JSON-RPC load generator, or with
// `upstream` the trivial in-memory upstream (see internal/bench/README.md).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return bench.Main(ctx, args, stdout, stderr)
}
