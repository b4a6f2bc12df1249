package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
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
	batches   pipeline.BatchHandler // the pipeline, when it takes a batch's waves whole; else nil
	hub       *subscribe.Hub        // eth_subscribe over WS, fed by the agreed head
	filters   *filters.Store        // eth_newFilter & co., fed by the hub
	bcast     *txbroadcast.Broadcaster
	watch     *txwatch.Watcher // accepted transactions until included
	verify    config.Verify    // the chain's verification settings
	lagLimit  uint64
}

// newChain builds a chain's objects; nothing runs until run is called.
func newChain(cfg *config.Config, ch *config.Chain, m *metrics.Metrics, txm *txwatch.Metrics, evidence *verify.EvidenceLog, vm *metrics.Verify, logger *slog.Logger) *chain {
	c := &chain{cfg: ch, head: head.NewTracker(ch.HeadAgreement, ch.FinalityDepth, logger.With("chain", ch.Name)), lagLimit: ch.LagLimit(cfg.Health)}
	for _, pc := range ch.Providers {
		c.providers = append(c.providers, upstream.New(upstream.Options{
			Chain:            ch.Name,
			ChainID:          ch.ChainID,
			Provider:         pc,
			Health:           cfg.Health,
			MaxResponseBytes: cfg.Limits.MaxResponseBytes,
			Logger:           logger,
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
	c.pipeline = buildPipeline(cfg, ch, c, evidence, verifyObserver{vm}, logger)
	if pipeline.CanBatch(c.pipeline) {
		c.batches = c.pipeline.(pipeline.BatchHandler)
	}
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

// ready reports whether the chain has an agreed head and a usable provider.
func (c *chain) ready() bool {
	if _, ok := c.head.Latest(); !ok {
		return false
	}
	now := time.Now()
	for _, p := range c.providers {
		if s := p.Snapshot(now); s.Usable() {
			return true
		}
	}
	return false
}
