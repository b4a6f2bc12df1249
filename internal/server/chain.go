package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
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

// chain is one served chain: its providers, agreed head, router and pipeline.
type chain struct {
	cfg       *config.Chain
	head      *head.Tracker
	providers []*upstream.Provider
	router    *route.Router
	pipeline  pipeline.Handler
	hub       *subscribe.Hub // eth_subscribe over WS, fed by the agreed head
	filters   *filters.Store // eth_newFilter & co., fed by the hub
	bcast     *txbroadcast.Broadcaster
	watch     *txwatch.Watcher // accepted transactions until included
	verify    config.Verify    // the chain's verification settings
	lagLimit  uint64
	// readyStale is health.ready_stale_blocks: how many block times the
	// head may stand still before the chain is not ready.
	readyStale float64
}

// newChain builds a chain's objects; nothing runs until run is called.
func newChain(cfg *config.Config, ch *config.Chain, m *metrics.Metrics, txm *txwatch.Metrics, evidence *verify.EvidenceLog, vm *metrics.Verify, logger *slog.Logger) *chain {
	c := &chain{cfg: ch, lagLimit: ch.LagLimit(cfg.Health), readyStale: cfg.Health.ReadyStaleBlocks}
	c.head = head.New(head.Options{Agreement: ch.HeadAgreement, FinalityDepth: ch.FinalityDepth,
		StaleBlocks: cfg.Health.HeadStaleBlocks, Logger: logger.With("chain", ch.Name)})
	for _, pc := range ch.Providers {
		c.providers = append(c.providers, upstream.New(upstream.Options{
			Chain:            ch.Name,
			ChainID:          ch.ChainID,
			Provider:         pc,
			Health:           cfg.Health,
			MaxResponseBytes: cfg.Limits.MaxResponseBytes,
			Logger:           logger,
			BlockTime:        c.head.BlockTime,
			// Heads must hash to what they claim before they vote, when the
			// chain's headers can be hashed (verification on).
			CheckHeaderHash: ch.EffectiveVerify(cfg.Verify).Enabled,
			OnHeadLie: func(p *upstream.Provider, raw json.RawMessage, err error) {
				e := verify.NewEvidence(p.Name(), "eth_getBlockByNumber", json.RawMessage(`["latest",false]`), raw, err)
				e.Chain, e.Operator = ch.Name, p.Labels().Operator
				evidence.Record(e)
				vm.Rejected(ch.Name, p.Name(), "eth_getBlockByNumber", verify.Kind(err))
			},
			OnHead: func(p *upstream.Provider, b head.Block) {
				before, _ := c.head.Latest()
				c.head.Observe(p.Name(), p.Labels().Operator, b)
				if after, _ := c.head.Latest(); after.Number > before.Number {
					c.pokeBehind(after.Number)
				}
			},
			OnTag: func(p *upstream.Provider, tag string, n uint64) {
				c.head.ObserveTag(p.Labels().Operator, tag, n)
			},
		}))
	}
	c.router = route.New(route.Options{
		Chain:           ch.Name,
		Routing:         ch.EffectiveRouting(cfg.Routing),
		MaxLagBlocks:    c.lagLimit,
		ProviderTimeout: cfg.Health.ProviderTimeout.D(),
		Providers:       c.providers,
		Head:            c.head,
		Observer:        m,
	})
	c.bcast, c.watch = newTxWatch(cfg, ch, c, txm, logger)
	c.verify = ch.EffectiveVerify(cfg.Verify)
	c.hub = newHub(cfg, c, logger)
	c.filters = filters.NewStore(c.hub, filters.Limits{MaxPerClient: cfg.Filters.MaxPerClient, MaxTotal: cfg.Filters.MaxTotal,
		MaxChanges: cfg.Filters.MaxChanges, MaxBytes: cfg.Filters.MaxChangesBytes, MaxTotalBytes: cfg.Filters.MaxTotalBytes, Timeout: cfg.Filters.Timeout.D()}, nil)
	c.pipeline = assemble.Build(assemble.Parts{Config: cfg, Chain: ch, Verify: c.verify, Head: c.head, Router: c.router,
		Watch: c.watch, Filters: c.filters, Evidence: evidence, Metrics: vm, Logger: logger})
	return c
}

// pokeBehind asks providers whose known head is below n to poll now, so
// that they are not skipped for calls at the new head longer than needed.
func (c *chain) pokeBehind(n uint64) {
	for _, p := range c.providers {
		if h, _ := p.Head(); h.Number < n {
			p.Poke()
		}
	}
}

// run starts every provider's health loop; they stop when ctx ends.
func (c *chain) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.hub.Run(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.watch.Run(ctx)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.filters.Run(ctx)
	}()
	for _, p := range c.providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(ctx)
		}()
	}
}

// ready reports whether the chain serves fresh answers: it has an agreed
// head (full or degraded), the head moved within ready_stale_blocks block
// times, and a provider is usable. When not, why.
func (c *chain) ready() (bool, string) {
	if _, ok := c.head.Latest(); !ok {
		return false, "no agreed head"
	}
	if bt := c.head.BlockTime(); c.readyStale > 0 && bt > 0 {
		if age := c.head.HeadAge(); age > time.Duration(c.readyStale*float64(bt)) {
			return false, fmt.Sprintf("head has not moved for %s (block time %s)", age.Round(time.Millisecond), bt)
		}
	}
	now := time.Now()
	for _, p := range c.providers {
		if s := p.Snapshot(now); s.Usable() {
			return true, ""
		}
	}
	return false, "no usable provider"
}
