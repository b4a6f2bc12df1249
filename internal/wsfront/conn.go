package wsfront

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// conn is one client connection: a reader (the serving goroutine), a
// writer that owns every write, and the calls in flight.
type conn struct {
	s   *Server
	ws  *websocket.Conn
	ep  Endpoint
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	send        chan []byte
	queuedBytes atomic.Int64
	lastActive  atomic.Int64 // unix nanos of the last client message
	inflight    chan struct{}
	calls       sync.WaitGroup

	readDone    chan struct{} // closed when the reader has stopped
	closeOnce   sync.Once
	closeCode   int
	closeReason string

	mu   sync.Mutex           // guards subs and ordering of held notifications
	subs map[string]*subState // this connection's subscriptions by ID
}

func newConn(s *Server, ws *websocket.Conn, ep Endpoint, log *slog.Logger) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		s: s, ws: ws, ep: ep, log: log,
		ctx: ctx, cancel: cancel,
		send:     make(chan []byte, s.opts.Limits.SendQueue),
		inflight: make(chan struct{}, max(s.opts.Limits.MaxInflightPerConn, 1)),
		subs:     make(map[string]*subState),
		readDone: make(chan struct{}),
	}
	c.lastActive.Store(time.Now().UnixNano())
	return c
}

// run serves the connection until it ends, then releases everything. It
// returns the connection's close code (see Observer.ConnClosed).
func (c *conn) run() int {
	l := c.s.opts.Limits
	c.ws.SetReadLimit(l.MaxMessageBytes)
	c.ws.SetPongHandler(func(string) error {
		if c.ctx.Err() != nil {
			return nil // closing: the drain deadline stands
		}
		return c.ws.SetReadDeadline(time.Now().Add(l.PongTimeout.D()))
	})
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	readErr := c.readLoop()
	close(c.readDone)
	gatewayFirst := c.ctx.Err() != nil // only closeWith cancels ctx
	c.closeWith(websocket.CloseNormalClosure, "")
	<-writerDone
	c.calls.Wait()
	c.unsubscribeAll()
	if gatewayFirst {
		return c.closeCode
	}
	return peerCloseCode(readErr)
}

// peerCloseCode is the close code of a connection the client ended (or
// that broke) with readErr, as a browser would report it.
func peerCloseCode(readErr error) int {
	var ce *websocket.CloseError
	switch {
	case errors.As(readErr, &ce):
		return ce.Code
	case errors.Is(readErr, websocket.ErrReadLimit):
		return websocket.CloseMessageTooBig // gorilla has sent the close frame
	}
	return websocket.CloseAbnormalClosure
}

// readLoop reads client messages and answers each in its own goroutine,
// at most MaxInflightPerConn at once (then it stops reading). Once the
// connection is closing it reads and drops what the client still sends,
// so that closing the socket does not reset it (a reset would destroy the
// answers and the close frame the client has not read yet). It returns the
// error that ended reading.
func (c *conn) readLoop() error {
	timeout := c.s.opts.Limits.PongTimeout.D()
	for {
		if c.ctx.Err() == nil {
			_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
		}
		kind, msg, err := c.ws.ReadMessage()
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Debug("ws read ended", "err", err)
			}
			return err
		}
		if c.ctx.Err() != nil || (kind != websocket.TextMessage && kind != websocket.BinaryMessage) {
			continue
		}
		c.lastActive.Store(time.Now().UnixNano())
		select {
		case c.inflight <- struct{}{}:
		case <-c.ctx.Done():
			continue
		}
		c.calls.Add(1)
		go func() {
			defer c.calls.Done()
			defer func() { <-c.inflight }()
			c.answer(msg)
		}()
	}
}

// writeLoop owns every write: queued messages, pings, the idle check and
// the close frame.
func (c *conn) writeLoop() {
	l := c.s.opts.Limits
	ping := time.NewTicker(l.PingInterval.D())
	defer ping.Stop()
	defer netConn(c.ws).Close() // unblocks the reader
	for {
		if c.ctx.Err() != nil { // closing wins over queued messages
			c.closeGracefully()
			return
		}
		select {
		case <-c.ctx.Done():
			c.closeGracefully()
			return
		case msg := <-c.send:
			c.queuedBytes.Add(-int64(len(msg)))
			_ = c.ws.SetWriteDeadline(time.Now().Add(l.WriteTimeout.D()))
			if err := c.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				c.log.Debug("ws write failed", "err", err)
				c.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		case now := <-ping.C:
			if c.idle(now) {
				c.closeWith(CloseIdle, "idle timeout")
				continue
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, now.Add(l.WriteTimeout.D())); err != nil {
				c.closeWith(websocket.CloseAbnormalClosure, "")
				return
			}
		}
	}
}

// idle reports whether the client has neither called nor subscribed for
// the idle timeout.
func (c *conn) idle(now time.Time) bool {
	c.mu.Lock()
	n := len(c.subs)
	c.mu.Unlock()
	last := time.Unix(0, c.lastActive.Load())
	return n == 0 && len(c.inflight) == 0 && now.Sub(last) > c.s.opts.Limits.IdleTimeout.D()
}

// closeGracefully sends the close frame with the recorded code after what
// is already on its way, half-closes the TCP connection, and lets the
// reader drain the client's last messages (up to the write timeout) so
// that the socket ends with a FIN, not a reset.
func (c *conn) closeGracefully() {
	if c.closeCode == 0 || c.closeCode == websocket.CloseAbnormalClosure {
		return
	}
	grace := c.s.opts.Limits.WriteTimeout.D()
	if c.closeCode == CloseShutdown {
		grace = min(grace, time.Second) // the gateway is going away: do not wait long
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeReason)
	if err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(grace)); err != nil {
		c.log.Debug("ws close frame not sent", "code", c.closeCode, "err", err)
		return
	}
	if tc, ok := netConn(c.ws).(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(grace))
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.readDone:
	case <-t.C:
	}
}

// netConn is the TCP connection under ws. fasthttp's hijacked connection
// hides CloseWrite, and its Close does nothing (fasthttp closes the socket
// once the upgraded handler returns, which waits for the reader): closing
// it would leave a reader blocked until its pong deadline.
func netConn(ws *websocket.Conn) net.Conn {
	nc := ws.NetConn()
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		return u.UnsafeConn()
	}
	return nc
}

// closeWith ends the connection with code and reason (the first call wins).
func (c *conn) closeWith(code int, reason string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeReason = code, reason
		if code == CloseSlowReader {
			c.log.Info("ws client disconnected", "code", code, "reason", reason)
			c.s.obs.SlowReader(c.ep.Chain)
		}
		c.cancel()
	})
}

// enqueue queues msg for the client without blocking; a full queue
// disconnects the client as a slow reader.
func (c *conn) enqueue(msg []byte) {
	if c.ctx.Err() != nil {
		return
	}
	l := c.s.opts.Limits
	q := c.queuedBytes.Load()
	if q > 0 && q+int64(len(msg)) > l.SendQueueBytes {
		c.closeWith(CloseSlowReader, "send queue full: client reads too slowly")
		return
	}
	c.queuedBytes.Add(int64(len(msg)))
	select {
	case c.send <- msg:
	default:
		c.queuedBytes.Add(-int64(len(msg)))
		c.closeWith(CloseSlowReader, "send queue full: client reads too slowly")
	}
}
