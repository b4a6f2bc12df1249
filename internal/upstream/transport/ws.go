package transport

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// wsTransport carries a provider's calls over a fixed set of WebSocket
// connections (call_transport: ws) instead of one HTTP exchange each. A
// connection has one writer goroutine, which writes every frame queued
// while it was busy and sends them with one write syscall, and one reader
// goroutine, which reads many answers per read syscall and hands each to
// the call waiting for its id. Ids are the provider's own (unique per
// provider), so nothing is rewritten; a batch waits under its first id.
//
// Connections are dialled on first use and again after a failure; one
// that failed before it answered anything is redialled only after a
// backoff. Close ends them and their goroutines.
type wsTransport struct {
	url        string
	maxResp    int64         // the provider's answer size limit
	readLimit  int64         // gorilla's: a larger message fails the connection
	timeout    time.Duration // dial, handshake and write timeout
	pingEvery  time.Duration // keepalive (wsPingEvery; tests shorten it)
	maxPending int           // calls waiting on one connection, and its queue
	logger     *slog.Logger
	// dialTCP opens the TCP connection under the WebSocket (tests wrap it).
	dialTCP func(ctx context.Context, network, addr string) (net.Conn, error)

	slots    []*wsSlot
	next     atomic.Uint32 // round robin over slots
	failures atomic.Uint64 // dials and connections that failed (not by close)

	ctx    context.Context // ends dials in progress on close
	cancel context.CancelFunc
	wg     sync.WaitGroup // dials, readers and writers
}

// Tuning of the WebSocket call transport.
const (
	wsCoalesceBuffer = 32 << 10 // frames gathered for one write syscall
	wsReadBuffer     = 64 << 10 // gorilla's read buffer: many answers per read syscall
	wsFrameBuffer    = 8 << 10  // gorilla's buffer for assembling (masking) a frame
	wsKeepReadBuffer = 1 << 20  // the reader's message buffer is kept up to this size
	wsPendingSlack   = 16       // health checks hold no concurrency slot
	wsDialBackoff    = 100 * time.Millisecond
	// wsPingEvery: a connection silent this long is pinged, and one that
	// stays silent for another such period is failed. Load balancers in
	// front of hosted nodes drop idle WebSockets after about a minute;
	// a NAT or a dead peer drops packets without a word.
	wsPingEvery      = 30 * time.Second
	wsMaxDialBackoff = 5 * time.Second
)

var (
	errWSClosed       = errors.New("websocket call transport closed")
	errCallEnded      = errors.New("call context ended")
	errTooManyPending = errors.New("too many calls waiting on the websocket connection")
	errWSSilent       = errors.New("no message on the websocket connection for a call timeout")
	errWSNoPong       = errors.New("no pong or message on the websocket connection since a keepalive ping")
)

// WSOptions configure NewWS.
type WSOptions struct {
	URL            string
	Conns          int           // connections (at least 1)
	MaxConcurrency int           // calls in flight to the provider
	MaxResponse    int64         // answer size limit
	Timeout        time.Duration // dial, handshake and write timeout
	Logger         *slog.Logger
	// DialTCP opens the TCP connection under a WebSocket (tests wrap it);
	// nil: a net.Dialer.
	DialTCP func(ctx context.Context, network, addr string) (net.Conn, error)
	// PingEvery is the keepalive period (tests shorten it); 0: 30 s.
	PingEvery time.Duration
}

// NewWS returns the WebSocket transport of a provider (call_transport ws).
// It dials nothing until the first call.
func NewWS(o WSOptions) RoundTripper {
	ctx, cancel := context.WithCancel(context.Background())
	dial := o.DialTCP
	if dial == nil {
		dial = (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	maxResp := min(o.MaxResponse, 1<<40)
	w := &wsTransport{
		url:     o.URL,
		maxResp: maxResp,
		// An answer over maxResp fails only its call, its rest discarded up
		// to this limit: a provider streaming more is cut off.
		readLimit:  maxResp + max(maxResp, 1<<20),
		timeout:    o.Timeout,
		pingEvery:  cmp.Or(o.PingEvery, wsPingEvery),
		maxPending: max(o.MaxConcurrency, 1) + wsPendingSlack,
		logger:     logger,
		dialTCP:    dial,
		ctx:        ctx,
		cancel:     cancel,
	}
	for range max(o.Conns, 1) {
		w.slots = append(w.slots, &wsSlot{backoff: wsDialBackoff})
	}
	return w
}

// Status counts the live connections, for /status and metrics.
func (w *wsTransport) Status() Status {
	st := &WSStatus{Connections: len(w.slots), Failures: w.failures.Load()}
	for _, s := range w.slots {
		if s.live() != nil {
			st.Live++
		}
	}
	return Status{Kind: "ws", WS: st}
}

// RoundTrip sends req as one frame and checks the answer.
func (w *wsTransport) RoundTrip(ctx context.Context, req Request) (Answer, error) {
	// A new body: the writer may still read it after the call ended.
	data, sent, err := w.call(ctx, req.First, encode(&req))
	switch {
	case err == nil:
		return checkAnswer(&req, 0, data)
	case errors.Is(err, ErrTooLarge):
		return Answer{}, &Error{Kind: KindTooLarge, Sent: true, Err: fmt.Errorf("%w: over %d bytes", ErrTooLarge, w.maxResp)}
	}
	// A frame not written may go to another provider, even a write.
	return Answer{}, &Error{Kind: KindTransport, Sent: sent, Err: err}
}

// call sends body (a call or batch whose first id is id) and returns the
// answer's bytes. sent is false when the frame was certainly not written.
// An answer over maxResp returns ErrTooLarge; when ctx ends first,
// errCallEnded (the caller asks ctx why).
func (w *wsTransport) call(ctx context.Context, id uint64, body []byte) (data []byte, sent bool, err error) {
	if ctx.Err() != nil {
		return nil, false, errCallEnded // over already: not sent
	}
	deadline, _ := ctx.Deadline()
	var c *wsConn
	var e *wsCall
	for try := 0; ; try++ {
		if c, err = w.pick(ctx); err != nil {
			return nil, false, err
		}
		if e, err = c.register(id, deadline); err == nil {
			break
		}
		if try > 0 || !c.dead.Load() {
			return nil, false, err
		}
		// The connection failed since it was picked: once more on another.
	}
	return c.await(ctx, e, body)
}

// Close ends every connection (failing the calls waiting on them) and
// waits for the goroutines. Calls after Close fail, unsent.
func (w *wsTransport) Close() {
	w.cancel()
	for _, s := range w.slots {
		s.mu.Lock()
		s.closed = true
		c := s.conn.Load()
		s.mu.Unlock()
		if c != nil {
			c.fail(errWSClosed)
		}
	}
	w.wg.Wait()
}
