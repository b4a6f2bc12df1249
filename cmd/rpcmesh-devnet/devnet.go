// Command rpcmesh-devnet runs real go-ethereum nodes as one chain on
// 127.0.0.1, each behind a fault proxy, a control API to stage faults, and
// (unless --gateway=false) the rpcmesh gateway in front of them, in one
// process (see docs/devnet.md). It is a command of its own so that the
// gateway binary, rpcmesh, links no Ethereum node.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/hangup"
)

func main() {
	// The /metrics exposition's # HELP and # TYPE lines: a switch of the
	// metrics library that is global to the process, so it is set here
	// once, by the program, and never by a package.
	vm.ExposeMetadata(true)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the devnet until SIGINT or SIGTERM, and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sub := runDevnet
	if len(args) > 0 {
		switch args[0] {
		case "chaos":
			sub, args = runChaos, args[1:]
		case "demo":
			sub, args = runDemo, args[1:]
		}
	}
	if err := sub(ctx, args, stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "rpcmesh-devnet: %v\n", err)
		return 1
	}
	return 0
}

// runDevnet starts the devnet, its control API and (unless disabled) the
// gateway in front of it, prints where everything is, and runs until ctx ends.
func runDevnet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	hup := hangup.Catch()
	defer hup.Stop()
	fs := newFlagSet("rpcmesh-devnet", "usage: rpcmesh-devnet [flags]\n       rpcmesh-devnet demo [flags]   (a scripted outage timeline: docs/demo.md)\n       rpcmesh-devnet chaos [flags]  (the fault matrix: docs/reliability.md)\n\nRuns real go-ethereum nodes as one chain on 127.0.0.1, each behind a fault\nproxy, with a control API to stage faults, and the rpcmesh gateway in front\nof them (see docs/devnet.md).\n\nflags:", stderr)
	var (
		opts      devnet.Options
		control   = fs.String("control", "127.0.0.1:8600", "address of the fault control API (port 0 picks a free one)")
		out       = fs.String("out", "", "write the devnet description (nodes, accounts, control and gateway URLs) as JSON to this file")
		gateway   = fs.Bool("gateway", true, "also run the rpcmesh gateway in front of the nodes")
		gwListen  = fs.String("gateway-listen", "127.0.0.1:8545", "gateway address (port 0 picks a free one)")
		gwAdmin   = fs.String("gateway-admin", "127.0.0.1:9545", "gateway admin address (metrics, status)")
		_         = fs.String("log-level", "info", "log level: debug, info, warn, error") // parseFlags reads it
		blockTime = fs.Duration("block-time", time.Second, "time between blocks (100ms to 1m)")
	)
	fs.IntVar(&opts.Nodes, "nodes", 5, "number of nodes (1 to 32)")
	fs.Uint64Var(&opts.ChainID, "chain-id", 1337, "chain ID")
	fs.StringVar(&opts.Seed, "seed", "rpcmesh devnet", "seed the prefunded account keys are derived from")
	fs.IntVar(&opts.Accounts, "accounts", 10, "number of prefunded accounts")
	fs.IntVar(&opts.BasePort, "base-port", 0, "node i's endpoint listens on base-port+i-1 (0: free ports)")
	log, err := parseFlags(fs, args, stderr)
	if err != nil {
		return err
	}
	if opts.Nodes < 1 {
		return fmt.Errorf("--nodes must be at least 1, got %d", opts.Nodes)
	}
	opts.BlockTime = *blockTime
	opts.Logger = log
	hup.Ignore(ctx, log, "the devnet has nothing to reload; Ctrl-C or SIGTERM stops it")
	quietGeth()

	started := time.Now()
	d, err := devnet.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if err := d.Close(); err != nil {
			log.Error("devnet: close", "err", err)
		}
		log.Info("devnet stopped")
	}()
	ln, err := net.Listen("tcp", *control)
	if err != nil {
		return fmt.Errorf("control API: %w", err)
	}
	info := d.Info()
	info.Control = "http://" + ln.Addr().String()
	if *gateway {
		gw, err := startDevnetGateway(ctx, info, *gwListen, *gwAdmin, log)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		defer gw.close()
		info.Gateway = &gw.info
	}
	srv := &http.Server{Handler: d.ControlHandler(func() devnet.Info { return info }), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	if *out != "" {
		b, _ := json.MarshalIndent(info, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("write --out: %w", err)
		}
	}
	printDevnet(stdout, info, time.Since(started))
	<-ctx.Done()
	log.Info("devnet: shutting down")
	return nil
}

func printDevnet(w io.Writer, info devnet.Info, took time.Duration) {
	fmt.Fprintf(w, "rpcmesh-devnet: chain %d, %d nodes, ready in %s\n\n", info.ChainID, len(info.Nodes), took.Round(time.Millisecond))
	if info.Gateway != nil {
		fmt.Fprintf(w, "gateway   %s   %s   admin %s\n", info.Gateway.HTTP, info.Gateway.WS, info.Gateway.Admin)
		if u, err := url.Parse(info.Gateway.HTTP); err == nil {
			u.Path = "/"
			fmt.Fprintf(w, "status    %s   (the live status page: incidents, operators, charts)\n", u)
		}
		fmt.Fprintln(w)
	}
	for _, n := range info.Nodes {
		fmt.Fprintf(w, "%-7s %-24s %-24s operator=%s cloud=%s region=%s tier=%s\n", n.Name, n.HTTP, n.WS, n.Labels.Operator, n.Labels.Cloud, n.Labels.Region, n.Labels.Tier)
	}
	fmt.Fprintf(w, "\ncontrol   %s   (e.g. curl -X POST %s/faults -d '{\"target\":\"cloud=aws\",\"kind\":\"down\"}')\n\naccounts (1,000,000 ETH each):\n", info.Control, info.Control)
	for _, a := range info.Accounts {
		fmt.Fprintf(w, "  %s  %s\n", a.Address, a.PrivateKey)
	}
	fmt.Fprintln(w, "\nCtrl-C stops everything.")
}
