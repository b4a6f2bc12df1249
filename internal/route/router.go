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
	"strings"
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
	// Attempt reports one attempt's outcome; err is nil on success.
	Attempt(chain string, p *upstream.Provider, method string, d time.Duration, err error)
	// Retry reports a retry and Hedge a hedge, for method.
	Retry(chain, method string)
	Hedge(chain, method string)
}

// Options configure a Router.
type Options struct {
	Chain           string
	Routing         config.Routing
	MaxLagBlocks    uint64
	ProviderTimeout time.Duration
	Providers       []*upstream.Provider
	Head            *head.Tracker
	Observer        Observer
}

// Router routes the calls of one chain. Safe for concurrent use.
type Router struct {
	chain     string
	cfg       config.Routing
	maxLag    uint64
	timeout   time.Duration
	providers []*upstream.Provider
	head      *head.Tracker
	obs       Observer
	shares    *shareWindow
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
	return &Router{
		chain:     o.Chain,
		cfg:       o.Routing,
		maxLag:    o.MaxLagBlocks,
		timeout:   timeout,
		providers: o.Providers,
		head:      o.Head,
		obs:       o.Observer,
		shares:    newShareWindow(window),
	}
}

// Providers returns the router's providers.
func (r *Router) Providers() []*upstream.Provider { return r.providers }

// Shares returns the attempts in the share window and each operator's and
// cloud's share of them.
func (r *Router) Shares() (total int, operator, cloud map[string]float64) { return r.shares.shares() }

// attempt is one call to one provider.
type attempt struct {
	p      *upstream.Provider
	start  time.Time
	hedge  bool
	cancel context.CancelCauseFunc
	value  json.RawMessage
	err    error
}

// Do routes req and returns the first good answer. Errors are a
// *jsonrpc.Error answered by a node, ErrNoProvider, or the last attempt's
// *upstream.Error; a context error when ctx ended first.
func (r *Router) Do(ctx context.Context, req *Request) (Result, error) {
	write := req.Info.Kind == ethmethod.Write
	t := newTried()
	results := make(chan *attempt, r.cfg.Retries+3)
	running := map[*attempt]bool{}
	attempts := 0
	defer func() {
		for a := range running {
			r.release(a)
		}
	}()

	launch := func(hedge bool) bool {
		p, lastResort := r.pick(req, t, hedge)
		if p == nil {
			return false
		}
		call := p.Call
		if lastResort {
			call = p.CallLastResort
		}
		t.add(p)
		attempts++
		a := &attempt{p: p, start: time.Now(), hedge: hedge}
		running[a] = true
		r.shares.add(a.start, p.Labels().Operator, p.Labels().Cloud)
		// The attempt outlives the client's context on purpose: a loser is
		// left to finish (bounded by release) so a hung provider shows up
		// as stalled instead of hiding behind cancellations.
		actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		a.cancel = cancel
		go func() {
			cctx, stop := context.WithTimeout(actx, r.timeout)
			defer stop()
			a.value, a.err = call(cctx, req.Method, req.Params)
			if r.obs != nil {
				r.obs.Attempt(r.chain, p, req.Method, time.Since(a.start), a.err)
			}
			cancel(nil)
			results <- a
		}()
		return true
	}

	if !launch(false) {
		return Result{}, r.noProvider(req)
	}
	var hedgeC <-chan time.Time
	if r.cfg.Hedge && !write {
		timer := time.NewTimer(r.hedgeDelay(t))
		defer timer.Stop()
		hedgeC = timer.C
	}
	var retryC <-chan time.Time
	retries := 0
	var lastErr error
	for {
		select {
		case a := <-results:
			delete(running, a)
			if a.err == nil {
				return Result{Value: a.value, Provider: a.p.Name(), Attempts: attempts, Hedged: a.hedge}, nil
			}
			lastErr = a.err
			if !r.retryable(write, a.err) {
				if len(running) == 0 || isAnswer(a.err) {
					return Result{Attempts: attempts}, a.err
				}
				continue // a hedge may still answer
			}
			if retries < r.cfg.Retries && retryC == nil {
				retries++
				retryC = time.After(r.backoff(retries))
			} else if len(running) == 0 && retryC == nil {
				return Result{Attempts: attempts}, lastErr
			}
		case <-retryC:
			retryC = nil
			if r.obs != nil {
				r.obs.Retry(r.chain, req.Method)
			}
			if !launch(false) && len(running) == 0 {
				return Result{Attempts: attempts}, lastErr
			}
		case <-hedgeC:
			hedgeC = nil
			if launch(true) && r.obs != nil {
				r.obs.Hedge(r.chain, req.Method)
			}
		case <-ctx.Done():
			return Result{Attempts: attempts}, ctx.Err()
		}
	}
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
	for p := range t.providers {
		d = p.Quantile(r.cfg.HedgeQuantile)
	}
	if d <= 0 { // no samples yet: the slowest known quantile of the chain
		for _, p := range r.providers {
			d = max(d, p.Quantile(r.cfg.HedgeQuantile))
		}
	}
	lo, hi := r.cfg.HedgeMinDelay.D(), r.cfg.HedgeMaxDelay.D()
	if hi <= 0 {
		hi = 2 * time.Second
	}
	if d <= 0 {
		d = hi
	}
	return min(max(d, lo), hi)
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
// another provider may have.
func missingData(e *jsonrpc.Error) bool {
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
