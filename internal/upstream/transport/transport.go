// Package transport carries a provider's JSON-RPC requests: over HTTP (a
// lean HTTP/1.1 client for plain http, net/http for https) or over
// multiplexed WebSockets. Every transport sits behind one RoundTripper,
// whose answers have had their ids checked against the request's: an
// answer with another id is the provider's failure, never an answer.
//
// It knows nothing of provider health: the caller (internal/upstream)
// classifies what comes back.
package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// RoundTripper sends one request, a single call or a batch, and returns
// the provider's answer, its ids checked. Safe for concurrent use.
type RoundTripper interface {
	// RoundTrip sends req and waits for its answer until ctx ends. A
	// failure is an *Error; its Kind says what failed.
	RoundTrip(ctx context.Context, req Request) (Answer, error)
	// Status reports how requests travel now, for /status and metrics.
	Status() Status
	// Close ends the transport's connections and goroutines.
	Close()
}

// Call is one JSON-RPC call: its params are forwarded raw.
type Call struct {
	Method string
	Params json.RawMessage
}

// Request is one request to a provider: its calls carry the ids First,
// First+1, ..., the provider's own sequence.
type Request struct {
	First uint64
	Calls []Call
	// Batch sends the calls as a JSON array (even one of them).
	Batch bool
	// Resend allows a second sending on a new connection when a reused
	// one turns out closed before a byte of the answer came: never for a
	// write.
	Resend bool
}

// Message is the answer to one call: a result or the node's error.
type Message struct {
	Result json.RawMessage
	Error  *jsonrpc.Error
	// Missing is set for a call of a batch that got no answer.
	Missing bool
}

// Answer is the provider's answer to a Request: one Message per call, in
// the order of the calls.
type Answer struct {
	Status   int // HTTP status; 0 over WebSocket
	Messages []Message
}

// Status says how a provider's requests travel.
type Status struct {
	Kind string    // "http" or "ws"
	WS   *WSStatus // the WebSocket connections (ws only)
}

// WSStatus is the state of a provider's WebSocket call connections.
type WSStatus struct {
	Connections int    `json:"connections"`        // ws_conns
	Live        int    `json:"live"`               // up now
	Failures    uint64 `json:"connectionFailures"` // dials and connections that failed
}

// Kind says what failed in a round trip.
type Kind int

// Kinds of failure.
const (
	KindTransport Kind = iota // no answer: a connection failure, HTTP 5xx, the context's end
	KindThrottled             // HTTP 429: RetryAfter says for how long
	KindTooLarge              // an answer over the size limit
	KindBadAnswer             // not a JSON-RPC answer, or not to this request's ids
	KindNoBatches             // a batch answered with something other than an array (wraps ErrNoBatches)
)

// Error is a failed round trip.
type Error struct {
	Kind Kind
	// Sent is false when the request certainly never reached the provider.
	Sent       bool
	Status     int           // HTTP status, when one came
	RetryAfter time.Duration // KindThrottled
	Err        error
}

// Error says what failed.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes.
var (
	// ErrNoBatches means the provider does not answer batch requests.
	ErrNoBatches = errors.New("provider does not answer batches")
	// ErrTooLarge means an answer was over the size limit.
	ErrTooLarge = errors.New("response too large")
	// ErrLostWithConn marks the calls a WebSocket connection's failure
	// took down besides the one that reports it: one dropped connection is
	// one failure of the provider, not one per call it carried.
	ErrLostWithConn = errors.New("lost with the connection (counted once)")
)

// checkAnswer decodes body, the answer to req, and checks its ids: the one
// place every transport's answers pass.
func checkAnswer(req *Request, status int, body []byte) (Answer, error) {
	bad := func(err error) error {
		return &Error{Kind: KindBadAnswer, Sent: true, Status: status, Err: fmt.Errorf("%s: %w", AnswerFrom(status), err)}
	}
	ids := idsOf(req)
	if !req.Batch {
		msg, err := decodeResponse(body)
		if err != nil {
			return Answer{}, bad(fmt.Errorf("decode: %w", err))
		}
		if err := checkID(msg.ID, req.First); err != nil {
			return Answer{}, bad(err)
		}
		return Answer{Status: status, Messages: []Message{{Result: msg.Result, Error: msg.Error}}}, nil
	}
	msgs, err := decodeBatchResponse(body)
	if err != nil || status >= 400 {
		// A provider that refuses batches answers with an HTTP error or
		// with one error object instead of an array.
		return Answer{}, &Error{Kind: KindNoBatches, Sent: true, Status: status,
			Err: fmt.Errorf("%w: %s: %.200s", ErrNoBatches, AnswerFrom(status), body)}
	}
	if err := checkBatchIDs(msgs, ids); err != nil {
		return Answer{}, bad(err)
	}
	out := make([]Message, len(req.Calls))
	for i := range out {
		out[i].Missing = true
	}
	for _, m := range msgs {
		id, _ := parseID(trimSpace(m.ID)) // one of the batch's: checkBatchIDs passed it
		out[id-req.First] = Message{Result: m.Result, Error: m.Error}
	}
	return Answer{Status: status, Messages: out}, nil
}

// AnswerFrom names how an answer came, for errors: its HTTP status, or
// WebSocket (status 0), which has none.
func AnswerFrom(status int) string {
	if status == 0 {
		return "WebSocket"
	}
	return "HTTP " + strconv.Itoa(status)
}
