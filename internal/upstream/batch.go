package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport"
)

// BatchCall is one call of a batch sent to a provider.
type BatchCall struct {
	Method string
	Params json.RawMessage
}

// BatchAnswer is the provider's answer to one call of a batch: a result, a
// *jsonrpc.Error answered by the node, or an *Error when that call failed
// on its own (a node failure, a rate limit, no answer for it in the batch).
type BatchAnswer struct {
	Result json.RawMessage
	Err    error
}

// ErrNoBatches means the provider does not answer batch requests.
var ErrNoBatches = transport.ErrNoBatches

// Batches reports whether the provider may be sent batch requests: true
// until one was answered with something other than a batch (an HTTP 4xx,
// one error object), as some providers refuse batches.
func (p *Provider) Batches() bool { return !p.noBatches.Load() }

// CallBatch sends calls as one JSON-RPC batch request: one HTTP round trip,
// one concurrency slot, one latency sample. The error is non-nil (an
// *Error) only when the whole batch failed; otherwise there is one answer
// per call, in order. A provider that refuses batches is not held
// responsible: the failure has class unavailable (ErrNoBatches), counts
// against neither its error rate nor its breaker, and Batches turns false.
func (p *Provider) CallBatch(ctx context.Context, calls []BatchCall) ([]BatchAnswer, error) {
	const method = "batch"
	if !p.Batches() {
		return nil, p.fail(method, ClassUnavailable, false, ErrNoBatches)
	}
	if err := p.acquire(ctx, method, false, len(calls)); err != nil {
		return nil, err
	}
	defer p.release()
	first := p.seq.Add(uint64(len(calls))) - uint64(len(calls)) + 1
	start := p.enter(first, true)

	answers, err := p.postBatch(ctx, first, calls)

	p.mu.Lock()
	delete(p.inflight, first)
	p.mu.Unlock()
	if errors.Is(err, ErrNoBatches) {
		if !p.noBatches.Swap(true) {
			p.logger.Info("provider does not answer batch requests; sending calls one by one", "err", err)
		}
		return nil, err
	}
	p.record(start, err, false)
	return answers, err
}

// postBatch sends the batch with ids first, first+1, ... and hands each
// call its answer.
func (p *Provider) postBatch(ctx context.Context, first uint64, calls []BatchCall) ([]BatchAnswer, error) {
	const method = "batch"
	req := transport.Request{First: first, Calls: make([]transport.Call, len(calls)), Batch: true, Resend: true}
	for i, c := range calls {
		req.Calls[i] = transport.Call{Method: c.Method, Params: c.Params}
		req.Resend = req.Resend && ethmethod.Lookup(c.Method).Kind != ethmethod.Write
	}
	ans, err := p.rt.RoundTrip(ctx, req)
	if err != nil {
		return nil, p.transportError(ctx, method, err)
	}
	answers := make([]BatchAnswer, len(calls))
	for i, m := range ans.Messages {
		if m.Missing {
			answers[i].Err = p.fail(calls[i].Method, ClassBadResponse, true,
				fmt.Errorf("%s: no answer for call %d of the batch", transport.AnswerFrom(ans.Status), i))
			continue
		}
		answers[i].Result, answers[i].Err = p.answerOf(calls[i].Method, m, ans.Status)
	}
	return answers, nil
}
