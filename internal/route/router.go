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
	workers   *workers  // run attempts and the calls of client batches
	timers    sync.Pool // *time.Timer for hedge delays, see startTimer
	snaps     sync.Pool // *[]upstream.Snapshot for pickFrom, see snapshots
	dos       sync.Pool // *doState, see newDoState
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
// deep path every time; a worker grows it once. Workers wait for work with
// a plain channel receive (a timer per worker in that wait cost a timer
// reset and a timer-channel select per job); a reaper ends them once no job
// has started for an idle period, so an idle router holds none.
type workers struct {
	work    chan job      // unbuffered: a send succeeds only to a waiting worker
	idle    time.Duration // how long without a new job ends the workers
	started atomic.Uint64 // jobs handed out, for the reaper
	live    atomic.Int32  // workers running
	reaping atomic.Bool   // a reaper runs
}

// job is what a worker runs: an attempt, or a function (funcJob). An
// attempt is its own job, so launching one allocates no closure.
type job interface{ run() }

// funcJob runs a function as a job.
type funcJob func()

func (f funcJob) run() { f() }

func newWorkers() *workers { return &workers{work: make(chan job), idle: workerIdle} }

// workerIdle is how long workers wait without any new job before they exit.
const workerIdle = 2 * time.Second

// Go runs j on an idle worker, or on a new one.
func (w *workers) Go(j job) {
	w.started.Add(1)
	select {
	case w.work <- j: // a waiting worker took it
	default:
		w.live.Add(1)
		go w.run(j)
		if w.reaping.CompareAndSwap(false, true) {
			go w.reap()
		}
	}
}

// run runs j, then the jobs it is handed, until it is handed nil (reap).
func (w *workers) run(j job) {
	defer w.live.Add(-1)
	for j != nil {
		j.run()
		j = <-w.work
	}
}

