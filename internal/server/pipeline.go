package server

import (
	"log/slog"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/broadcast"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/filters"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/forward"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/limits"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/logs"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/methods"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/verify"
	"github.com/rpcmesh/rpcmesh/internal/verify/stage"
)

// buildPipeline wires the request path of one chain. This is the one place
// that says in which order a call meets the stages; new stages (cache,
// dedup, verify, broadcast) are added to this list.
//
//	limits → methods → filters → broadcast → blocktag → logs → verify → forward (route → upstream)
func buildPipeline(cfg *config.Config, ch *config.Chain, c *chain, evidence *verify.EvidenceLog, obs stage.Observer, logger *slog.Logger) pipeline.Handler {
	tracker, router, watch := c.head, c.router, c.watch
	capabilities := map[string]bool{}
	for _, p := range ch.Providers {
		capabilities["debug"] = capabilities["debug"] || p.Debug
		capabilities["trace"] = capabilities["trace"] || p.Trace
	}
	stages := []pipeline.Stage{
		// Bound the call's time and the size of its answer.
		limits.Stage(cfg.Limits.RequestTimeout.D(), cfg.Limits.MaxResponseBytes),
		// Refuse what is not served; answer chain ID and block number locally.
		func(next pipeline.Handler) pipeline.Handler {
			return &methods.Methods{Next: next, Chain: ch.Name, ChainID: ch.ChainID, Head: tracker, Capabilities: capabilities}
		},
		// Filters kept by the gateway over the agreed chain (fed by the
		// subscription hub; eth_getFilterLogs goes on as an eth_getLogs).
		func(next pipeline.Handler) pipeline.Handler {
			return &filters.Filters{Next: next, Store: c.filters}
		},
		// Transactions: check locally, fan out to distinct operators and
		// clouds, watch until included; status; "pending" nonce across operators.
		func(next pipeline.Handler) pipeline.Handler {
			return &broadcast.Broadcast{Next: next, Watch: watch, Limits: txbroadcast.Limits{
				ChainID: ch.ChainID, MaxTxBytes: cfg.Broadcast.MaxTxBytes, MaxBlobTxBytes: cfg.Broadcast.MaxBlobTxBytes}}
		},
		// Resolve latest/safe/finalized to agreed numbers; pin the call to its block.
		func(next pipeline.Handler) pipeline.Handler {
			return &blocktag.BlockTag{Next: next, Head: tracker}
		},
		// Bound and split eth_getLogs ranges.
		func(next pipeline.Handler) pipeline.Handler {
			return &logs.Splitter{Next: next, Head: tracker, MaxRange: cfg.Limits.MaxLogsBlockRange,
				Chunk: cfg.Limits.LogsSplitBlocks, Concurrency: 4}
		},
	}
	if c.verify.Enabled {
		// Prove state, blocks, receipts and logs against trusted headers;
		// settle the rest by a quorum of distinct operators, per method.
		stages = append(stages, stage.FromGateway(stage.Gateway{Chain: ch.Name, ChainID: ch.ChainID, Config: c.verify,
			Head: tracker, Router: router, Evidence: evidence, Observer: obs, Logger: logger}))
	}
	return pipeline.Chain(&forward.Forward{Router: router}, stages...)
}

// verifyObserver counts the verification stage's events in the metrics.
type verifyObserver struct{ m *metrics.Verify }

func (o verifyObserver) Answered(chain, method string, class stage.Class) {
	o.m.Answered(chain, method, string(class))
}

func (o verifyObserver) Rejected(chain, provider, method, kind string) {
	o.m.Rejected(chain, provider, method, kind)
}
