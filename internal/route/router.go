// Package route chooses the providers of a chain for each call and runs the
// attempts: tiers first, then score with weighted randomness; block-aware;
// diversity caps per operator and cloud; retries to another operator with
// backoff; hedged reads after an adaptive delay; writes never hedged and
// retried only when the failed attempt certainly never reached a provider.
package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// ErrNoProvider means no provider of the chain can serve the call now.
var ErrNoProvider = errors.New("no provider available")

// Request is one call to route.
type Request struct {
	Method string
	Params json.RawMessage
	Info   ethmethod.Info
	// Block, when HasBlock, is the block the call reads: only providers
	// whose head has reached it (and whose archive depth covers it for state
	// reads) qualify. Without a block, lagging providers are skipped.
	Block    uint64
	HasBlock bool
	// Verified says the caller checks the answer (a proof): only such
	// calls may go to a provider on probation.
	Verified bool
	// Client is who asked (pipeline.Call.Client): the key of the privacy
	// policy; "" for the gateway's own calls. It never leaves the gateway.
	Client string
	// quorum marks a quorum's further pick (PickDistinct): the privacy
	// policy sends it to the same operators every time.
	quorum bool
}

// Result is a successful call and how it was obtained.
type Result struct {
	Value    json.RawMessage
	Provider string
	Attempts int
	Hedged   bool // the answer came from a hedge attempt
}

// Observer receives the router's events (metrics implement it). Nil-safe:
// the router checks for nil.
type Observer interface {
	// Attempt reports one attempt at provider and its outcome: "ok",
	// "rpc_error" (the node answered with an error), or the failure's
	// upstream class ("timeout", "stalled", ...; "error" when unclassified).
	Attempt(chain, provider, method string, d time.Duration, outcome string)
	// Retry reports a retry and Hedge a hedge, for method.
	Retry(chain, method string)
	Hedge(chain, method string)
}

// ServedObserver is an Observer that also learns which answers routing
// handed back to its caller (usage metering counts those, not hedge
// losers): the provider's result or its own JSON-RPC error answer.
type ServedObserver interface {
	Served(chain, provider, method string)
}

// Options configure a Router.
type Options struct {
	Chain           string
	Routing         config.Routing
	MaxLagBlocks    uint64
	ProviderTimeout time.Duration
	Providers       []*upstream.Provider // all admitted; see SetStage, Add, Remove
	Head            *head.Tracker
	Observer        Observer
	// ProbationShare caps a probation provider's share of the attempts
	// over the share window (default 0.05).
	ProbationShare float64
}

// Router routes the calls of one chain. Safe for concurrent use.
type Router struct {
	chain    string
	cfg      config.Routing
	maxLag   uint64
	timeout  time.Duration
	roster   atomic.Pointer[roster] // the providers and their stages (roster.go)
	rosterMu sync.Mutex             // orders roster writers
	head     *head.Tracker
	obs      Observer
	served   ServedObserver // obs, when it wants served answers; else nil
	shares   *shareWindow
	privacy  *privacy  // nil unless routing.privacy is on
	snaps    sync.Pool // *[]upstream.Snapshot for pickFrom, see snapshots
	// probation counts attempts per provider while one is on probation,
	// for its cap, probationCap (admission.probation_share).
	probation    probationWindow
	probationCap float64
}

// New builds a router over providers.
func New(o Options) *Router {
	window := o.Routing.ShareWindow.D()
	if window <= 0 {
		window = time.Minute
	}
	timeout := o.ProviderTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	probationCap := o.ProbationShare
	if probationCap <= 0 {
		probationCap = 0.05
	}
	r := &Router{
		chain:        o.Chain,
		cfg:          o.Routing,
		maxLag:       o.MaxLagBlocks,
		timeout:      timeout,
		head:         o.Head,
		obs:          o.Observer,
		served:       servedObserver(o.Observer),
		shares:       newShareWindow(window),
		privacy:      newPrivacy(o.Routing, o.Providers),
		probation:    probationWindow{newShareWindow(window)},
		probationCap: probationCap,
	}
	r.roster.Store(rosterOf(slices.Clone(o.Providers), nil))
	return r
}

// Providers returns the router's providers, every stage (a snapshot: the
// list may change at run time, see Add and Remove). It is shared: the
// caller must not change it.
func (r *Router) Providers() []*upstream.Provider { return r.list().providers }

// Shares returns the attempts in the share window and each operator's and
// cloud's share of them.
func (r *Router) Shares() (total int, operator, cloud map[string]float64) { return r.shares.shares() }

