// Package devnetgw builds the gateway config for a devnet: one chain named
// "devnet" with every node as a provider, labels carried over, and health
// timings scaled to the devnet's fast blocks. The devnet command and the
// end-to-end tests share it.
package devnetgw

import (
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
)

// ChainName is the name of the devnet's chain in the gateway config.
const ChainName = "devnet"

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
