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
	"sync"
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
	workers   workers   // run attempts and the calls of client batches
	timers    sync.Pool // *time.Timer for hedge delays, see startTimer
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
		workers:   newWorkers(),
	}
}

// workers runs functions on goroutines that outlive one function: an
// attempt, or a call of a client's batch, then waits for the next. A new
// goroutine starts with a small stack and grows it (copying) in the call's
// deep path every time; a worker grows it once. A worker waits at most
// workerIdle for more work, then exits, so an idle router holds none.
type workers struct {
	work chan func() // unbuffered: a send succeeds only to a waiting worker
}

func newWorkers() workers { return workers{work: make(chan func())} }

// workerIdle is how long a worker waits for work before it exits.
const workerIdle = 2 * time.Second

// Go runs f on an idle worker, or on a new one.
func (w *workers) Go(f func()) {
	select {
	case w.work <- f: // a waiting worker took it
	default:
		go w.run(f)
	}
}

func (w *workers) run(f func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		f = nil
		idle.Reset(workerIdle)
		select {
		case f = <-w.work:
		case <-idle.C:
			return
		}
	}
}

// Providers returns the router's providers.
func (r *Router) Providers() []*upstream.Provider { return r.providers }

// Shares returns the attempts in the share window and each operator's and
// cloud's share of them.
func (r *Router) Shares() (total int, operator, cloud map[string]float64) { return r.shares.shares() }

// attempt is one call to one provider.
type attempt struct {
	p          *upstream.Provider
	lastResort bool // sent with CallLastResort
	start      time.Time
	hedge      bool
	cancel     context.CancelCauseFunc
	value      json.RawMessage
	err        error
}

// doState is one Do in progress: what it tried, what runs, what came back.
type doState struct {
	r        *Router
	req      *Request
	t        *tried
	results  chan *attempt
	running  []*attempt // launched, not yet back
	runBuf   [4]*attempt
	attempts int
}

// Do routes req and returns the first good answer. Errors are a
// *jsonrpc.Error answered by a node, ErrNoProvider, or the last attempt's
// *upstream.Error; a context error when ctx ended first.
func (r *Router) Do(ctx context.Context, req *Request) (Result, error) {
	write := req.Info.Kind == ethmethod.Write
	d := &doState{r: r, req: req, t: newTried(), results: make(chan *attempt, r.cfg.Retries+3)}
	d.running = d.runBuf[:0]
	defer func() {
		for _, a := range d.running {
			r.release(a)
		}
	}()

	if !d.launch(ctx, false) {
		return Result{}, r.noProvider(req)
	}
	var hedgeC <-chan time.Time
	if r.cfg.Hedge && !write {
		timer := r.startTimer(r.hedgeDelay(d.t))
		defer r.stopTimer(timer)
		hedgeC = timer.C
	}
	var retryC <-chan time.Time
	retries := 0
	var lastErr error
	for {
		select {
		case a := <-d.results:
			d.done(a)
			if a.err == nil {
				return Result{Value: a.value, Provider: a.p.Name(), Attempts: d.attempts, Hedged: a.hedge}, nil
			}
			lastErr = a.err
			if !r.retryable(write, a.err) {
				if len(d.running) == 0 || isAnswer(a.err) {
					return Result{Attempts: d.attempts}, a.err
				}
				continue // a hedge may still answer
			}
			if retries < r.cfg.Retries && retryC == nil {
				retries++
				retryC = time.After(r.backoff(retries))
			} else if len(d.running) == 0 && retryC == nil {
				return Result{Attempts: d.attempts}, lastErr
			}
		case <-retryC:
			retryC = nil
			if r.obs != nil {
				r.obs.Retry(r.chain, req.Method)
			}
			if !d.launch(ctx, false) && len(d.running) == 0 {
				return Result{Attempts: d.attempts}, lastErr
			}
		case <-hedgeC:
			hedgeC = nil
			if d.launch(ctx, true) && r.obs != nil {
				r.obs.Hedge(r.chain, req.Method)
			}
		case <-ctx.Done():
			return Result{Attempts: d.attempts}, ctx.Err()
		}
	}
}

// launch starts an attempt at the next provider, reporting false when none
// qualifies.
func (d *doState) launch(ctx context.Context, hedge bool) bool {
	r := d.r
	p, lastResort := r.pick(d.req, d.t, hedge)
	if p == nil {
		return false
	}
	d.t.add(p)
	d.attempts++
	a := &attempt{p: p, lastResort: lastResort, start: time.Now(), hedge: hedge}
	d.running = append(d.running, a)
	r.shares.add(a.start, p.Labels().Operator, p.Labels().Cloud)
	// The attempt outlives the client's context on purpose: a loser is
	// left to finish (bounded by release) so a hung provider shows up
	// as stalled instead of hiding behind cancellations.
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	a.cancel = cancel
	req, results := d.req, d.results
	r.workers.Go(func() { r.run(actx, a, req, results) })
	return true
}

// done removes a from the running attempts.
func (d *doState) done(a *attempt) {
	for i, b := range d.running {
		if b == a {
			d.running = append(d.running[:i], d.running[i+1:]...)
			return
		}
	}
}

// run makes one attempt (on its own goroutine) and reports it on results.
// ctx is the attempt's own context (see launch), whose cancel is a.cancel.
func (r *Router) run(ctx context.Context, a *attempt, req *Request, results chan<- *attempt) {
	timeout := a.timeout(r.timeout)
	if a.lastResort {
		a.value, a.err = a.p.CallLastResort(ctx, req.Method, req.Params)
	} else {
		a.value, a.err = a.p.Call(ctx, req.Method, req.Params)
	}
	timeout.Stop()
	if r.obs != nil {
		r.obs.Attempt(r.chain, a.p, req.Method, time.Since(a.start), a.err)
	}
	a.cancel(nil)
	results <- a
}

// timeout ends the attempt's context after d with context.DeadlineExceeded
// as its cause, which upstream reports as a timeout: the provider timeout
// without a second context (and its timer, and its registration with the
// first) per attempt.
func (a *attempt) timeout(d time.Duration) *time.Timer {
	return time.AfterFunc(d, func() { a.cancel(context.DeadlineExceeded) })
}

// startTimer returns a timer that fires after d, from the router's pool;
// stopTimer stops it and returns it there. A timer per call is three
// allocations; with Go 1.23 timers a stopped timer delivers no stale tick.
func (r *Router) startTimer(d time.Duration) *time.Timer {
	if t, ok := r.timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func (r *Router) stopTimer(t *time.Timer) {
	t.Stop()
	r.timers.Put(t)
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
	for _, p := range t.providers {
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
