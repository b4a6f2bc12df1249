package upstream

import (
	"encoding/json"
	"time"
)

// Completer receives the outcome of a call started with Provider.Start.
type Completer interface {
	Complete(result json.RawMessage, err error)
}

// wsStart is what completing a started call needs.
type wsStart struct {
	p      *Provider
	cc     *CallContext
	method string
	begun  time.Time
	done   Completer
}

// Start begins a call over the provider's WebSockets without waiting for
// it, and reports whether it did. The outcome, what Call would have
// returned, reaches done.Complete once: on the goroutine that ends the call
// (the connection's reader with the answer, its deadline sweep, the
// interrupt of Cancel, its failure), possibly before Start returns. A call
// that waits on no goroutine of its own saves the router a worker and two
// goroutine hand-offs.
//
// Start begins nothing and reports false when the call would have to wait
// (for a concurrency slot, a connection to be dialled) or may not go now
// (breaker, Retry-After, rate limit), and for providers whose calls go
// over HTTP: the caller then uses Call, which waits or says why.
func (p *Provider) Start(cc *CallContext, method string, params json.RawMessage, lastResort bool, done Completer) bool {
	if p.ws == nil || p.admit(method, lastResort) != nil {
		return false
	}
	// The connection first: a call that falls back to Call must not have
	// spent a rate-limit token here.
	c := p.ws.pickLive()
	if c == nil {
		return false
	}
	select {
	case p.sem <- struct{}{}:
	default:
		return false
	}
	if p.limiter != nil && !p.limiter.AllowN(time.Now(), 1) {
		p.release()
		return false
	}
	id := p.seq.Add(1)
	// In flight before it is registered: its connection may fail, and
	// complete it, at once.
	begun := p.enter(id)
	deadline, _ := cc.Deadline()
	e, err := c.register(id, deadline, true, &wsStart{p: p, cc: cc, method: method, begun: begun, done: done})
	if err != nil {
		p.mu.Lock()
		delete(p.inflight, id)
		p.requests--
		p.mu.Unlock()
		p.release()
		return false
	}
	// A new body: the writer may still read it after the call ended.
	body := appendCall(make([]byte, 0, 64+len(method)+len(params)), id, method, params)
	if !cc.watch(e.interrupt) {
		e.end() // over already: completed, not sent
		return true
	}
	c.enqueue(e, body)
	return true
}

// finishStarted completes a started call with what its connection brought.
func (p *Provider) finishStarted(id uint64, st wsStart, data []byte, sent bool, err error) {
	res, err := p.wsResult(st.cc, st.method, data, sent, err)
	if err == nil {
		res, err = p.decodeAnswer(st.method, id, res, 0)
	}
	p.mu.Lock()
	delete(p.inflight, id)
	p.mu.Unlock()
	p.record(st.begun, err, false)
	p.release()
	st.done.Complete(res, err)
}

// complete runs a started call's completion (see signalLocked), then lets
// the call go back to the pool unless its interrupt may still run.
func (e *wsCall) complete() {
	st := e.start
	id, data, sent, err := e.id, e.data, e.sent, e.err
	w := e.c.w
	e.data, e.err, e.start = nil, nil, wsStart{}
	if st.cc.unwatch() {
		w.calls.Put(e)
	}
	st.p.finishStarted(id, st, data, sent, err)
}

// pickLive returns a live connection, the next in turn, without waiting:
// nil when none is up (a slot that is down is redialled meanwhile).
func (w *wsCaller) pickLive() *wsConn {
	n := uint32(len(w.slots))
	first := w.next.Add(1) % n
	for i := range n {
		s := w.slots[(first+i)%n]
		if c := s.live(); c != nil {
			return c
		}
		if i == 0 {
			_, _, _ = w.redial(s)
		}
	}
	return nil
}

// enqueue queues a started call's frame; when the queue is full (far more
// calls than max_concurrency), it waits for room or the connection's end.
func (c *wsConn) enqueue(e *wsCall, body []byte) {
	f := wsFrame{id: e.id, body: body}
	select {
	case c.queue <- f:
	default:
		select {
		case c.queue <- f:
		case <-c.closing: // failed: e is completed
		}
	}
}
