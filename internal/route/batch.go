package route

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// batchWait bounds how long a call waits for the rest of its wave before
// its batch is sent without them (a call held up in an earlier stage, or a
// goroutine of the wave not yet scheduled on a busy machine).
const batchWait = 5 * time.Millisecond

// Batch gathers the forwarded calls of one wave of a client's batch so that
// they reach one provider as one upstream batch request, not one request
// each. The server makes a Batch per wave (NewBatch with the number of calls
// that will run the pipeline), gives each call a Slot in its context
// (WithSlot), and calls the slot's Done when the call left the pipeline.
//
// A wave is sent when every call of it is either waiting here or done (was
// answered before routing, e.g. eth_chainId), or after batchWait. A call the
// batch cannot answer for sure (the batch failed or was slower than the
// hedge delay, the node lacked its data or failed on it) goes through Do on
// its own, with retries and hedging. Writes and debug/trace calls never
// join a batch.
type Batch struct {
	r       *Router
	mu      sync.Mutex
	open    int // calls of the wave neither waiting here nor done
	waiting []*batchItem
	ready   chan struct{} // closed when the waiting calls are answered
	timer   *time.Timer
}

type batchItem struct {
	ctx      context.Context
	req      Request       // a copy: the caller's may live on its stack
	ready    chan struct{} // shared by the calls sent together
	res      Result
	err      error
	fallback bool // route it on its own with Do
}

// NewBatch starts a wave of n calls.
func (r *Router) NewBatch(n int) *Batch { return &Batch{r: r, open: n} }

// Slot is one call's place in a Batch.
type Slot struct {
	b    *Batch
	used bool // guarded by b.mu
}

// Slot returns the place of one call of the wave.
func (b *Batch) Slot() *Slot { return &Slot{b: b} }

// Go runs f, a call of the wave, on one of the router's workers (see
// workers): a call waiting for its batch holds a goroutine, and a worker's
// stack is already grown.
func (b *Batch) Go(f func()) { b.r.workers.Go(funcJob(f)) }

type slotKey struct{}

// WithSlot returns ctx carrying the call's batch slot, for the forward stage.
func WithSlot(ctx context.Context, s *Slot) context.Context {
	return context.WithValue(ctx, slotKey{}, s)
}

// SlotFrom returns the call's batch slot, or nil outside a batch.
func SlotFrom(ctx context.Context) *Slot {
	s, _ := ctx.Value(slotKey{}).(*Slot)
	return s
}

// Done tells the batch that the call left the pipeline. Safe to call
// whether or not the call was routed through the batch.
func (s *Slot) Done() { s.leave() }

// leave marks the slot used without waiting in the batch, sending the wave
// if it was the last call the batch waited for.
func (s *Slot) leave() {
	b := s.b
	b.mu.Lock()
	if s.used {
		b.mu.Unlock()
		return
	}
	s.used = true
	b.open--
	var items []*batchItem
	var ready chan struct{}
	if b.open == 0 {
		items, ready = b.takeLocked()
	}
	b.mu.Unlock()
	if len(items) > 0 {
		b.send(items[0].ctx, items, ready)
	}
}

