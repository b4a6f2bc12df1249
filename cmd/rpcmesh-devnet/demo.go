package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/chaos"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
)

// runDemo runs the devnet and the gateway, steady client traffic, and the
// scripted timeline (docs/demo.md), narrating each step, then prints the
// closing summary.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rpcmesh-devnet demo", "usage: rpcmesh-devnet demo [flags]\n\nRuns a devnet, the gateway in front of it and steady client traffic, then\nstages an AWS-wide outage, a lying provider, a censoring provider, a reorg\nand a frozen head, narrating what the gateway sees; watch the status page\n(see docs/demo.md).\n\nflags:", stderr)
	var (
		listen    = fs.String("gateway-listen", "127.0.0.1:8545", "gateway address: JSON-RPC at /devnet, the status page at / (port 0 picks a free one)")
		admin     = fs.String("gateway-admin", "127.0.0.1:9545", "gateway admin address (metrics, status); empty for none")
		control   = fs.String("control", "127.0.0.1:8600", "devnet fault control API, to stage more faults by hand; empty for none")
		blockTime = fs.Duration("block-time", time.Second, "time between blocks (100ms to 1m)")
		hold      = fs.Uint64("hold-blocks", 15, "how many blocks each step of the timeline lasts")
		_         = fs.String("log-level", "error", "gateway and devnet log level: debug, info, warn, error") // parseFlags reads it
	)
	log, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if *hold < 1 {
		return fmt.Errorf("--hold-blocks must be at least 1")
	}
	quietGeth()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	env, err := chaos.StartEnv(sctx, chaos.EnvOptions{BlockTime: *blockTime, Listen: *listen, Admin: *admin, Logger: log})
	cancel()
	if err != nil {
		return err
	}
	defer env.Close()
	if *control != "" {
		ln, err := net.Listen("tcp", *control)
		if err != nil {
			return fmt.Errorf("control API: %w", err)
		}
		info := env.Devnet.Info()
		info.Control = "http://" + ln.Addr().String()
		srv := &http.Server{Handler: env.Devnet.ControlHandler(func() devnet.Info { return info }), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		*control = info.Control
	}
	fmt.Fprintf(stdout, "rpcmesh demo: 5 go-ethereum nodes (%s blocks), the rpcmesh gateway in front of them, client traffic,\n"+
		"and a scripted timeline: an AWS-wide outage, a lying provider, a censoring provider, a reorg, a frozen head.\n\n", *blockTime)
	fmt.Fprintf(stdout, "status page  %s   (open it in a browser and watch each step)\n", env.PageURL())
	fmt.Fprintf(stdout, "JSON-RPC     %s   %s\n", env.HTTP, env.WS)
	if *control != "" {
		fmt.Fprintf(stdout, "faults       %s/faults   (stage more by hand: docs/devnet.md)\n", *control)
	}
	fmt.Fprintln(stdout)
	sum, err := chaos.Demo(ctx, env, stdout, chaos.DemoOptions{HoldBlocks: *hold})
	chaos.WriteSummary(stdout, sum)
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
