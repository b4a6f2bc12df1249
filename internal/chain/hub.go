package chain

import (
	"context"
	"log/slog"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/subscribe"
)

// newHub builds a chain's subscription hub: heads and logs from the agreed
// head through the chain's pipeline, pending transactions from every
// provider: its WS feed, or polling it over HTTP (through the same
// *upstream.Provider as routed calls, so its limits apply).
func newHub(cfg *config.Config, c *Chain, logger *slog.Logger) *subscribe.Hub {
	sources := make([]subscribe.PendingSource, 0, len(c.providers()))
	for _, p := range c.providers() {
		sources = append(sources, subscribe.PendingSource{Name: p.Name(), WS: p.Config().WS, Poll: p})
	}
	return subscribe.New(subscribe.Options{
		Head: c.head,
		// The pipeline is built after the hub (its filter stage is fed by
		// the hub); it is read when the hub first fetches.
		Fetch: pipeline.HandlerFunc(func(ctx context.Context, wave []*pipeline.Call) {
			c.pipeline.Handle(ctx, wave)
		}),
		Pending:         sources,
		PendingPoll:     cfg.WebSocket.PendingPollInterval.D(),
		PendingFallback: cfg.WebSocket.PendingWSFallback.D(),
		CallTimeout:     cfg.Health.ProviderTimeout.D(),
		Logger:          logger.With("chain", c.cfg.Name),
	})
}
