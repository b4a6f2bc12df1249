// Package devnetgw builds the gateway config for a devnet: one chain named
// "devnet" with every node as a provider, labels carried over, and health
// timings scaled to the devnet's fast blocks. The devnet command and the
// end-to-end tests share it.
package devnetgw

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

// ChainName is the name of the devnet's chain in the gateway config.
const ChainName = "devnet"

// URL is the devnet chain's HTTP endpoint on gw's public listener.
func URL(gw *server.Gateway) string { return "http://" + gw.HTTPAddr() + "/" + ChainName }

// WSURL is the devnet chain's WebSocket endpoint on gw's public listener.
func WSURL(gw *server.Gateway) string { return "ws://" + gw.HTTPAddr() + "/" + ChainName }

// Config returns a complete, valid-by-construction gateway config in front
// of the devnet's nodes, listening on listen (admin on admin).
func Config(info devnet.Info, listen, admin string) *config.Config {
	cfg := config.Default()
	cfg.Server.Listen, cfg.Admin.Listen = listen, admin
	// Devnet blocks come every 0.5–1 s: poll and probe faster than for mainnet.
	cfg.Health.PollInterval = config.Duration(200 * time.Millisecond)
	cfg.Health.ProbeInterval = config.Duration(200 * time.Millisecond)
	cfg.Health.ChainIDInterval = config.Duration(2 * time.Second)
	cfg.Health.BreakerFailures = 3
	cfg.Health.BreakerCooldown = config.Duration(500 * time.Millisecond)
	cfg.Health.ProviderTimeout = config.Duration(2 * time.Second)
	cfg.Health.MaxLagBlocks = 3
	cfg.Routing.HedgeMaxDelay = config.Duration(300 * time.Millisecond)
	cfg.Routing.RetryBackoff = config.Duration(10 * time.Millisecond)
	// Incidents as fast as the devnet's faults: a cloud outage shows
	// within 3 s and its end within 3 s of recovery, a frozen head within
	// 3 block times.
	cfg.Incidents.EvaluateInterval = config.Duration(200 * time.Millisecond)
	cfg.Incidents.OpenAfter = config.Duration(time.Second)
	cfg.Incidents.CloseAfter = config.Duration(1500 * time.Millisecond)
	cfg.Incidents.FrozenBlocks = 2
	cfg.Incidents.SlowAnswer = config.Duration(time.Second)
	ch := config.DefaultChain()
	ch.Name, ch.ChainID = ChainName, info.ChainID
	for _, n := range info.Nodes {
		p := config.DefaultProvider()
		p.Name, p.HTTP, p.WS = n.Name, n.HTTP, n.WS
		p.Labels = config.Labels{Operator: n.Labels.Operator, Cloud: n.Labels.Cloud, Region: n.Labels.Region, Tier: n.Labels.Tier}
		ch.Providers = append(ch.Providers, p)
	}
	cfg.Chains = []config.Chain{ch}
	cfg.Complete()
	return cfg
}

// Start validates cfg, runs a gateway with it and waits (bounded by ctx)
// until every chain has an agreed head and a usable provider.
func Start(ctx context.Context, cfg *config.Config, log *slog.Logger) (*server.Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("devnet gateway config: %w", err)
	}
	gw, err := server.New(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := gw.Start(ctx); err != nil {
		return nil, err
	}
	if err := gw.Ready(ctx); err != nil {
		Stop(gw)
		return nil, fmt.Errorf("gateway not ready: %w", err)
	}
	return gw, nil
}

// Stop drains and closes a gateway, waiting at most 10 s.
func Stop(gw *server.Gateway) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = gw.Close(ctx)
}
