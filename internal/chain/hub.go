package chain

import (
	"context"
	"log/slog"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/subscribe"
)

// newHub builds a chain's subscription hub: heads and logs from the agreed
// head through the chain's pipeline, pending transactions from the
// admitted providers as they are now (pendingSources).
func newHub(cfg *config.Config, c *Chain, logger *slog.Logger) *subscribe.Hub {
	return subscribe.New(subscribe.Options{
		Head: c.head,
		// The pipeline is built after the hub (its filter stage is fed by
		// the hub); it is read when the hub first fetches.
		Fetch: pipeline.HandlerFunc(func(ctx context.Context, wave []*pipeline.Call) {
			c.pipeline.Handle(ctx, wave)
		}),
		Pending:         c.pendingSources,
		PendingPoll:     cfg.WebSocket.PendingPollInterval.D(),
		PendingFallback: cfg.WebSocket.PendingWSFallback.D(),
		CallTimeout:     cfg.Health.ProviderTimeout.D(),
		Logger:          logger.With("chain", c.cfg.Name),
	})
}

// pendingSources are the admitted providers, as they are now: each one's WS
// feed, or polling it over HTTP (through the same *upstream.Provider as
// routed calls, so its limits apply). Pending hashes are data no proof
// covers, so a provider on probation or a candidate gives none, as it
// casts no vote.
func (c *Chain) pendingSources() []subscribe.PendingSource {
	ps := c.admitted()
	sources := make([]subscribe.PendingSource, 0, len(ps))
	for _, p := range ps {
		sources = append(sources, subscribe.PendingSource{Name: p.Name(), WS: p.Config().WS, Poll: p})
	}
	return sources
}
