package route

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
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

	// The wave's slots and items, made with it: one allocation for all
	// instead of two per call. Each is handed out once.
	slots    []Slot
	nextSlot atomic.Int32
	items    []batchItem
	nextItem int // guarded by mu
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
func (r *Router) NewBatch(n int) *Batch {
	return &Batch{r: r, open: n, slots: make([]Slot, n), items: make([]batchItem, n),
		waiting: make([]*batchItem, 0, n)}
}

// Slot is one call's place in a Batch.
type Slot struct {
	b    *Batch
	used bool // guarded by b.mu
}

// Slot returns the place of one call of the wave.
func (b *Batch) Slot() *Slot {
	if i := int(b.nextSlot.Add(1)) - 1; i < len(b.slots) {
		s := &b.slots[i]
		s.b = b
		return s
	}
	return &Slot{b: b}
}

// Go runs f, a call of the wave, on a goroutine of its own.
func (b *Batch) Go(f func()) { go f() }

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
	if !batchable(req) {
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
	var it *batchItem
	if b.nextItem < len(b.items) {
		it = &b.items[b.nextItem]
		b.nextItem++
	} else {
		it = new(batchItem)
	}
	*it = batchItem{ctx: ctx, req: *req, ready: b.ready}
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

// batchAttempt is one upstream batch request of a wave.
type batchAttempt struct {
	a       *attempt
	answers []upstream.BatchAnswer
}

// launchBatch sends calls to p as one batch on a goroutine of its own and
// reports the attempt on results when it is back. As in Do, the attempt
// outlives the client's context, bounded by release.
func (r *Router) launchBatch(ctx context.Context, p *upstream.Provider, hedge bool, items []*batchItem, calls []upstream.BatchCall, t *tried, results chan<- *batchAttempt) *batchAttempt {
	t.add(p)
	ba := &batchAttempt{a: r.newAttempt(ctx, p, hedge)}
	a := ba.a
	for range items {
		r.shares.add(a.start, p.Labels().Operator, p.Labels().Cloud)
	}
	go func() {
		ba.answers, a.err = p.CallBatch(a.ctx, calls)
		a.stop()
		if !errors.Is(a.err, upstream.ErrNoBatches) {
			d := time.Since(a.start)
			for i, it := range items {
				err := a.err
				if err == nil {
					err = ba.answers[i].Err
				}
				r.observe(p, it.req.Method, d, err)
			}
		}
		results <- ba
	}()
	return ba
}

// batchHedgeDelay is the hedge delay of a batch of n calls: a node answers
// a batch's calls one after the other (go-ethereum does), so the single
// call's delay times n, at most routing.hedge_max_delay.
func (r *Router) batchHedgeDelay(t *tried, n int) time.Duration {
	return min(r.hedgeDelay(t)*time.Duration(n), r.hedgeMax())
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
	b.r.sendBatch(ctx, items)
}

// DoBatch routes the calls of one wave of a client's batch at once, as the
// calls of a Batch are routed: the calls that may share a request go to one
// provider as one upstream batch; the others (writes, debug and trace
// calls) and any call the batch could not answer for sure go through Do
// each, at the same time, all but one on goroutines of their own. out[i] and
// errs[i] are reqs[i]'s answer, as Do would give it.
func (r *Router) DoBatch(ctx context.Context, reqs []Request, out []Result, errs []error) {
	items := make([]batchItem, len(reqs))
	batched := make([]*batchItem, 0, len(reqs))
	alone := make([]int, 0, len(reqs)) // indexes of reqs for Do
	for i := range reqs {
		if !batchable(&reqs[i]) {
			alone = append(alone, i)
			continue
		}
		items[i] = batchItem{ctx: ctx, req: reqs[i]}
		batched = append(batched, &items[i])
	}
	if len(batched) > 0 {
		r.sendBatch(ctx, batched)
	}
	for i := range items {
		it := &items[i]
		switch {
		case it.ctx == nil: // in alone already
		case it.fallback:
			alone = append(alone, i)
		default:
			out[i], errs[i] = it.res, it.err
		}
	}
	var wg sync.WaitGroup
	for k, i := range alone {
		if k == len(alone)-1 {
			out[i], errs[i] = r.Do(ctx, &reqs[i]) // the last on this goroutine
			break
		}
		wg.Go(func() { out[i], errs[i] = r.Do(ctx, &reqs[i]) })
	}
	wg.Wait()
}

// batchable reports whether req may share an upstream batch: writes go
// alone (each to its own operators), and so do debug and trace calls.
func batchable(req *Request) bool {
	return req.Info.Kind != ethmethod.Write && req.Info.Needs == ""
}

// sendBatch routes items as one upstream batch and hands each its answer,
// or marks it fallback: to be routed on its own with Do.
func (r *Router) sendBatch(ctx context.Context, items []*batchItem) {
	fallback := func() {
		for _, it := range items {
			it.fallback = true
		}
	}
	if len(items) == 1 {
		fallback() // a single call: the ordinary path
		return
	}
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
	calls := make([]upstream.BatchCall, len(items))
	for i, it := range items {
		calls[i] = upstream.BatchCall{Method: it.req.Method, Params: it.req.Params}
	}
	results := make(chan *batchAttempt, 2) // the first attempt and its hedge
	running := []*batchAttempt{r.launchBatch(ctx, p, false, items, calls, &t, results)}
	launched := 1
	var hedgeC <-chan time.Time
	if r.cfg.Hedge {
		timer := time.NewTimer(r.batchHedgeDelay(&t, len(items)))
		defer timer.Stop()
		hedgeC = timer.C
	}
	// The batch is hedged as a batch: one more request, to another
	// operator. Falling back to each call on its own when the first was
	// slow made ten requests of one on a node that was slow because it
	// was busy, and throughput collapsed under load.
	var won *batchAttempt
	for won == nil {
		select {
		case ba := <-results:
			running = slices.DeleteFunc(running, func(x *batchAttempt) bool { return x == ba })
			if ba.a.err == nil {
				won = ba
			} else if len(running) == 0 {
				fallback()
				return
			}
		case <-hedgeC:
			hedgeC = nil
			if hp, lr := r.pick(&rep, &t, true); hp != nil && !lr && hp.Batches() {
				if r.obs != nil {
					r.obs.Hedge(r.chain, rep.Method)
				}
				running = append(running, r.launchBatch(ctx, hp, true, items, calls, &t, results))
				launched++
			}
		case <-ctx.Done():
			for _, ba := range running {
				r.release(ba.a)
			}
			fallback() // each call then sees its own context's end
			return
		}
	}
	for _, ba := range running {
		r.release(ba.a) // the slower one, left to finish
	}
	p, answers := won.a.p, won.answers
	for i, it := range items {
		ans := answers[i]
		je, answered := ans.Err.(*jsonrpc.Error) // not wrapped: a node failure is an *upstream.Error
		switch {
		case ans.Err == nil:
			it.res = Result{Value: ans.Result, Provider: p.Name(), Attempts: launched, Hedged: won.a.hedge}
		case answered && !missingData(je):
			it.res, it.err = Result{Provider: p.Name(), Attempts: launched, Hedged: won.a.hedge}, je // the node's answer
		default:
			it.fallback = true
		}
	}
}
