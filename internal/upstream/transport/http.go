package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/redact"
)

// HTTPOptions configure NewHTTP.
type HTTPOptions struct {
	URL         string
	MaxConns    int   // connections kept to the provider
	MaxResponse int64 // answer size limit
	// Transport overrides net/http's transport (tests); nil: the lean
	// client for plain http, net/http for https and URLs with credentials.
	Transport http.RoundTripper
}

// httpTransport posts requests to a provider's HTTP URL.
type httpTransport struct {
	url     string
	maxResp int64
	h1      *h1Client // plain http: the lean client (nil: client)
	client  *http.Client
	header  http.Header // every request's header; read-only
}

// httpAnswer is what a round trip needs of an HTTP answer.
type httpAnswer struct {
	status     int
	retryAfter string
	body       []byte
}

// NewHTTP returns the HTTP transport of a provider.
func NewHTTP(o HTTPOptions) RoundTripper {
	conns := max(o.MaxConns, 1)
	rt := o.Transport
	t := &httpTransport{url: o.URL, maxResp: o.MaxResponse}
	if rt == nil {
		t.h1 = newH1Client(o.URL, conns)
		rt = DefaultHTTPTransport(conns)
	}
	// No cookie jar and no client headers: nothing of the client's identity travels.
	t.client = &http.Client{Transport: rt, CheckRedirect: noRedirects}
	t.header = http.Header{
		"Content-Type": {"application/json"},
		"Accept":       {"application/json"},
		"User-Agent":   {"rpcmesh"},
	}
	return t
}

// DefaultHTTPTransport is the net/http transport of providers the lean
// client does not serve (https, credentials in the URL).
func DefaultHTTPTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // never leak traffic through an environment proxy
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
}

// noRedirects stops redirects: a provider that redirects POSTs is misconfigured.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Status reports HTTP.
func (t *httpTransport) Status() Status { return Status{Kind: "http"} }

// Close closes idle connections.
func (t *httpTransport) Close() {
	if t.h1 != nil {
		t.h1.closeIdle()
	}
	t.client.CloseIdleConnections()
}

// RoundTrip posts req and checks the answer: status, size, then ids.
func (t *httpTransport) RoundTrip(ctx context.Context, req Request) (Answer, error) {
	var ans httpAnswer
	var err error
	if t.h1 != nil {
		ans, err = t.h1.do(ctx, &req, t.maxResp)
	} else {
		ans, err = t.post(ctx, &req)
	}
	if err != nil {
		// net/http's errors quote the URL, where the API key may be.
		err = redact.Error(err, t.url)
	}
	fail := func(kind Kind, sent bool, err error) *Error {
		return &Error{Kind: kind, Sent: sent, Status: ans.status, Err: err}
	}
	switch {
	case err != nil && ans.status == 0:
		return Answer{}, fail(KindTransport, ctx.Err() != nil || !isDialError(err), err)
	case ans.status == http.StatusTooManyRequests:
		wait := parseRetryAfter(ans.retryAfter, time.Now())
		e := fail(KindThrottled, false, fmt.Errorf("HTTP 429, retry after %s", wait))
		e.RetryAfter = wait
		return Answer{}, e
	case err != nil:
		return Answer{}, fail(KindTransport, true, fmt.Errorf("read response: %w", err))
	case int64(len(ans.body)) > t.maxResp:
		return Answer{}, fail(KindTooLarge, true, fmt.Errorf("%w: over %d bytes", ErrTooLarge, t.maxResp))
	case ans.status >= 500:
		return Answer{}, fail(KindTransport, true, fmt.Errorf("HTTP %d", ans.status))
	}
	return checkAnswer(&req, ans.status, ans.body)
}

// post posts req with net/http. An error with a zero status means no
// answer arrived.
func (t *httpTransport) post(ctx context.Context, req *Request) (httpAnswer, error) {
	// net/http may read the body after the call returned: a new one.
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(encode(req)))
	if err != nil {
		return httpAnswer{}, err
	}
	// Only what the provider needs, nothing of the client's. The map is
	// shared by the provider's calls and never written: http.Client clones
	// it before adding anything (URL credentials) and transports only read.
	hr.Header = t.header
	resp, err := t.client.Do(hr)
	if err != nil {
		return httpAnswer{}, err
	}
	defer resp.Body.Close()
	ans := httpAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode == http.StatusTooManyRequests {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return ans, nil
	}
	ans.body, err = readBody(resp, t.maxResp)
	return ans, err
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

// isDialError reports whether the request never left: the connection failed.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// defaultRetryAfter is how long a 429 without Retry-After benches a provider.
const defaultRetryAfter = time.Second

// maxRetryAfter caps what a provider may ask for.
const maxRetryAfter = 5 * time.Minute

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
