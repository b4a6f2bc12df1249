package route

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream"
)

// batchItem is one call of a wave on its way to an upstream batch.
type batchItem struct {
	ctx      context.Context
	req      Request // a copy: the caller's may live on its stack
	res      Result
	err      error
	fallback bool // route it on its own with Do
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
		r.count(a.start, p)
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

// DoBatch routes the calls of one wave of a client's batch at once: the
// calls that may share a request go to one provider as one upstream batch
// (hedged as a batch to another operator when slower than its hedge
// delay); the others (writes, debug and trace
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
		r.sendBatches(ctx, batched)
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

// sendBatches sends items as one upstream batch or, under the privacy
// policy, as one batch per operator its calls' addresses are kept with, at
// the same time (privacy.group).
func (r *Router) sendBatches(ctx context.Context, items []*batchItem) {
	groups := r.privacy.group(items)
	if len(groups) == 1 {
		r.sendBatch(ctx, groups[0])
		return
	}
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Go(func() { r.sendBatch(ctx, g) })
	}
	wg.Wait()
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
	// Route as the most demanding call: the highest pinned block, state;
	// as the first call for the privacy policy (a group's calls share the
	// operator their addresses are kept with).
	first := &items[0].req
	rep := Request{Method: first.Method, Params: first.Params, Info: first.Info, Client: first.Client, Verified: true}
	for _, it := range items {
		rep.Verified = rep.Verified && it.req.Verified // a probation provider only if it serves every call
		if it.req.HasBlock && (!rep.HasBlock || it.req.Block > rep.Block) {
			rep.Block, rep.HasBlock = it.req.Block, true
		}
		rep.Info.State = rep.Info.State || it.req.Info.State
	}
	var t tried
	p, lastResort := r.pick(&rep, &t, false)
	// A group the privacy policy made goes only to the operator that keeps
	// its addresses; elsewhere, each call falls back on its own.
	if p == nil || lastResort || !p.Batches() || !r.privacy.keeps(&rep, p) {
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
	if r.cfg.Hedge && !r.privacy.covers(&rep) { // a hedge would show the addresses to another operator
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
		if ans.Err == nil || answered && !missingData(je) {
			r.serve(p, it.req.Method, ans.Err)
		}
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
