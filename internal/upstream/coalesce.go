package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// coalescer merges a busy HTTP provider's waiting calls into batch requests
// (provider key coalesce_above): while fewer than above requests are in
// flight to the provider a call goes at once, alone, as before; past that
// it waits, and when a request ends, every call waiting by then (at most
// max) goes as one batch request. A lightly loaded provider sees exactly
// the calls it saw before; a loaded one sees a few batches instead of a
// queue of requests, each with its HTTP and JSON-RPC envelope to handle.
// go-ethereum answers a batch's calls one after another, so only cheap
// point reads are merged (ethmethod.PointRead): a slow call never holds up
// the calls merged with it by much.
type coalescer struct {
	p     *Provider
	above int // requests in flight before calls wait to go together
	max   int // most calls in one batch request

	mu       sync.Mutex
	inflight int        // requests in flight that went through the coalescer
	queue    []*waiting // calls waiting for a request to end, oldest first

	batches, calls atomic.Uint64 // batch requests sent, and their calls
}

// waiting is one call waiting in the coalescer's queue. It keeps its
// caller's deadline, not its context: the caller may leave while the call
// is on its way in a batch with others, whose answers must still come.
type waiting struct {
	deadline time.Time
	method   string
	params   json.RawMessage
	done     chan struct{} // closed when res and err (or alone) are set
	res      json.RawMessage
	err      error
	alone    bool // the batch was refused: the caller sends the call itself
}

func newCoalescer(p *Provider, above, max int) *coalescer {
	return &coalescer{p: p, above: above, max: max}
}

// call sends one call, alone or, when the provider is busy, with others.
// A provider that refused a batch gets every call alone. (Last-resort
// calls never come here: they go alone.)
func (c *coalescer) call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	if !c.p.Batches() {
		return c.p.callAlone(ctx, method, params, false)
	}
	c.mu.Lock()
	if c.inflight < c.above && len(c.queue) == 0 {
		c.inflight++
		c.mu.Unlock()
		res, err := c.p.callAlone(ctx, method, params, false)
		c.ended()
		return res, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.p.callTimeout())
	}
	w := &waiting{deadline: deadline, method: method, params: params, done: make(chan struct{})}
	c.queue = append(c.queue, w)
	c.mu.Unlock()
	select {
	case <-w.done:
	case <-ctx.Done():
		if c.remove(w) {
			err := c.p.ctxError(ctx, method)
			err.Sent = false
			return nil, err
		}
		// Already on its way in a batch: its answer is no longer wanted.
		return nil, c.p.ctxError(ctx, method)
	}
	if w.alone {
		return c.p.callAlone(ctx, method, params, false)
	}
	return w.res, w.err
}

// remove takes w out of the queue; false when a batch already took it.
func (c *coalescer) remove(w *waiting) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.queue, w); i >= 0 {
		c.queue = slices.Delete(c.queue, i, i+1)
		return true
	}
	return false
}

// ended hands the place of a request that ended to the calls waiting, as
// one batch request on a goroutine of its own (at most above of them run),
// or gives the place back.
func (c *coalescer) ended() {
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.inflight--
		c.mu.Unlock()
		return
	}
	n := min(len(c.queue), c.max)
	batch := make([]*waiting, n)
	copy(batch, c.queue)
	c.queue = slices.Delete(c.queue, 0, n) // zeroes what it frees: no waiting call held
	c.mu.Unlock()
	go c.send(batch)
}

// send sends the calls of batch as one request and hands each its answer.
// The request lives as long as its most patient call: one caller going
// away must not cancel the others' calls.
func (c *coalescer) send(batch []*waiting) {
	defer c.ended()
	deadline := time.Time{}
	calls := make([]BatchCall, len(batch))
	for i, w := range batch {
		calls[i] = BatchCall{Method: w.method, Params: w.params}
		if w.deadline.After(deadline) {
			deadline = w.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if len(batch) == 1 {
		w := batch[0]
		w.res, w.err = c.p.callAlone(ctx, w.method, w.params, false)
		close(w.done)
		return
	}
	answers, err := c.p.CallBatch(ctx, calls)
	if !errors.Is(err, ErrNoBatches) {
		c.batches.Add(1)
		c.calls.Add(uint64(len(calls)))
	}
	for i, w := range batch {
		switch {
		case errors.Is(err, ErrNoBatches):
			w.alone = true // refused: each call goes alone, as before
		case err != nil:
			w.err = asCallOf(err, w.method)
		default:
			w.res, w.err = answers[i].Result, answers[i].Err
		}
		close(w.done)
	}
}

// status reports what the coalescer merged; nil for a provider without one.
func (c *coalescer) status() *CoalesceStatus {
	if c == nil {
		return nil
	}
	return &CoalesceStatus{Above: c.above, Max: c.max, Batches: c.batches.Load(), Calls: c.calls.Load()}
}

// asCallOf is a batch's failure as the failure of one of its calls, method:
// an *Error names the call's method, not "batch".
func asCallOf(err error, method string) error {
	var ue *Error
	if !errors.As(err, &ue) {
		return err
	}
	e := *ue
	e.Method = method
	return &e
}

// callTimeout is the most a call to the provider may take (health
// provider_timeout, 10 s when unset).
func (p *Provider) callTimeout() time.Duration {
	if t := p.health.ProviderTimeout.D(); t > 0 {
		return t
	}
	return 10 * time.Second
}
