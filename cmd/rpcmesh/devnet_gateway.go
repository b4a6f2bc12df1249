package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

// devnetGateway is the gateway running in front of the devnet.
type devnetGateway struct {
	info  devnet.GatewayInfo
	close func()
}

// startDevnetGateway runs the gateway with a config generated from the
// devnet's nodes, and returns once every chain is ready.
func startDevnetGateway(ctx context.Context, info devnet.Info, listen, admin string, log *slog.Logger) (*devnetGateway, error) {
	cfg := config.Default()
	cfg.Server.Listen, cfg.Admin.Listen = listen, admin
	// Devnet blocks come every second: poll and probe faster than for mainnet.
	cfg.Health.PollInterval = config.Duration(500 * time.Millisecond)
	cfg.Health.ProbeInterval = config.Duration(time.Second)
	cfg.Health.BreakerCooldown = config.Duration(2 * time.Second)
	ch := config.DefaultChain()
	ch.Name, ch.ChainID = "devnet", info.ChainID
	for _, n := range info.Nodes {
		p := config.DefaultProvider()
		p.Name, p.HTTP, p.WS = n.Name, n.HTTP, n.WS
		p.Labels = config.Labels{Operator: n.Labels.Operator, Cloud: n.Labels.Cloud, Region: n.Labels.Region, Tier: n.Labels.Tier}
		ch.Providers = append(ch.Providers, p)
	}
	cfg.Chains = []config.Chain{ch}
	cfg.Complete()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gw, err := server.New(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := gw.Start(ctx); err != nil {
		return nil, err
	}
	closeGW := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = gw.Close(sctx)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := gw.Ready(rctx); err != nil {
		closeGW()
		return nil, err
	}
	gi := devnet.GatewayInfo{HTTP: "http://" + gw.HTTPAddr() + "/devnet"}
	if a := gw.AdminAddr(); a != "" {
		gi.Admin = "http://" + a
	}
	return &devnetGateway{info: gi, close: closeGW}, nil
}
