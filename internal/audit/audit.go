// Package audit is the continuous audit of a chain's providers: every
// provider, reserve tiers that get no traffic included, is sent a steady,
// bounded trickle of calls at random recent blocks and accounts (a block
// by number against the header the admitted operators agree on; an
// account's eth_getProof against that header's stateRoot, then its
// eth_getBalance or eth_getTransactionCount against the proven value). A
// proven lie penalises the provider through its integrity penalty (reason
// "audit", as a failed verification does) and is kept as evidence of kind
// "audit"; a call that fails for transport reasons counts in the
// provider's availability, and a block or state the provider does not
// have is no lie. Audit calls go to each provider directly, never through
// routing, so they count in neither route shares nor metering.
//
// A second loop per provider, the propagation check (propagate.go), hands
// transactions users sent through the gateway to providers the broadcast
// did not send them to: one that acknowledges a transaction and still does
// not know it after a bounded wait, while another operator does, is
// penalised as a censor.
//
// The package also keeps penalties, the evidence log and audit results in
// the embedded store (Keeper) and builds the open scores (Scores).
package audit

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"golang.org/x/time/rate"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// Reason is the penalty reason and evidence kind of a failed audit.
const Reason = "audit"

// Options configure one chain's Auditor.
type Options struct {
	Chain  string
	Config config.Audit
	// Providers are the chain's providers now (they may change at run
	// time: admission); Run audits each while it is among them.
	Providers func() []*upstream.Provider
	// Trust gives the headers the admitted operators agree on (the agreed
	// head and the headers linked to it).
	Trust verify.TrustSource
	// Head is the agreed head's number; Finalized the agreed finalized
	// block's (a different block at or below it is a lie, above it maybe
	// another fork).
	Head, Finalized func() (uint64, bool)
	ChainConfig     *params.ChainConfig // to verify blocks' transactions
	Evidence        *verify.EvidenceLog
	Results         *Results // where outcomes are counted (nil: a new one)
	// Rejected, when set, is told of every failed check (provider, method,
	// kind "audit"), as the verification stage tells of every rejected
	// answer: rpcmesh_verify_rejected_total counts what the evidence holds.
	Rejected func(provider, method, kind string)
	// Audited, when set, is told of every check that proved an answer right
	// (passed) or wrong: usage metering counts audit results per provider.
	Audited func(provider string, passed bool)
	// Sent, when set, gives the transactions users sent through the
	// gateway: the propagation check (audit.propagation) hands them to
	// providers the broadcast did not send them to.
	Sent   SentSource
	Logger *slog.Logger
}

// Auditor audits one chain's providers. Build it with New, run it with Run.
type Auditor struct {
	o     Options
	sem   chan struct{} // a slot per check running at once
	addrs *addressPool
}

