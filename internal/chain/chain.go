// Package chain builds and runs one served chain behind the front door:
// its providers, agreed head, router, pipeline, subscription hub, filter
// store, transaction broadcaster and inclusion watch. The front door
// (internal/server) gets from it a pipeline.Handler to send calls down, the
// hub for WebSocket subscriptions, and plain data for its headers, /status,
// /readyz, /transactions and metrics; it never reaches the parts behind.
package chain

import (
	"context"
	"log/slog"
	"sync"

	"github.com/rpcmesh/rpcmesh/internal/admission"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/incident"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/assemble"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/filters"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/subscribe"
	"github.com/rpcmesh/rpcmesh/internal/txbroadcast"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Chain is one served chain: its providers, agreed head, router and pipeline.
type Chain struct {
	cfg       *config.Chain
	head      *head.Tracker
	admission *admitting // provider stages, run-time providers (admission.go)
	router    *route.Router
	pipeline  pipeline.Handler
	hub       *subscribe.Hub // eth_subscribe over WS, fed by the agreed head
	filters   *filters.Store // eth_newFilter & co., fed by the hub
	bcast     *txbroadcast.Broadcaster
	watch     *txwatch.Watcher // accepted transactions until included
	verify    config.Verify    // the chain's verification settings
	audit     *chainAudit      // continuous audit and open scores (audit.go)
	lagLimit  uint64
	// readyStale is health.ready_stale_blocks: how many block times the
	// head may stand still before the chain is not ready.
	readyStale float64
	// answers counts what the chain answered clients (the outermost
	// handler); frozenBlocks is incidents.frozen_blocks; caps are the
	// routing's share caps, for the concentration incident.
	answers      *answerCounter
	frozenBlocks float64
	caps         [2]float64
	incidents    *incident.Detector // shared by the set's chains
}

// shared is what the chains of one gateway share (see Set).
type shared struct {
	metrics  *metrics.Metrics // the routers' Observer
	tx       *txwatch.Metrics
	verify   *metrics.Verify
	evidence *verify.EvidenceLog
	usage    *metering // nil: metering off (usage.go)
	// admission is the log of provider stage transitions (admission.go).
	admission *admission.Log
	// incidents is the set's detector, for the providers' states.
	incidents *incident.Detector
}

// newChain builds a chain's objects; nothing runs until Run is called.
func newChain(cfg *config.Config, ch *config.Chain, sh shared, logger *slog.Logger) *Chain {
	rt := ch.EffectiveRouting(cfg.Routing)
	c := &Chain{cfg: ch, lagLimit: ch.LagLimit(cfg.Health), readyStale: cfg.Health.ReadyStaleBlocks, incidents: sh.incidents,
		frozenBlocks: cfg.Incidents.FrozenBlocks, caps: [2]float64{rt.MaxOperatorShare, rt.MaxCloudShare}}
	c.head = head.New(head.Options{Agreement: ch.HeadAgreement, FinalityDepth: ch.FinalityDepth,
		StaleBlocks: cfg.Health.HeadStaleBlocks, Logger: logger.With("chain", ch.Name)})
	c.admission = newAdmitting(cfg, ch, sh, logger)
	var providers []*upstream.Provider
	for _, pc := range ch.Providers {
		providers = append(providers, c.newProvider(pc)) // admission.go
	}
	c.router = route.New(route.Options{
		Chain:           ch.Name,
		Routing:         rt,
		MaxLagBlocks:    c.lagLimit,
		ProviderTimeout: cfg.Health.ProviderTimeout.D(),
		Providers:       providers,
		Head:            c.head,
		Observer:        sh.observer(ch, c.operatorOf), // the metrics, and usage metering (usage.go)
		ProbationShare:  cfg.Admission.ProbationShare,
	})
	c.setStages()
	c.bcast, c.watch = newTxWatch(cfg, ch, c, sh.tx, logger)
	c.verify = ch.EffectiveVerify(cfg.Verify)
	c.audit = newAudit(cfg, ch, c, sh, logger)
	c.hub = newHub(cfg, c, logger)
	c.filters = filters.NewStore(c.hub, filters.Limits{MaxPerClient: cfg.Filters.MaxPerClient, MaxTotal: cfg.Filters.MaxTotal,
		MaxChanges: cfg.Filters.MaxChanges, MaxBytes: cfg.Filters.MaxChangesBytes, MaxTotalBytes: cfg.Filters.MaxTotalBytes, Timeout: cfg.Filters.Timeout.D()}, nil)
	// The hub's own fetches go to the pipeline itself; clients' calls
	// through the answer counter around it.
	c.pipeline = assemble.Build(assemble.Parts{Config: cfg, Chain: ch, Verify: c.verify, Head: c.head, Router: c.router,
		Watch: c.watch, Filters: c.filters, Evidence: sh.evidence, Metrics: sh.verify, Logger: logger})
	c.pipeline = c.admission.counted(sh.metered(ch, c.operatorOf, c.pipeline))
	c.answers = &answerCounter{next: c.pipeline, slow: cfg.Incidents.SlowAnswer.D()}
	return c
}

// Name is the chain's configured name.
func (c *Chain) Name() string { return c.cfg.Name }

// Handler is the chain's pipeline, its answers counted: the front door
// hands it every call.
func (c *Chain) Handler() pipeline.Handler { return c.answers }

// Verifies reports whether the chain verifies answers (so that a call's
// pipeline.Report says how its answer was established).
func (c *Chain) Verifies() bool { return c.verify.Enabled }

// Hub is the chain's subscription hub, for eth_subscribe over WebSocket.
func (c *Chain) Hub() *subscribe.Hub { return c.hub }

// pokeBehind asks providers whose known head is below n to poll now, so
// that they are not skipped for calls at the new head longer than needed.
func (c *Chain) pokeBehind(n uint64) {
	for _, p := range c.providers() {
		if h, _ := p.Head(); h.Number < n {
			p.Poke()
		}
	}
}

// Run runs every provider's health loop, the hub, the inclusion watch and
// the filter store's expiry until ctx ends, and returns when all stopped.
func (c *Chain) Run(ctx context.Context) {
	var wg sync.WaitGroup
	// admit runs every provider's health loop (admission.go).
	loops := []func(context.Context){c.hub.Run, c.watch.Run, c.filters.Run, c.audit.auditor.Run, c.admit}
	for _, run := range loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	wg.Wait()
}

// Close waits for transaction broadcasts still running. Call it after Run
// returned.
func (c *Chain) Close() { c.bcast.Close() }
