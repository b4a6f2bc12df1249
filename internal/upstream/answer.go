package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/ethmethod"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/upstream/transport"
)

// rateLimitBench is how long a rate-limit error answer benches a provider
// (an answer carries no Retry-After).
const rateLimitBench = time.Second

// post sends one call through the provider's transport and decodes its
// answer.
func (p *Provider) post(ctx context.Context, id uint64, method string, params json.RawMessage) (json.RawMessage, error) {
	req := transport.Request{
		First: id,
		Calls: []transport.Call{{Method: method, Params: params}},
		// A write is never sent twice, even on a connection the server closed.
		Resend: ethmethod.Lookup(method).Kind != ethmethod.Write,
	}
	ans, err := p.rt.RoundTrip(ctx, req)
	if err != nil {
		return nil, p.transportError(ctx, method, err)
	}
	return p.answerOf(method, ans.Messages[0], ans.Status)
}

// transportError is a failed round trip as the provider's *Error: a
// throttled provider is benched for its Retry-After, and a failure because
// ctx ended says why it ended.
func (p *Provider) transportError(ctx context.Context, method string, err error) error {
	fail := func(class Class, sent bool, err error) error { return p.fail(method, class, sent, err) }
	var te *transport.Error
	if !errors.As(err, &te) {
		return fail(ClassTransport, true, err)
	}
	switch te.Kind {
	case transport.KindThrottled:
		p.mu.Lock()
		p.throttledUntil = time.Now().Add(te.RetryAfter)
		p.mu.Unlock()
		return fail(ClassThrottled, false, fmt.Errorf("%w: %w", ErrThrottled, te.Err))
	case transport.KindTooLarge:
		return fail(ClassTooLarge, true, te.Err)
	case transport.KindBadAnswer:
		return fail(ClassBadResponse, true, te.Err)
	case transport.KindNoBatches:
		return fail(ClassUnavailable, true, te.Err)
	}
	if ctx.Err() != nil {
		e := p.ctxError(ctx, method)
		e.Sent = te.Sent // a call that ended before it went out was not sent
		return e
	}
	return fail(ClassTransport, te.Sent, te.Err)
}

// answerOf is what one answer, alone or in a batch, over any transport,
// gives its call: its result, the node's error, or why the answer is no
// good. A result of eth_blockNumber may push the provider's head
// (pushHead): every call's answer passes here, so every transport's does.
func (p *Provider) answerOf(method string, msg transport.Message, status int) (json.RawMessage, error) {
	fail := func(class Class, sent bool, err error) error { return p.fail(method, class, sent, err) }
	if msg.Error != nil {
		if isRateLimitError(method, msg.Error) {
			p.mu.Lock()
			p.throttledUntil = time.Now().Add(rateLimitBench)
			p.mu.Unlock()
			return nil, fail(ClassThrottled, false, fmt.Errorf("%w: error %d", ErrThrottled, msg.Error.Code))
		}
		if isNodeFailure(msg.Error) {
			return nil, fail(ClassNodeError, true, msg.Error)
		}
		return nil, msg.Error
	}
	if msg.Result == nil {
		return nil, fail(ClassBadResponse, true, fmt.Errorf("%s: neither result nor error", transport.AnswerFrom(status)))
	}
	p.pushHead(method, msg.Result)
	return msg.Result, nil
}

// ctxError classifies a call that ended because its context did.
func (p *Provider) ctxError(ctx context.Context, method string) *Error {
	cause := context.Cause(ctx)
	class := ClassTimeout
	switch {
	case errors.Is(cause, ErrStalled):
		class = ClassStalled
	case errors.Is(cause, context.Canceled):
		class = ClassCanceled
	}
	return p.fail(method, class, true, cause)
}

// Error codes that speak of the provider rather than the call. Only codes
// are read, never messages: a message can be anything a contract reverts
// with (an eth_call reverting with "rate limit exceeded" is the caller's
// answer, code 3), and a client must not be able to bench a provider.
const (
	// codeRateLimited is the HTTP status hosted providers put in an error
	// answer when they throttle (the JSON-RPC error code 429); no node
	// answers a call with it.
	codeRateLimited = 429
	// codeLimitExceeded is EIP-1474's "limit exceeded", what hosted
	// providers answer over WebSocket (no HTTP status there) when a key
	// is over its rate; go-ethereum never answers with it.
	codeLimitExceeded = -32005
	// codeTimeout is go-ethereum's "request timed out" (rpc/errors.go,
	// errcodeTimeout): the node gave up on the call.
	codeTimeout = -32002
)

// isRateLimitError recognises rate limiting reported inside an answer to
// method, by its code. For eth_getLogs, -32005 is hosted providers' answer
// to a query whose result is too large ("query returned more than 10000
// results"): the caller's answer, and a client asking for too many logs in
// a loop must not bench every provider.
func isRateLimitError(method string, e *jsonrpc.Error) bool {
	return e.Code == codeRateLimited || e.Code == codeLimitExceeded && method != "eth_getLogs"
}

// isNodeFailure recognises error answers that say the node (or the proxy in
// front of it) failed, rather than answering the call, by their code
// (JSON-RPC's internal error, go-ethereum's timeout): they count against
// the provider's health, and reads are tried elsewhere.
func isNodeFailure(e *jsonrpc.Error) bool {
	return e.Code == jsonrpc.CodeInternalError || e.Code == codeTimeout
}
