// Package assemble wires the request path of one chain: the one place that
// says in which order a call meets the stages. It is the only package that
// imports every stage; the front door (internal/server) imports it and the
// pipeline core, never a stage.
package assemble

import (
	"log/slog"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/blocktag"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/broadcast"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/filters"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/forward"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/limits"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/logs"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/methods"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/verification"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Parts are what one chain of the gateway gives its pipeline.
type Parts struct {
	Config   *config.Config
	Chain    *config.Chain
	Verify   config.Verify // the chain's effective verification settings
	Head     *head.Tracker
	Router   *route.Router
	Watch    *txwatch.Watcher    // accepted transactions until included
	Filters  *filters.Store      // the gateway's own filters
	Evidence *verify.EvidenceLog // failed verifications, served by the admin listener
	Metrics  *metrics.Verify     // the verification stage's counts
	Logger   *slog.Logger
}

// Build wires the request path of one chain. New stages (cache, dedup)
// are added to this list.
//
//	limits → methods → filters → broadcast → blocktag → logs → verify → forward (route → upstream)
func Build(p Parts) pipeline.Handler {
	cfg, ch := p.Config, p.Chain
	capabilities := map[string]bool{}
	for _, pc := range ch.Providers {
		capabilities["debug"] = capabilities["debug"] || pc.Debug
		capabilities["trace"] = capabilities["trace"] || pc.Trace
	}
	stages := []pipeline.Stage{
		// Bound the call's time and the size of its answer.
		limits.Stage(cfg.Limits.RequestTimeout.D(), cfg.Limits.MaxResponseBytes),
		// Refuse what is not served; answer chain ID and block number locally.
		func(next pipeline.Handler) pipeline.Handler {
			return &methods.Methods{Next: next, Chain: ch.Name, ChainID: ch.ChainID, Head: p.Head, Capabilities: capabilities}
		},
		// Filters kept by the gateway over the agreed chain (fed by the
		// subscription hub; eth_getFilterLogs goes on as an eth_getLogs).
		func(next pipeline.Handler) pipeline.Handler {
			return &filters.Filters{Next: next, Store: p.Filters}
		},
		// Transactions: check locally, fan out to distinct operators and
		// clouds, watch until included; status; "pending" nonce across operators.
		func(next pipeline.Handler) pipeline.Handler {
			return &broadcast.Broadcast{Next: next, Watch: p.Watch, Limits: txbroadcast.Limits{
				ChainID: ch.ChainID, MaxTxBytes: cfg.Broadcast.MaxTxBytes, MaxBlobTxBytes: cfg.Broadcast.MaxBlobTxBytes}}
		},
		// Parse the block param once; resolve latest/safe/finalized to agreed
		// numbers; resolve and check eth_getLogs ranges; pin the call to its block.
		func(next pipeline.Handler) pipeline.Handler {
			return &blocktag.BlockTag{Next: next, Head: p.Head}
		},
		// Bound and split eth_getLogs ranges.
		func(next pipeline.Handler) pipeline.Handler {
			return &logs.Splitter{Next: next, MaxRange: cfg.Limits.MaxLogsBlockRange, Chunk: cfg.Limits.LogsSplitBlocks, Concurrency: 4}
		},
	}
	if p.Verify.Enabled {
		// Prove state, blocks, receipts and logs against trusted headers;
		// settle the rest by a quorum of distinct operators, per method.
		stages = append(stages, verification.FromGateway(verification.Gateway{Chain: ch.Name, ChainID: ch.ChainID, Config: p.Verify,
			Head: p.Head, Router: p.Router, Evidence: p.Evidence, Observer: verifyObserver{p.Metrics}, Logger: p.Logger}))
	}
	return pipeline.Chain(&forward.Forward{Router: p.Router}, stages...)
}

// verifyObserver counts the verification stage's events in the metrics.
type verifyObserver struct{ m *metrics.Verify }

func (o verifyObserver) Answered(chain, method string, class pipeline.Class) {
	o.m.Answered(chain, method, string(class))
}

func (o verifyObserver) Rejected(chain, provider, method, kind string) {
	o.m.Rejected(chain, provider, method, kind)
}
