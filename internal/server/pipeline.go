package server

import (
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/broadcast"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/forward"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/limits"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/logs"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/methods"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

// buildPipeline wires the request path of one chain. This is the one place
// that says in which order a call meets the stages; new stages (cache,
// dedup, verify, broadcast) are added to this list.
//
//	limits → methods → broadcast → blocktag → logs → forward (route → upstream)
func buildPipeline(cfg *config.Config, ch *config.Chain, tracker *head.Tracker, router *route.Router, watch *txwatch.Watcher) pipeline.Handler {
	capabilities := map[string]bool{}
	for _, p := range ch.Providers {
		capabilities["debug"] = capabilities["debug"] || p.Debug
		capabilities["trace"] = capabilities["trace"] || p.Trace
	}
	return pipeline.Chain(&forward.Forward{Router: router},
		// Bound the call's time and the size of its answer.
		limits.Stage(cfg.Limits.RequestTimeout.D(), cfg.Limits.MaxResponseBytes),
		// Refuse what is not served; answer chain ID and block number locally.
		func(next pipeline.Handler) pipeline.Handler {
			return &methods.Methods{Next: next, Chain: ch.Name, ChainID: ch.ChainID, Head: tracker, Capabilities: capabilities}
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
	)
}
