package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/redact"
)

// wsSlot is one of the caller's connections, across redials.
type wsSlot struct {
	conn atomic.Pointer[wsConn] // live, failed (dead) or nil (never dialled)

	mu      sync.Mutex
	closed  bool
	dialing chan struct{} // closed when the dial in progress ends; nil: none
	err     error         // why the last dial or connection failed
	retryAt time.Time     // no dial before (backoff)
	backoff time.Duration // the next backoff
}

// live returns the slot's connection if it is up.
func (s *wsSlot) live() *wsConn {
	if c := s.conn.Load(); c != nil && !c.dead.Load() {
		return c
	}
	return nil
}

// down records the failure of the slot's connection: it is redialled on
// next use, at once if it had worked (answered), else after the backoff,
// so a server that accepts and drops connections is not dialled in a loop.
func (s *wsSlot) down(answered bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if answered {
		s.backoff, s.retryAt = wsDialBackoff, time.Time{}
		return
	}
	s.retryAt = time.Now().Add(s.backoff)
	s.backoff = min(2*s.backoff, wsMaxDialBackoff)
}

// pick returns a live connection: the next slot's in turn, or, when that
// one is down, any other while it is redialled in the background. With
// none live it waits for that dial (a first call, or after failures).
func (w *wsTransport) pick(ctx context.Context) (*wsConn, error) {
	n := uint32(len(w.slots))
	first := w.next.Add(1) % n
	s := w.slots[first]
	if c := s.live(); c != nil {
		return c, nil
	}
	wait, retryIn, err := w.redial(s)
	for i := uint32(1); i < n; i++ {
		if c := w.slots[(first+i)%n].live(); c != nil {
			return c, nil
		}
	}
	if retryIn > 0 {
		return nil, fmt.Errorf("%w (not redialled for %s)", err, retryIn.Round(time.Millisecond))
	}
	if err != nil {
		return nil, err
	}
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c := s.live(); c != nil {
		return c, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return nil, errors.New("websocket connection lost")
	}
	return nil, s.err
}

// redial starts dialling s unless it is closed (errWSClosed), being
// dialled (wait for the returned channel), live again (all zero) or backing
// off (for retryIn, after err).
func (w *wsTransport) redial(s *wsSlot) (wait <-chan struct{}, retryIn time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	switch {
	case s.closed:
		return nil, 0, errWSClosed
	case s.dialing != nil:
		return s.dialing, 0, nil
	case s.live() != nil:
		return nil, 0, nil
	case now.Before(s.retryAt):
		return nil, s.retryAt.Sub(now), s.err
	}
	s.dialing = make(chan struct{})
	w.wg.Add(1)
	go w.dial(s, s.dialing)
	return s.dialing, 0, nil
}

// dial opens a connection for s and starts its reader and writer.
func (w *wsTransport) dial(s *wsSlot, done chan struct{}) {
	defer w.wg.Done()
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout)
	c, err := w.open(ctx, s)
	cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(done)
	s.dialing = nil
	if err == nil && s.closed {
		_ = c.raw.Conn.Close()
		err = errWSClosed
	}
	if err != nil {
		if !errors.Is(err, errWSClosed) {
			w.failures.Add(1)
		}
		w.logger.Debug("websocket call connection: dial failed", "err", err, "retry_in", s.backoff)
		s.err = err
		s.retryAt = time.Now().Add(s.backoff)
		s.backoff = min(2*s.backoff, wsMaxDialBackoff)
		return
	}
	s.conn.Store(c)
	w.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

// open dials one connection, its socket wrapped so that the writer can
// coalesce frames.
func (w *wsTransport) open(ctx context.Context, s *wsSlot) (*wsConn, error) {
	var raw *flushConn
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := w.dialTCP(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			raw = &flushConn{Conn: conn, bw: bufio.NewWriterSize(conn, wsCoalesceBuffer)}
			return raw, nil
		},
		HandshakeTimeout: w.timeout,
		ReadBufferSize:   wsReadBuffer,
		WriteBufferSize:  wsFrameBuffer,
	}
	ws, err := dialWS(ctx, &d, w.url)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(w.readLimit)
	c := &wsConn{
		w:        w,
		slot:     s,
		ws:       ws,
		raw:      raw,
		queue:    make(chan wsFrame, w.maxPending),
		closing:  make(chan struct{}),
		pending:  make(map[uint64]*wsCall, w.maxPending),
		lastRead: time.Now(),
	}
	ws.SetPongHandler(func(string) error {
		c.mu.Lock()
		c.lastRead = time.Now()
		c.mu.Unlock()
		return nil
	})
	return c, nil
}

// DialSubscription dials a provider's WS endpoint and sends
// eth_subscribe(kind) with id 1; the caller reads the answer and the
// notifications. The connection is closed when ctx ends or stop is called.
// Nothing of a client's identity is sent; no proxy is used.
func DialSubscription(ctx context.Context, url, kind string, timeout time.Duration) (conn *websocket.Conn, stop func(), err error) {
	conn, err = dialWS(ctx, &websocket.Dialer{HandshakeTimeout: timeout}, url)
	if err != nil {
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		conn.Close()
	}()
	stop = func() { close(done) }
	conn.SetReadLimit(1 << 20)
	_ = conn.SetWriteDeadline(time.Now().Add(timeout))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["`+kind+`"]}`)); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%s: eth_subscribe %s: %w", redact.URL(url), kind, redact.Error(err, url))
	}
	return conn, stop, nil
}

// dialWS dials url with d, sending nothing of a client's identity and
// never through a proxy (d.Proxy is ignored).
func dialWS(ctx context.Context, d *websocket.Dialer, url string) (*websocket.Conn, error) {
	d.Proxy = nil
	conn, resp, err := d.DialContext(ctx, url, http.Header{"User-Agent": {"rpcmesh"}})
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", redact.URL(url), redact.Error(err, url))
	}
	return conn, nil
}
