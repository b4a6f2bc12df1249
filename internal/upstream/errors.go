package upstream

import (
	"errors"
	"fmt"

	"github.com/rpcmesh/rpcmesh/internal/upstream/transport"
)

// Class says why a call to a provider failed, for retry decisions and metrics.
type Class string

// Failure classes.
const (
	ClassUnavailable Class = "unavailable"  // breaker open, wrong chain, or at its concurrency/rps limit
	ClassThrottled   Class = "throttled"    // 429 or a rate-limit error from the provider
	ClassTimeout     Class = "timeout"      // no answer within the provider timeout
	ClassStalled     Class = "stalled"      // given up on as stalled after another attempt answered
	ClassTransport   Class = "transport"    // connection error or HTTP 5xx
	ClassBadResponse Class = "bad_response" // not a JSON-RPC response
	ClassNodeError   Class = "node_error"   // the node answered with an internal error (wraps the *jsonrpc.Error)
	ClassTooLarge    Class = "too_large"    // response over the size limit
	ClassCanceled    Class = "canceled"     // the caller went away
)

// Sentinel causes callers may branch on with errors.Is.
var (
	ErrBreakerOpen      = errors.New("circuit breaker open")
	ErrWrongChain       = errors.New("provider serves another chain")
	ErrBusy             = errors.New("provider at its concurrency or rate limit")
	ErrThrottled        = errors.New("provider is throttling us")
	ErrStalled          = errors.New("provider stalled")
	ErrResponseTooLarge = transport.ErrTooLarge
)

// Error is a failed call to a provider below the JSON-RPC level. An error
// answer from the node itself is returned as a *jsonrpc.Error instead.
type Error struct {
	Provider string
	Method   string
	Class    Class
	// Sent is false when the request certainly never reached the provider,
	// so even a write may be tried elsewhere.
	Sent bool
	Err  error
}

// Error formats the failure with the provider and method.
func (e *Error) Error() string {
	return fmt.Sprintf("upstream %s: %s: %s: %v", e.Provider, e.Method, e.Class, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// fail is a failure of a call of method to p.
func (p *Provider) fail(method string, class Class, sent bool, err error) *Error {
	return &Error{Provider: p.name, Method: method, Class: class, Sent: sent, Err: err}
}