// reap looks every idle period: when no job started since the last look, it
// ends every waiting worker. It stops once no worker is left.
func (w *workers) reap() {
	t := time.NewTicker(w.idle)
	defer t.Stop()
	last := w.started.Load()
	for range t.C {
		if now := w.started.Load(); now != last {
			last = now
			continue
		}
	end:
		for {
			select {
			case w.work <- nil:
			default:
				break end
			}
		}
		if w.live.Load() > 0 {
			continue
		}
		w.reaping.Store(false)
		// A worker started since the check found a reaper running: take
		// over again, unless its Go already started another.
		if w.live.Load() == 0 || !w.reaping.CompareAndSwap(false, true) {
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
	d          *doState // the Do it belongs to (nil: a batch's attempt)
	index      int      // in d.launched
	p          *upstream.Provider
	lastResort bool // sent with CallLastResort
	start      time.Time
	hedge      bool
	// ctx is the attempt's own context: it outlives the client's on
	// purpose (a loser is left to finish, bounded by release, so that a
	// hung provider shows up as stalled instead of hiding behind
	// cancellations) and ends at the provider timeout with
	// context.DeadlineExceeded, which upstream reports as a timeout.
	ctx   upstream.CallContext
	value json.RawMessage
	err   error
}

// doState is one Do in progress: what it tried, what runs, what came back.
// It holds its first attempt, and comes from the router's pool: Do, each
// attempt not yet back and each pending stall timer (see release) hold a
// reference, and the last to let go returns it (see unref), so that no
// late attempt can touch a doState another Do is using.
type doState struct {
	r    *Router
	refs atomic.Int32
	req  Request // a copy: the caller's may live on its stack
	t    tried
	// results carries the index in launched of each attempt that is back:
	// a channel of pointers would cost two allocations, of ints one.
	results  chan int
	launched []*attempt // Do's goroutine only
	running  []*attempt // launched, not yet back
	launBuf  [4]*attempt
	runBuf   [4]*attempt
	first    attempt
}

// Do routes req and returns the first good answer. Errors are a
// *jsonrpc.Error answered by a node, ErrNoProvider, or the last attempt's
// *upstream.Error; a context error when ctx ended first.
func (r *Router) Do(ctx context.Context, req *Request) (Result, error) {
	write := req.Info.Kind == ethmethod.Write
	d := r.newDoState(req)
	defer d.unref()
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
		timer := r.startTimer(r.hedgeDelay(&d.t))
		defer r.stopTimer(timer)
		hedgeC = timer.C
	}
	var retryC <-chan time.Time
	retries := 0
	var lastErr error
	for {
		select {
		case i := <-d.results:
			a := d.launched[i]
			d.done(a)
			if a.err == nil {
				return Result{Value: a.value, Provider: a.p.Name(), Attempts: len(d.launched), Hedged: a.hedge}, nil
			}
			lastErr = a.err
			if !r.retryable(write, a.err) {
				if len(d.running) == 0 || isAnswer(a.err) {
					return Result{Attempts: len(d.launched)}, a.err
				}
				continue // a hedge may still answer
			}
			if retries < r.cfg.Retries && retryC == nil {
				retries++
				retryC = time.After(r.backoff(retries))
			} else if len(d.running) == 0 && retryC == nil {
				return Result{Attempts: len(d.launched)}, lastErr
			}
		case <-retryC:
			retryC = nil
			if r.obs != nil {
				r.obs.Retry(r.chain, req.Method)
			}
			if !d.launch(ctx, false) && len(d.running) == 0 {
				return Result{Attempts: len(d.launched)}, lastErr
			}
		case <-hedgeC:
			hedgeC = nil
			if d.launch(ctx, true) && r.obs != nil {
				r.obs.Hedge(r.chain, req.Method)
			}
		case <-ctx.Done():
			return Result{Attempts: len(d.launched)}, ctx.Err()
		}
	}
}

// newDoState returns a doState for req from the router's pool, holding
// the caller's reference.
func (r *Router) newDoState(req *Request) *doState {
	d, ok := r.dos.Get().(*doState)
	if !ok {
		d = &doState{r: r, results: make(chan int, r.cfg.Retries+3)}
	}
	d.req = *req
	d.launched, d.running = d.launBuf[:0], d.runBuf[:0]
	d.refs.Store(1)
	return d
}

// unref lets go of one reference to d; the last one empties d (the reports
// of attempts that came back after Do returned included) and returns it to
// the pool. A d whose first attempt's context escaped (to net/http, a dial,
// a timer: see upstream.CallContext.Escaped) is left to the garbage
// collector instead: something may still read that context.
func (d *doState) unref() {
	if d.refs.Add(-1) > 0 {
		return
	}
	if d.first.ctx.Escaped() {
		return
	}
	for len(d.results) > 0 {
		<-d.results
	}
	d.req, d.t = Request{}, tried{}
	clear(d.launBuf[:])
	clear(d.runBuf[:])
	d.launched, d.running = nil, nil
	d.first = attempt{}
	d.r.dos.Put(d)
}

// launch starts an attempt at the next provider, reporting false when none
// qualifies.
func (d *doState) launch(ctx context.Context, hedge bool) bool {
	r := d.r
	p, lastResort := r.pick(&d.req, &d.t, hedge)
	if p == nil {
		return false
	}
	d.t.add(p)
	a := &d.first
	if len(d.launched) > 0 {
		a = new(attempt)
	}
	a.index = len(d.launched)
	d.launched = append(d.launched, a)
	a.d, a.p, a.lastResort, a.start, a.hedge = d, p, lastResort, time.Now(), hedge
	a.ctx.Init(ctx, a.start.Add(r.timeout))
	d.running = append(d.running, a)
	r.shares.add(a.start, p.Labels().Operator, p.Labels().Cloud)
	d.refs.Add(1) // let go in finish
	// Over a provider's WebSockets the attempt needs no goroutine of its
	// own: the connection completes it (Complete). Otherwise, a worker.
	if !p.Start(&a.ctx, d.req.Method, d.req.Params, lastResort, a) {
		r.workers.Go(a)
	}
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

// run makes the attempt of a Do (on a worker) and reports it on the Do's
// results.
func (a *attempt) run() {
	req := &a.d.req
	if a.lastResort {
		a.value, a.err = a.p.CallLastResort(&a.ctx, req.Method, req.Params)
	} else {
		a.value, a.err = a.p.Call(&a.ctx, req.Method, req.Params)
	}
	a.finish()
}

// Complete is the outcome of an attempt its provider started without a
// worker (upstream.Provider.Start).
func (a *attempt) Complete(value json.RawMessage, err error) {
	a.value, a.err = value, err
	a.finish()
}

// finish reports the attempt on its Do's results.
func (a *attempt) finish() {
	d := a.d
	r, req := d.r, &d.req
	if r.obs != nil {
		r.obs.Attempt(r.chain, a.p, req.Method, time.Since(a.start), a.err)
	}
	a.ctx.Cancel(nil) // stops its timer, if something waited on it
	d.results <- a.index
	d.unref() // a must not be touched after this
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
		a.ctx.Cancel(upstream.ErrStalled)
		return
	}
	d := a.d
	if d != nil {
		d.refs.Add(1) // the timer holds a, so it holds a's doState
	}
	time.AfterFunc(left, func() {
		a.ctx.Cancel(upstream.ErrStalled)
		if d != nil {
			d.unref()
		}
	})
}

// hedgeDelay is the configured quantile of the first attempt's provider
// latency, clamped to [HedgeMinDelay, HedgeMaxDelay].
func (r *Router) hedgeDelay(t *tried) time.Duration {
	var d time.Duration
	if p, ok := t.providers.last(); ok {
		d = p.Quantile(r.cfg.HedgeQuantile)
	}
	if d <= 0 { // no samples yet: the slowest known quantile of the chain
		for _, p := range r.providers {
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
