package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// defaultRetryAfter is how long a 429 without Retry-After benches a provider.
const defaultRetryAfter = time.Second

// maxRetryAfter caps what a provider may ask for.
const maxRetryAfter = 5 * time.Minute

// post sends one call over HTTP and decodes the answer.
func (p *Provider) post(ctx context.Context, id uint64, method string, params json.RawMessage) (json.RawMessage, error) {
	var data []byte
	var status int
	var err error
	if p.h1 != nil {
		// The lean client is done with the body when it returns (it copies
		// it into the connection's buffer): the body buffer is reused.
		buf := p.callBuf()
		*buf = appendCall((*buf)[:0], id, method, params)
		data, status, err = p.roundTrip(ctx, singleID(id), method, *buf)
		p.putCallBuf(buf)
	} else {
		// net/http may read a body after its RoundTrip returned, and a
		// WebSocket writer after its call ended: a new one.
		body := appendCall(make([]byte, 0, 64+len(method)+len(params)), id, method, params)
		data, status, err = p.roundTrip(ctx, singleID(id), method, body)
	}
	if err != nil {
		return nil, err
	}
	return p.decodeAnswer(method, id, data, status)
}

// decodeAnswer decodes the answer to the call with id (status 0: over
// WebSocket): its result, the node's error, or why the answer is no good.
// An answer with another id is someone else's: a provider failure, never
// the caller's answer.
func (p *Provider) decodeAnswer(method string, id uint64, data []byte, status int) (json.RawMessage, error) {
	fail := func(class Class, sent bool, err error) error {
		return &Error{Provider: p.name, Method: method, Class: class, Sent: sent, Err: err}
	}
	msg, err := decodeResponse(data)
	if err != nil {
		return nil, fail(ClassBadResponse, true, fmt.Errorf("%s: decode: %w", answerFrom(status), err))
	}
	if err := checkID(msg.ID, id); err != nil {
		return nil, fail(ClassBadResponse, true, fmt.Errorf("%s: %w", answerFrom(status), err))
	}
	return p.answerOf(method, msg, status)
}

// answerOf is what one answer, alone or in a batch, over any transport,
// gives its call: its result, the node's error, or why the answer is no
// good. A result of eth_blockNumber may push the provider's head
// (pushHead): every call's answer passes here, so every transport's does.
func (p *Provider) answerOf(method string, msg response, status int) (json.RawMessage, error) {
	fail := func(class Class, sent bool, err error) error {
		return &Error{Provider: p.name, Method: method, Class: class, Sent: sent, Err: err}
	}
	if msg.Error != nil {
		if isRateLimitError(method, msg.Error) {
			p.mu.Lock()
			p.throttledUntil = time.Now().Add(defaultRetryAfter)
			p.mu.Unlock()
			return nil, fail(ClassThrottled, false, fmt.Errorf("%w: error %d", ErrThrottled, msg.Error.Code))
		}
		if isNodeFailure(msg.Error) {
			return nil, fail(ClassNodeError, true, msg.Error)
		}
		return nil, msg.Error
	}
	if msg.Result == nil {
		return nil, fail(ClassBadResponse, true, fmt.Errorf("%s: neither result nor error", answerFrom(status)))
	}
	p.pushHead(method, msg.Result)
	return msg.Result, nil
}

// maxPooledCall is the largest call buffer kept for reuse: a rare huge
// call (a big transaction) should not pin its memory.
const maxPooledCall = 64 << 10

// callBuf returns a buffer for one call's JSON, from the provider's pool.
func (p *Provider) callBuf() *[]byte {
	if b, ok := p.callBufs.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

// putCallBuf returns b to the pool.
func (p *Provider) putCallBuf(b *[]byte) {
	if cap(*b) <= maxPooledCall {
		p.callBufs.Put(b)
	}
}

// response is one decoded JSON-RPC answer; the result stays raw.
type response struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc.Error  `json:"error"`
}

// decodeResponse decodes one answer object, without reflection unless it
// carries an error or has unusual member names.
func decodeResponse(data []byte) (response, error) {
	m, ok := jsonrpc.ScanResponse(data)
	if !ok {
		var r response // declared here: only this path allocates it
		err := json.Unmarshal(data, &r)
		return r, err
	}
	r := response{ID: m.ID, Result: m.Result}
	if len(m.Error) > 0 && string(m.Error) != "null" {
		var e *jsonrpc.Error // likewise
		if err := json.Unmarshal(m.Error, &e); err != nil {
			return r, err
		}
		r.Error = e
	}
	return r, nil
}

// readBody reads the answer up to limit+1 bytes (one more tells the caller
// it was over), in one allocation when the length is announced.
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= limit {
		buf := make([]byte, n)
		_, err := io.ReadFull(resp.Body, buf)
		return buf, err
	}
	return io.ReadAll(io.LimitReader(resp.Body, limit+1))
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

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
	return &Error{Provider: p.name, Method: method, Class: class, Sent: true, Err: cause}
}

// appendCall appends one call's JSON to buf by hand: params are forwarded raw.
func appendCall(buf []byte, id uint64, method string, params json.RawMessage) []byte {
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, `,"method":`...)
	if plainName(method) {
		buf = append(append(append(buf, '"'), method...), '"')
	} else {
		m, _ := json.Marshal(method) // a string always marshals
		buf = append(buf, m...)
	}
	buf = append(buf, `,"params":`...)
	if len(params) == 0 {
		buf = append(buf, `[]`...)
	} else {
		buf = append(buf, params...)
	}
	return append(buf, '}')
}

// plainName reports whether s needs no JSON escaping (method names do not).
func plainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// isDialError reports whether the request never left: the connection failed.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// parseRetryAfter reads seconds or an HTTP date, defaulting and capping.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return defaultRetryAfter
	}
	if s, err := strconv.Atoi(v); err == nil {
		return min(max(time.Duration(s)*time.Second, 0), maxRetryAfter)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return defaultRetryAfter
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