// Do routes req as part of the batch (the first routed call of the slot),
// or on its own (anything else, e.g. the further chunks of a split
// eth_getLogs).
func (s *Slot) Do(ctx context.Context, req *Request) (Result, error) {
	b := s.b
	if req.Info.Kind == ethmethod.Write || req.Info.Needs != "" {
		s.leave()
		return b.r.Do(ctx, req)
	}
	b.mu.Lock()
	if s.used {
		b.mu.Unlock()
		return b.r.Do(ctx, req)
	}
	s.used = true
	b.open--
	if b.ready == nil {
		b.ready = make(chan struct{})
	}
	it := &batchItem{ctx: ctx, req: *req, ready: b.ready}
	b.waiting = append(b.waiting, it)
	var items []*batchItem
	var ready chan struct{}
	if b.open == 0 {
		items, ready = b.takeLocked()
	} else if b.timer == nil {
		b.timer = time.AfterFunc(batchWait, b.flush)
	}
	b.mu.Unlock()
	if len(items) > 0 {
		b.send(ctx, items, ready)
	}
	select {
	case <-it.ready:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	if it.fallback {
		return b.r.Do(ctx, req)
	}
	return it.res, it.err
}

// takeLocked takes the waiting calls and the channel that tells them they
// are answered. Called with mu held.
func (b *Batch) takeLocked() ([]*batchItem, chan struct{}) {
	items, ready := b.waiting, b.ready
	b.waiting, b.ready = nil, nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return items, ready
}

// flush sends what waits when batchWait has passed.
func (b *Batch) flush() {
	b.mu.Lock()
	items, ready := b.takeLocked()
	b.mu.Unlock()
	if len(items) > 0 {
		b.send(items[0].ctx, items, ready)
	}
}

// send routes items as one upstream batch, hands each its answer, and
// closes ready.
func (b *Batch) send(ctx context.Context, items []*batchItem, ready chan struct{}) {
	defer close(ready)
	fallback := func() {
		for _, it := range items {
			it.fallback = true
		}
	}
	if len(items) == 1 {
		fallback() // a single call: the ordinary path
		return
	}
	r := b.r
	// Route as the most demanding call: the highest pinned block, state.
	rep := Request{Method: items[0].req.Method, Info: items[0].req.Info}
	for _, it := range items {
		if it.req.HasBlock && (!rep.HasBlock || it.req.Block > rep.Block) {
			rep.Block, rep.HasBlock = it.req.Block, true
		}
		rep.Info.State = rep.Info.State || it.req.Info.State
	}
	var t tried
	p, lastResort := r.pick(&rep, &t, false)
	if p == nil || lastResort || !p.Batches() {
		fallback()
		return
	}
	t.add(p)
	calls := make([]upstream.BatchCall, len(items))
	for i, it := range items {
		calls[i] = upstream.BatchCall{Method: it.req.Method, Params: it.req.Params}
	}
	a := &attempt{p: p, start: time.Now()}
	for range items {
		r.shares.add(a.start, p.Labels().Operator, p.Labels().Cloud)
	}
	var answers []upstream.BatchAnswer
	done := make(chan struct{})
	// As in Do, the attempt outlives the client's context, bounded by release.
	a.ctx.Init(ctx, a.start.Add(r.timeout))
	r.workers.Go(funcJob(func() {
		answers, a.err = p.CallBatch(&a.ctx, calls)
		if r.obs != nil && !errors.Is(a.err, upstream.ErrNoBatches) {
			d := time.Since(a.start)
			for i, it := range items {
				err := a.err
				if err == nil {
					err = answers[i].Err
				}
				r.obs.Attempt(r.chain, p, it.req.Method, d, err)
			}
		}
		a.ctx.Cancel(nil)
		close(done)
	}))
	var hedgeC <-chan time.Time
	if r.cfg.Hedge {
		timer := r.startTimer(r.hedgeDelay(&t))
		defer r.stopTimer(timer)
		hedgeC = timer.C
	}
	select {
	case <-done:
	case <-hedgeC: // slower than a hedge would wait: each call on its own
		r.release(a)
		fallback()
		return
	case <-ctx.Done():
		r.release(a)
		fallback() // each call then sees its own context's end
		return
	}
	if a.err != nil {
		fallback()
		return
	}
	for i, it := range items {
		ans := answers[i]
		je, answered := ans.Err.(*jsonrpc.Error) // not wrapped: a node failure is an *upstream.Error
		switch {
		case ans.Err == nil:
			it.res = Result{Value: ans.Result, Provider: p.Name(), Attempts: 1}
		case answered && !missingData(je):
			it.res, it.err = Result{Provider: p.Name(), Attempts: 1}, je // the node's answer
		default:
			it.fallback = true
		}
	}
}
