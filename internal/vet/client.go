package vet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// maxAnswerBytes bounds one answer read from the candidate.
const maxAnswerBytes = 32 << 20

// throttleRetries bounds how often one call is sent again after a 429,
// and maxRetryWait how long it waits for that.
const (
	throttleRetries = 5
	maxRetryWait    = 5 * time.Second
)

// RPCError is a JSON-RPC error object the candidate answered with.
type RPCError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Error says the code and message.
func (e *RPCError) Error() string { return fmt.Sprintf("error %d: %s", e.Code, e.Message) }

// HTTPError is an answer with a status other than 200.
type HTTPError struct {
	Status     int
	RetryAfter string
	Body       string // an excerpt
}

// Error says the status and the start of the body.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, http.StatusText(e.Status), e.Body)
}

// client calls the candidate over HTTP, one JSON-RPC call per request; a
// 429 is waited out (Retry-After, bounded) and counted, so the other checks
// still get answers from a candidate that throttles.
type client struct {
	url     string
	http    *http.Client
	timeout time.Duration
	id      atomic.Uint64

	mu        sync.Mutex
	throttles int
	last429   *HTTPError // the last 429 seen, with its Retry-After
}

func newClient(url string, timeout time.Duration) *client {
	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 16, DisableCompression: true}
	return &client{url: url, http: &http.Client{Transport: tr}, timeout: timeout}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// call sends one call and returns its result, an *RPCError, an *HTTPError
// or a transport error; a 429 is waited out (postPatient).
func (c *client) call(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error) {
	if params == nil {
		params = json.RawMessage("[]")
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": c.id.Add(1), "method": method, "params": params})
	if err != nil {
		return nil, fmt.Errorf("%s: encode params: %w", method, err)
	}
	return c.callOnce(ctx, body)
}

// postPatient posts body; a 429 is counted and waited out (its
// Retry-After, at most maxRetryWait) and the request sent again, at most
// throttleRetries times.
func (c *client) postPatient(ctx context.Context, body []byte) (int, http.Header, []byte, error) {
	for try := 0; ; try++ {
		status, hdr, answer, err := c.post(ctx, body)
		if err != nil || status != http.StatusTooManyRequests || try >= throttleRetries {
			return status, hdr, answer, err
		}
		he := &HTTPError{Status: status, RetryAfter: hdr.Get("Retry-After"), Body: excerpt(answer)}
		c.mu.Lock()
		c.throttles++
		c.last429 = he
		c.mu.Unlock()
		wait := time.Second
		if s, err := strconv.Atoi(he.RetryAfter); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
		t := time.NewTimer(min(wait, maxRetryWait))
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (c *client) callOnce(ctx context.Context, body []byte) (json.RawMessage, error) {
	status, hdr, answer, err := c.postPatient(ctx, body)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, &HTTPError{Status: status, RetryAfter: hdr.Get("Retry-After"), Body: excerpt(answer)}
	}
	var msg struct {
		Result json.RawMessage `json:"result"`
		Error  *RPCError       `json:"error"`
	}
	if err := json.Unmarshal(answer, &msg); err != nil {
		return nil, fmt.Errorf("the answer is not JSON-RPC: %s", excerpt(answer))
	}
	if msg.Error != nil {
		return nil, msg.Error
	}
	if msg.Result == nil {
		return nil, fmt.Errorf("the answer has neither result nor error: %s", excerpt(answer))
	}
	return msg.Result, nil
}

// post sends body as one request, bounded by the call timeout.
func (c *client) post(ctx context.Context, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, plainTransport(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read the answer: %w", plainTransport(err))
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// throttleStats is how many 429s the vetting's own calls met, and the last.
func (c *client) throttleStats() (int, *HTTPError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.throttles, c.last429
}

// plainTransport says what failed in plain words, not Go's wrapped text.
func plainTransport(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no answer within the call timeout: %w", err)
	case errors.Is(err, context.Canceled):
		return err
	}
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return fmt.Errorf("cannot reach it: %w", inner)
		}
	}
	return fmt.Errorf("cannot reach it: %w", err)
}

// excerpt is the start of b, for messages and evidence.
func excerpt(b []byte) string {
	const n = 200
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
