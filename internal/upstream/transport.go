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
	fail := func(class Class, sent bool, err error) error {
		return &Error{Provider: p.name, Method: method, Class: class, Sent: sent, Err: err}
	}
	body := encodeCall(id, method, params)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.HTTP, bytes.NewReader(body))
	if err != nil {
		return nil, fail(ClassTransport, false, err)
	}
	// A fresh header set: only what the provider needs, nothing of the client's.
	req.Header = http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
		"User-Agent":   {"rpcmesh"},
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, p.ctxError(ctx, method)
		}
		return nil, fail(ClassTransport, !isDialError(err), err)
	}
	defer resp.Body.Close()

	if resp.StatusCode == http.StatusTooManyRequests {
		wait := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		p.mu.Lock()
		p.throttledUntil = time.Now().Add(wait)
		p.mu.Unlock()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, fail(ClassThrottled, false, fmt.Errorf("%w: HTTP 429, retry after %s", ErrThrottled, wait))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.maxResp+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, p.ctxError(ctx, method)
		}
		return nil, fail(ClassTransport, true, fmt.Errorf("read response: %w", err))
	}
	if int64(len(data)) > p.maxResp {
		return nil, fail(ClassTooLarge, true, fmt.Errorf("%w: over %d bytes", ErrResponseTooLarge, p.maxResp))
	}
	if resp.StatusCode >= 500 {
		return nil, fail(ClassTransport, true, fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	var msg struct {
		Result json.RawMessage `json:"result"`
		Error  *jsonrpc.Error  `json:"error"`
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil, fail(ClassBadResponse, true, fmt.Errorf("HTTP %d: decode: %w", resp.StatusCode, err))
	}
	if msg.Error != nil {
		if isRateLimitError(msg.Error) {
			p.mu.Lock()
			p.throttledUntil = time.Now().Add(defaultRetryAfter)
			p.mu.Unlock()
			return nil, fail(ClassThrottled, false, fmt.Errorf("%w: %s", ErrThrottled, msg.Error.Message))
		}
		if isNodeFailure(msg.Error) {
			return nil, fail(ClassNodeError, true, msg.Error)
		}
		return nil, msg.Error
	}
	if msg.Result == nil {
		return nil, fail(ClassBadResponse, true, fmt.Errorf("HTTP %d: neither result nor error", resp.StatusCode))
	}
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
	return &Error{Provider: p.name, Method: method, Class: class, Sent: true, Err: cause}
}

// encodeCall builds the request body by hand: params are forwarded raw.
func encodeCall(id uint64, method string, params json.RawMessage) []byte {
	m, _ := json.Marshal(method) // a string always marshals
	buf := make([]byte, 0, 48+len(m)+len(params))
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = strconv.AppendUint(buf, id, 10)
	buf = append(buf, `,"method":`...)
	buf = append(buf, m...)
	buf = append(buf, `,"params":`...)
	if len(params) == 0 {
		buf = append(buf, `[]`...)
	} else {
		buf = append(buf, params...)
	}
	return append(buf, '}')
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

// isRateLimitError recognises rate limiting reported inside a 200 answer.
func isRateLimitError(e *jsonrpc.Error) bool {
	m := strings.ToLower(e.Message)
	return e.Code == 429 || strings.Contains(m, "rate limit") || strings.Contains(m, "too many requests") ||
		strings.Contains(m, "exceeded") && strings.Contains(m, "capacity")
}

// isNodeFailure recognises error answers that say the node (or the proxy in
// front of it) failed, rather than answering the call: they count against
// the provider's health, and reads are tried elsewhere.
func isNodeFailure(e *jsonrpc.Error) bool {
	if e.Code == jsonrpc.CodeInternalError {
		return true
	}
	m := strings.ToLower(e.Message)
	return strings.Contains(m, "internal error") || strings.Contains(m, "service unavailable") ||
		strings.Contains(m, "bad gateway") || strings.Contains(m, "request timed out")
}