// attempt is one call to one provider, run on a goroutine of its own.
type attempt struct {
	p     *upstream.Provider
	start time.Time
	hedge bool
	// ctx outlives the caller's context on purpose: a loser is left to
	// finish, bounded by release, so that a hung provider shows up as
	// stalled instead of hiding behind cancellations. It ends at the
	// provider timeout with context.DeadlineExceeded, which upstream
	// reports as a timeout, or by release with upstream.ErrStalled.
	ctx    context.Context
	cancel context.CancelCauseFunc // ends ctx with a cause (release)
	stop   context.CancelFunc      // frees ctx's timer once the call is back
	value  json.RawMessage
	err    error
}

// newAttempt prepares an attempt at p on behalf of a call whose context is
// ctx: the caller's values, not its cancellation, and the provider timeout.
func (r *Router) newAttempt(ctx context.Context, p *upstream.Provider, hedge bool) *attempt {
	a := &attempt{p: p, start: time.Now(), hedge: hedge}
	var timed context.Context
	timed, a.stop = context.WithDeadline(context.WithoutCancel(ctx), a.start.Add(r.timeout))
	a.ctx, a.cancel = context.WithCancelCause(timed)
	return a
}

// do is one Do in progress: what it tried, what runs, what came back.
type do struct {
	r   *Router
	req *Request
	t   tried
	// results receives each attempt once it is back. It has room for
	// every attempt a Do may launch (the first, each retry, one hedge), so
	// that an attempt still running when Do returns never blocks.
	results  chan *attempt
	running  []*attempt // launched, not yet back
	launched int
}

// Do routes req and returns the first good answer. Errors are a
// *jsonrpc.Error answered by a node, ErrNoProvider, or the last attempt's
// *upstream.Error; a context error when ctx ended first.
func (r *Router) Do(ctx context.Context, req *Request) (Result, error) {
	write := req.Info.Kind == ethmethod.Write
	d := &do{r: r, req: req, results: make(chan *attempt, max(r.cfg.Retries, 0)+2)}
	defer func() {
		for _, a := range d.running {
			r.release(a)
		}
	}()

	if !d.launch(ctx, false) {
		return Result{}, r.noProvider(req)
	}
	var hedgeC <-chan time.Time
	// A hedge would show a private call's addresses to a second operator.
	if r.cfg.Hedge && !write && !r.privacy.covers(req) {
		timer := time.NewTimer(r.hedgeDelay(&d.t))
		defer timer.Stop()
		hedgeC = timer.C
	}
	var retryC <-chan time.Time
	retries := 0
	var lastErr error
	for {
		select {
		case a := <-d.results:
			d.running = slices.DeleteFunc(d.running, func(x *attempt) bool { return x == a })
			if a.err == nil || !r.retryable(write, a.err) {
				r.serve(a.p, req.Method, a.err) // the call's answer, unless a failure
			}
			if a.err == nil {
				return Result{Value: a.value, Provider: a.p.Name(), Attempts: d.launched, Hedged: a.hedge}, nil
			}
			lastErr = a.err
			if !r.retryable(write, a.err) {
				if len(d.running) == 0 || isAnswer(a.err) {
					return Result{Attempts: d.launched}, a.err
				}
				continue // a hedge may still answer
			}
			if retries < r.cfg.Retries && retryC == nil {
				retries++
				retryC = time.After(r.backoff(retries))
			} else if len(d.running) == 0 && retryC == nil {
				return Result{Attempts: d.launched}, lastErr
			}
		case <-retryC:
			retryC = nil
			if r.obs != nil {
				r.obs.Retry(r.chain, req.Method)
			}
			if !d.launch(ctx, false) && len(d.running) == 0 {
				return Result{Attempts: d.launched}, lastErr
			}
		case <-hedgeC:
			hedgeC = nil
			if d.launch(ctx, true) && r.obs != nil {
				r.obs.Hedge(r.chain, req.Method)
			}
		case <-ctx.Done():
			return Result{Attempts: d.launched}, ctx.Err()
		}
	}
}

// launch starts an attempt at the next provider on a goroutine of its own,
// reporting false when none qualifies.
func (d *do) launch(ctx context.Context, hedge bool) bool {
	r := d.r
	p, lastResort := r.pick(d.req, &d.t, hedge)
	if p == nil {
		return false
	}
	d.t.add(p)
	a := r.newAttempt(ctx, p, hedge)
	d.launched++
	d.running = append(d.running, a)
	r.count(a.start, p)
	// The method, params and results, not d: the attempt may outlive Do.
	method, params, results := d.req.Method, d.req.Params, d.results
	go func() {
		if lastResort {
			a.value, a.err = p.CallLastResort(a.ctx, method, params)
		} else {
			a.value, a.err = p.Call(a.ctx, method, params)
		}
		a.stop()
		r.observe(p, method, time.Since(a.start), a.err)
		results <- a
	}()
	return true
}