// New builds an auditor; nothing runs until Run.
func New(o Options) *Auditor {
	if o.Results == nil {
		o.Results = NewResults()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ChainConfig == nil {
		o.ChainConfig = verify.ChainConfigFor(0) // every fork from genesis
	}
	a := &Auditor{o: o, sem: make(chan struct{}, max(o.Config.Concurrency, 1)), addrs: newAddressPool(addressPoolSize)}
	for _, s := range o.Config.Addresses {
		a.addrs.pin(common.HexToAddress(s))
	}
	return a
}

// provider is the provider named name among those audited now, or nil.
func (a *Auditor) provider(name string) *upstream.Provider {
	for _, p := range a.o.Providers() {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Results are the auditor's outcomes per provider.
func (a *Auditor) Results() *Results { return a.o.Results }

// rosterEvery is how often Run looks for providers added or removed at
// run time.
const rosterEvery = time.Second

// Run audits every provider until ctx ends, starting the audit of a
// provider added at run time and stopping that of one removed within
// rosterEvery; a nil Auditor returns at once.
func (a *Auditor) Run(ctx context.Context) {
	if a == nil {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	propagation := a.o.Sent != nil && a.o.Config.Propagation.Enabled
	running := map[*upstream.Provider]context.CancelFunc{}
	defer func() {
		for _, stop := range running {
			stop()
		}
	}()
	tick := time.NewTicker(rosterEvery)
	defer tick.Stop()
	for {
		now := a.o.Providers()
		for _, p := range now {
			if _, ok := running[p]; !ok {
				pctx, stop := context.WithCancel(ctx)
				running[p] = stop
				wg.Go(func() { a.loop(pctx, p) })
				if propagation {
					wg.Go(func() { a.propagationLoop(pctx, p) })
				}
			}
		}
		for p, stop := range running {
			if !slices.Contains(now, p) {
				stop()
				delete(running, p)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// loop runs p's checks, as many calls a minute as audit.calls_per_minute
// allows, alternating a block check and a state check.
func (a *Auditor) loop(ctx context.Context, p *upstream.Provider) {
	perMinute := a.o.Config.CallsPerMinute
	lim := rate.NewLimiter(rate.Limit(perMinute/60), maxCallsPerCheck)
	// The first check waits its share of the rate too: the bucket starts
	// empty, so a restart is no burst.
	lim.AllowN(time.Now(), maxCallsPerCheck)
	for i := rand.IntN(2); ; i++ {
		kind := checkKind(i % 2)
		if err := lim.WaitN(ctx, kind.calls()); err != nil {
			return
		}
		select {
		case a.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		a.runCheck(ctx, p, kind)
		<-a.sem
	}
}

// runCheck runs one check of p, bounded by audit.timeout, and records its
// outcome; a check the gateway could not set up (no agreed header yet) is
// not counted.
func (a *Auditor) runCheck(ctx context.Context, p *upstream.Provider, kind checkKind) {
	cctx, cancel := context.WithTimeout(ctx, a.o.Config.Timeout.D())
	defer cancel()
	h, ok := a.pickHeader(cctx)
	if !ok {
		return
	}
	var f finding
	switch kind {
	case checkBlock:
		f = a.checkBlock(cctx, p, h)
	default:
		f = a.checkState(cctx, p, h)
	}
	if ctx.Err() != nil || f.skip {
		return // the gateway is stopping, or the check could not be made
	}
	a.record(p, f)
}

// record counts a check's outcome; a failed one is rejected (evidence and
// penalty) first.
func (a *Auditor) record(p *upstream.Provider, f finding) {
	var id uint64
	if f.outcome == Failed {
		id = a.reject(p, f)
	}
	a.o.Results.Add(p.Name(), f.outcome, time.Now(), id)
	if a.o.Audited != nil && (f.outcome == Passed || f.outcome == Failed) {
		a.o.Audited(p.Name(), f.outcome == Passed)
	}
}

// pickHeader returns the agreed header of a random block between one and
// audit.depth blocks below the agreed head.
func (a *Auditor) pickHeader(ctx context.Context) (*types.Header, bool) {
	top, ok := a.o.Head()
	if !ok || top < 2 {
		return nil, false
	}
	depth := uint64(max(a.o.Config.Depth, 1))
	n := top - 1 - rand.Uint64N(min(depth, top-1))
	h, err := a.o.Trust.HeaderByNumber(ctx, n)
	if err != nil {
		a.o.Logger.Debug("audit: no agreed header", "chain", a.o.Chain, "block", n, "err", err)
		return nil, false
	}
	return h, true
}

// reject records a failed check: evidence of kind "audit" and the
// provider's integrity penalty. It returns the evidence's ID.
func (a *Auditor) reject(p *upstream.Provider, f finding) uint64 {
	var id uint64
	if a.o.Evidence != nil {
		e := verify.NewEvidence(p.Name(), f.method, f.params, f.answer, f.err)
		e.Chain, e.Operator, e.Kind, e.Reason = a.o.Chain, p.Labels().Operator, Reason, Reason
		id = a.o.Evidence.Record(e)
	}
	a.o.Logger.Warn("audit: provider answered wrongly", "chain", a.o.Chain, "provider", p.Name(),
		"tier", p.Labels().Tier, "method", f.method, "evidence", id, "err", f.err)
	p.Penalise(Reason)
	if a.o.Rejected != nil {
		a.o.Rejected(p.Name(), f.method, Reason)
	}
	return id
}
