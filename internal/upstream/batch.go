package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/redact"
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
var ErrNoBatches = errors.New("provider does not answer batches")

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
		return nil, &Error{Provider: p.name, Method: method, Class: ClassUnavailable, Err: ErrNoBatches}
	}
	if err := p.acquire(ctx, method, false, len(calls)); err != nil {
		return nil, err
	}
	defer p.release()
	first := p.seq.Add(uint64(len(calls))) - uint64(len(calls)) + 1
	start := p.enter(first)

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

// postBatch sends the batch with ids first, first+1, ... and matches the
// answers to the calls by id.
func (p *Provider) postBatch(ctx context.Context, first uint64, calls []BatchCall) ([]BatchAnswer, error) {
	const method = "batch"
	fail := func(class Class, sent bool, err error) error {
		return &Error{Provider: p.name, Method: method, Class: class, Sent: sent, Err: err}
	}
	n := 2
	for _, c := range calls {
		n += 64 + len(c.Method) + len(c.Params)
	}
	body := make([]byte, 0, n)
	body = append(body, '[')
	for i, c := range calls {
		if i > 0 {
			body = append(body, ',')
		}
		body = appendCall(body, first+uint64(i), c.Method, c.Params)
	}
	body = append(body, ']')
	want := batchIDs(first, len(calls))
	data, status, err := p.roundTrip(ctx, want, method, body)
	if err != nil {
		return nil, err
	}
	msgs, err := decodeBatchResponse(data)
	if err != nil || status >= 400 {
		// A provider that refuses batches answers with an HTTP error or
		// with one error object instead of an array.
		return nil, fail(ClassUnavailable, true, fmt.Errorf("%w: %s: %.200s", ErrNoBatches, answerFrom(status), data))
	}
	if err := checkBatchIDs(msgs, want); err != nil {
		return nil, fail(ClassBadResponse, true, fmt.Errorf("%s: %w", answerFrom(status), err))
	}
	answers := make([]BatchAnswer, len(calls))
	got := make([]bool, len(calls))
	for _, m := range msgs {
		id, _ := parseID(bytes.TrimSpace(m.ID)) // one of the batch's: checkBatchIDs passed it
		i := id - first
		got[i] = true
		answers[i].Result, answers[i].Err = p.answerOf(calls[i].Method, m, status)
	}
	for i := range answers {
		if !got[i] {
			answers[i].Err = fail(ClassBadResponse, true, fmt.Errorf("%s: no answer for call %d of the batch", answerFrom(status), i))
		}
	}
	return answers, nil
}

// roundTrip sends body (a call, or a batch, with the ids of want) and
// returns the answer's body and HTTP status (0 over WebSocket): the
// transport, status and size checks every call shares. The caller checks
// the ids of what it decodes.
func (p *Provider) roundTrip(ctx context.Context, want callIDs, method string, body []byte) ([]byte, int, error) {
	fail := func(class Class, sent bool, err error) error {
		return &Error{Provider: p.name, Method: method, Class: class, Sent: sent, Err: err}
	}
	if p.ws != nil {
		data, sent, err := p.ws.call(ctx, want.first, body)
		data, err = p.wsResult(ctx, method, data, sent, err)
		return data, 0, err
	}
	var ans h1Answer
	var err error
	if p.h1 != nil {
		// A write is never sent twice, even on a connection the server closed.
		ans, err = p.h1.do(ctx, body, want, p.maxResp, ethmethod.Lookup(method).Kind != ethmethod.Write)
	} else {
		ans, err = p.postStd(ctx, body)
	}
	if err != nil {
		// net/http's errors quote the URL, where the API key may be.
		err = redact.Error(err, p.cfg.HTTP)
	}
	if err != nil && ans.status == 0 {
		if ctx.Err() != nil {
			return nil, 0, p.ctxError(ctx, method)
		}
		return nil, 0, fail(ClassTransport, !isDialError(err), err)
	}
	if ans.status == http.StatusTooManyRequests {
		wait := parseRetryAfter(ans.retryAfter, time.Now())
		p.mu.Lock()
		p.throttledUntil = time.Now().Add(wait)
		p.mu.Unlock()
		return nil, ans.status, fail(ClassThrottled, false, fmt.Errorf("%w: HTTP 429, retry after %s", ErrThrottled, wait))
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ans.status, p.ctxError(ctx, method)
		}
		return nil, ans.status, fail(ClassTransport, true, fmt.Errorf("read response: %w", err))
	}
	if int64(len(ans.body)) > p.maxResp {
		return nil, ans.status, fail(ClassTooLarge, true, fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, p.maxResp))
	}
	if ans.status >= 500 {
		return nil, ans.status, fail(ClassTransport, true, fmt.Errorf("HTTP %d", ans.status))
	}
	return ans.body, ans.status, nil
}

// postStd posts body with net/http (https providers, tests' transports).
// An error with a zero status means no answer arrived.
func (p *Provider) postStd(ctx context.Context, body []byte) (h1Answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.HTTP, bytesReader(body))
	if err != nil {
		return h1Answer{}, err
	}
	// Only what the provider needs, nothing of the client's. The map is
	// shared by the provider's calls and never written: http.Client clones
	// it before adding anything (URL credentials) and transports only read.
	req.Header = p.header
	resp, err := p.client.Do(req)
	if err != nil {
		return h1Answer{}, err
	}
	defer resp.Body.Close()
	ans := h1Answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode == http.StatusTooManyRequests {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return ans, nil
	}
	ans.body, err = readBody(resp, p.maxResp)
	return ans, err
}

// decodeBatchResponse decodes a batch answer: an array of answer objects,
// without reflection unless an answer carries an error or the array is
// unusual (as decodeResponse for one answer).
func decodeBatchResponse(data []byte) ([]response, error) {
	members, ok := jsonrpc.ScanResponses(data)
	if !ok {
		var msgs []response // declared here: only this path allocates it
		err := json.Unmarshal(data, &msgs)
		return msgs, err
	}
	msgs := make([]response, len(members))
	for i, m := range members {
		msgs[i].ID, msgs[i].Result = m.ID, m.Result
		if len(m.Error) > 0 && string(m.Error) != "null" {
			if err := json.Unmarshal(m.Error, &msgs[i].Error); err != nil {
				return nil, err
			}
		}
	}
	return msgs, nil
}

// wsResult applies roundTrip's checks to what a WebSocket call brought:
// the answer's bytes, or the error to report.
func (p *Provider) wsResult(ctx context.Context, method string, data []byte, sent bool, err error) ([]byte, error) {
	fail := func(class Class, sent bool, err error) error {
		return &Error{Provider: p.name, Method: method, Class: class, Sent: sent, Err: err}
	}
	switch {
	case err == nil && int64(len(data)) <= p.maxResp:
		return data, nil
	case err != nil && ctx.Err() != nil:
		e := p.ctxError(ctx, method)
		e.Sent = sent // a call that ended before its frame went out was not sent
		return nil, e
	case err == nil || errors.Is(err, ErrResponseTooLarge):
		return nil, fail(ClassTooLarge, true, fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, p.maxResp))
	}
	// A frame not written may go to another provider, even a write.
	return nil, fail(ClassTransport, sent, err)
}

// answerFrom names how an answer came, for errors: its HTTP status, or
// WebSocket (status 0), which has none.
func answerFrom(status int) string {
	if status == 0 {
		return "WebSocket"
	}
	return "HTTP " + strconv.Itoa(status)
}