// observe reports an attempt to the observer, if any.
func (r *Router) observe(p *upstream.Provider, method string, d time.Duration, err error) {
	if r.obs != nil {
		r.obs.Attempt(r.chain, p.Name(), method, d, outcome(err))
	}
}

// servedObserver is o as a ServedObserver, or nil.
func servedObserver(o Observer) ServedObserver {
	s, _ := o.(ServedObserver)
	return s
}

// serve reports an answer handed back to the caller, when it is the
// provider's (its result or its JSON-RPC error).
func (r *Router) serve(p *upstream.Provider, method string, err error) {
	if r.served != nil && (err == nil || isAnswer(err)) {
		r.served.Served(r.chain, p.Name(), method)
	}
}

// outcome names an attempt's outcome for the observer: "ok", "rpc_error"
// for a node's answer, the upstream class of a failure, else "error".
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var ue *upstream.Error
	var je *jsonrpc.Error
	switch {
	case errors.As(err, &ue):
		return string(ue.Class)
	case errors.As(err, &je):
		return "rpc_error"
	}
	return "error"
}

// release bounds an attempt whose answer is no longer awaited: it may run
// until its provider's stall threshold, then it is cancelled as stalled.
func (r *Router) release(a *attempt) {
	left := a.p.StallAfter() - time.Since(a.start)
	if left <= 0 {
		a.cancel(upstream.ErrStalled)
		return
	}
	time.AfterFunc(left, func() { a.cancel(upstream.ErrStalled) })
}

// hedgeDelay is the configured quantile of the first attempt's provider
// latency, clamped to [HedgeMinDelay, HedgeMaxDelay].
func (r *Router) hedgeDelay(t *tried) time.Duration {
	var d time.Duration
	if p, ok := t.providers.last(); ok {
		d = p.Quantile(r.cfg.HedgeQuantile)
	}
	if d <= 0 { // no samples yet: the slowest known quantile of the chain
		for _, p := range r.Providers() {
			d = max(d, p.Quantile(r.cfg.HedgeQuantile))
		}
	}
	lo, hi := r.cfg.HedgeMinDelay.D(), r.hedgeMax()
	if d <= 0 {
		d = hi
	}
	return min(max(d, lo), hi)
}

// hedgeMax is routing.hedge_max_delay, 2 s when unset.
func (r *Router) hedgeMax() time.Duration {
	if hi := r.cfg.HedgeMaxDelay.D(); hi > 0 {
		return hi
	}
	return 2 * time.Second
}

// backoff is the wait before the nth retry: RetryBackoff doubled each time.
func (r *Router) backoff(n int) time.Duration {
	b := r.cfg.RetryBackoff.D()
	if b <= 0 {
		return 0
	}
	return b << min(n-1, 6)
}

// retryable decides whether a failed attempt may be repeated elsewhere.
func (r *Router) retryable(write bool, err error) bool {
	var ue *upstream.Error
	if errors.As(err, &ue) {
		if ue.Class == upstream.ClassCanceled {
			return false
		}
		return !write || !ue.Sent
	}
	var je *jsonrpc.Error
	if errors.As(err, &je) {
		return !write && missingData(je)
	}
	return false
}

// isAnswer reports whether err is the node's own answer (final for the call).
func isAnswer(err error) bool {
	var je *jsonrpc.Error
	return errors.As(err, &je)
}

// missingData recognises node answers meaning "I lack that data", which
// another provider may have: go-ethereum's generic code (-32000) or
// EIP-1474's "resource not found" (-32001), without data, and one of the
// nodes' messages for it (no code tells them apart). Anything with data,
// such as a revert (code 3, its reason in the message and its data), is
// the caller's answer whatever the message says.
func missingData(e *jsonrpc.Error) bool {
	if e.Code != -32000 && e.Code != -32001 || len(e.Data) > 0 {
		return false
	}
	m := strings.ToLower(e.Message)
	for _, s := range []string{"header not found", "missing trie node", "unknown block", "block not found", "state is not available", "historical state", "pruned"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// noProvider explains why no provider qualified.
func (r *Router) noProvider(req *Request) error {
	if req.HasBlock {
		return fmt.Errorf("%w for %s at block %d on chain %s", ErrNoProvider, req.Method, req.Block, r.chain)
	}
	return fmt.Errorf("%w for %s on chain %s", ErrNoProvider, req.Method, r.chain)
}
