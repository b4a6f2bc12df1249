package wsfront

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// answer decodes one client message (a call or a batch), answers it and
// queues the response.
func (c *conn) answer(msg []byte) {
	calls, batch, derr := jsonrpc.Decode(msg)
	if derr != nil {
		r := jsonrpc.NewError(nil, derr)
		c.enqueue(r.AppendJSON(nil))
		return
	}
	if max := c.s.opts.MaxBatchItems; max > 0 && len(calls) > max {
		r := jsonrpc.NewError(nil, jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: batch of %d calls is over the limit of %d", len(calls), max))
		c.enqueue(r.AppendJSON(nil))
		return
	}
	ctx := c.ctx
	if t := c.s.opts.RequestTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	results := make([]*jsonrpc.Response, len(calls))
	var newSubs []string
	var mu sync.Mutex
	one := func(i int) {
		call := calls[i]
		var resp jsonrpc.Response
		switch {
		case call.Err != nil:
			resp = jsonrpc.NewError(call.Req.ID, call.Err)
		case call.Req.Method == "eth_subscribe":
			var id string
			resp, id = c.subscribe(&call.Req)
			if id != "" {
				mu.Lock()
				newSubs = append(newSubs, id)
				mu.Unlock()
			}
		case call.Req.Method == "eth_unsubscribe":
			resp = c.unsubscribe(&call.Req)
		default:
			resp = c.ep.Call(ctx, &call.Req)
		}
		if call.Err != nil || !call.Req.IsNotification() {
			results[i] = &resp
		}
	}
	if batch && c.ep.Batch != nil {
		c.answerBatch(ctx, calls, results, one)
	} else {
		runBounded(len(calls), c.s.opts.BatchConcurrency, one)
	}
	out := make([]jsonrpc.Response, 0, len(calls))
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	if body := c.encode(out, batch); body != nil {
		c.enqueue(body)
	}
	c.release(newSubs) // notifications only after the answer naming the subscription
}

// answerBatch answers a batch's subscription calls and invalid items with
// one, one after the other, and the rest together through the endpoint's
// Batch, filling results as one does.
func (c *conn) answerBatch(ctx context.Context, calls []jsonrpc.Call, results []*jsonrpc.Response, one func(int)) {
	rest := make([]jsonrpc.Call, 0, len(calls))
	at := make([]int, 0, len(calls)) // rest[j] is calls[at[j]]
	for i := range calls {
		if m := calls[i].Req.Method; calls[i].Err != nil || m == "eth_subscribe" || m == "eth_unsubscribe" {
			one(i)
			continue
		}
		rest, at = append(rest, calls[i]), append(at, i)
	}
	if len(rest) == 0 {
		return
	}
	answers := c.ep.Batch(ctx, rest)
	for j, i := range at {
		if !calls[i].Req.IsNotification() {
			results[i] = &answers[j]
		}
	}
}

// encode builds the message, replacing answers past the response size
// limit with a limit error, as the HTTP front door does.
func (c *conn) encode(responses []jsonrpc.Response, batch bool) []byte {
	return jsonrpc.EncodeLimited(responses, batch, c.s.opts.MaxResponseBytes)
}

// runBounded calls f(0..n-1) with at most workers at once.
func runBounded(n, workers int, f func(int)) {
	workers = min(max(workers, 1), n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// subState is one subscription of this connection. Notifications are held
// until the eth_subscribe answer is queued, so a client never sees a
// notification for an ID it does not know yet.
type subState struct {
	id    string
	kind  string
	ready bool
	held  [][]byte
}

// subscribe serves eth_subscribe: [kind, filter?].
func (c *conn) subscribe(req *jsonrpc.Request) (jsonrpc.Response, string) {
	if c.ep.Hub == nil {
		return jsonrpc.NewError(req.ID, jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "eth_subscribe is not available on this chain")), ""
	}
	params, perr := jsonrpc.ParamsArray(req.Params)
	if perr != nil || len(params) < 1 || len(params) > 2 {
		return jsonrpc.NewError(req.ID, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: eth_subscribe takes a kind and an optional filter")), ""
	}
	var kind string
	if err := json.Unmarshal(params[0], &kind); err != nil {
		return jsonrpc.NewError(req.ID, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: subscription kind must be a string")), ""
	}
	var filter json.RawMessage
	if len(params) == 2 {
		filter = params[1]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if max := c.s.opts.Limits.MaxSubscriptionsPerConn; len(c.subs) >= max {
		return jsonrpc.NewError(req.ID, jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: %d subscriptions on this connection", max)), ""
	}
	st := &subState{kind: kind}
	// The hub may call the sink before Subscribe returns; the sink waits
	// for c.mu, held here until st.id is set.
	id, err := c.ep.Hub.Subscribe(kind, filter, func(result json.RawMessage) { c.notify(st, result) })
	if err != nil {
		return jsonrpc.NewError(req.ID, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: %v", err)), ""
	}
	st.id = id
	c.subs[id] = st
	c.s.obs.Subscriptions(c.ep.Chain, kind, 1)
	idJSON, _ := json.Marshal(id)
	return jsonrpc.NewResult(req.ID, idJSON), id
}

// unsubscribe serves eth_unsubscribe: [id]; only this connection's IDs.
func (c *conn) unsubscribe(req *jsonrpc.Request) jsonrpc.Response {
	params, perr := jsonrpc.ParamsArray(req.Params)
	var id string
	if perr != nil || len(params) != 1 || json.Unmarshal(params[0], &id) != nil {
		return jsonrpc.NewError(req.ID, jsonrpc.Errorf(jsonrpc.CodeInvalidParams, "invalid params: eth_unsubscribe takes a subscription ID"))
	}
	c.mu.Lock()
	st, ok := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if ok {
		c.ep.Hub.Unsubscribe(id)
		c.s.obs.Subscriptions(c.ep.Chain, st.kind, -1)
	}
	return jsonrpc.NewResult(req.ID, json.RawMessage(boolJSON(ok)))
}

func boolJSON(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// notify queues one notification of st, or holds it until st is released.
func (c *conn) notify(st *subState, result json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs[st.id] != st {
		return // unsubscribed
	}
	msg := notification(st.id, result)
	if !st.ready {
		if len(st.held) >= c.s.opts.Limits.SendQueue {
			c.closeWith(CloseSlowReader, "send queue full: client reads too slowly")
			return
		}
		st.held = append(st.held, msg)
		return
	}
	c.enqueue(msg)
}

// release lets the subscriptions' notifications flow, held ones first.
func (c *conn) release(ids []string) {
	if len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		st := c.subs[id]
		if st == nil {
			continue
		}
		st.ready = true
		for _, m := range st.held {
			c.enqueue(m)
		}
		st.held = nil
	}
}

// unsubscribeAll ends the connection's subscriptions when it closes.
func (c *conn) unsubscribeAll() {
	c.mu.Lock()
	subs := make([]*subState, 0, len(c.subs))
	for _, st := range c.subs {
		subs = append(subs, st)
	}
	clear(c.subs)
	c.mu.Unlock()
	for _, st := range subs {
		c.ep.Hub.Unsubscribe(st.id)
		c.s.obs.Subscriptions(c.ep.Chain, st.kind, -1)
	}
}

// notification encodes an eth_subscription message.
func notification(id string, result json.RawMessage) []byte {
	b := make([]byte, 0, len(result)+110)
	b = append(b, `{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"`...)
	b = append(b, id...)
	b = append(b, `","result":`...)
	b = append(b, result...)
	b = append(b, `}}`...)
	return b
}
