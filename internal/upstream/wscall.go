package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsCaller carries a provider's calls over a fixed set of WebSocket
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
type wsCaller struct {
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
	calls    sync.Pool     // *wsCall, reused when nothing can touch them any more

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
	// errLostWithConn marks the calls a connection's failure took down
	// besides the one that reports it: one dropped connection is one
	// failure of the provider, not one per call it carried (which would
	// open the breaker of a healthy provider whose load balancer closed a
	// busy connection).
	errLostWithConn = errors.New("lost with the connection (counted once)")
)

// wsCallerOptions configure newWSCaller.
type wsCallerOptions struct {
	URL        string
	Conns      int           // connections (1..config.MaxWSConns)
	MaxPending int           // calls waiting on one connection
	MaxResp    int64         // answer size limit
	Timeout    time.Duration // dial, handshake and write timeout
	Logger     *slog.Logger
}

func newWSCaller(o wsCallerOptions) *wsCaller {
	ctx, cancel := context.WithCancel(context.Background())
	d := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}
	maxResp := min(o.MaxResp, 1<<40)
	w := &wsCaller{
		url:     o.URL,
		maxResp: maxResp,
		// An answer over maxResp fails only its call, its rest discarded up
		// to this limit: a provider streaming more is cut off.
		readLimit:  maxResp + max(maxResp, 1<<20),
		timeout:    o.Timeout,
		pingEvery:  wsPingEvery,
		maxPending: max(o.MaxPending, 1),
		logger:     o.Logger,
		dialTCP:    d.DialContext,
		ctx:        ctx,
		cancel:     cancel,
	}
	for range max(o.Conns, 1) {
		w.slots = append(w.slots, &wsSlot{backoff: wsDialBackoff})
	}
	return w
}

// status counts the live connections, for /status and metrics.
func (w *wsCaller) status() *WSStatus {
	st := &WSStatus{Connections: len(w.slots), Failures: w.failures.Load()}
	for _, s := range w.slots {
		if s.live() != nil {
			st.Live++
		}
	}
	return st
}

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

// call sends body (a call or batch whose first id is id) and returns the
// answer's bytes. sent is false when the frame was certainly not written.
// An answer over maxResp returns ErrResponseTooLarge; when ctx ends first,
// errCallEnded (the caller asks ctx why).
func (w *wsCaller) call(ctx context.Context, id uint64, body []byte) (data []byte, sent bool, err error) {
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

// pick returns a live connection: the next slot's in turn, or, when that
// one is down, any other while it is redialled in the background. With
// none live it waits for that dial (a first call, or after failures).
func (w *wsCaller) pick(ctx context.Context) (*wsConn, error) {
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
func (w *wsCaller) redial(s *wsSlot) (wait <-chan struct{}, retryIn time.Duration, err error) {
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
func (w *wsCaller) dial(s *wsSlot, done chan struct{}) {
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
func (w *wsCaller) open(ctx context.Context, s *wsSlot) (*wsConn, error) {
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

// close ends every connection (failing the calls waiting on them) and
// waits for the goroutines. Calls after close fail, unsent.
func (w *wsCaller) close() {
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

// wsConn is one WebSocket connection and the calls waiting on it.
type wsConn struct {
	w       *wsCaller
	slot    *wsSlot
	ws      *websocket.Conn
	raw     *flushConn
	queue   chan wsFrame  // frames for the writer
	closing chan struct{} // closed by fail: the writer stops, blocked senders give up
	dead    atomic.Bool

	mu       sync.Mutex
	pending  map[uint64]*wsCall // by id (a batch's first)
	err      error              // why the connection failed; nil while it is up
	lastRead time.Time          // when the last message or pong arrived
	pingSent time.Time          // the unanswered keepalive ping (zero: none)
	answered bool               // an answer was delivered: the connection worked

	// The reader's own.
	rbuf bytes.Buffer
	lr   io.LimitedReader
}

// wsFrame is one queued call or batch.
type wsFrame struct {
	id   uint64
	body []byte
}

// wsCall is one call waiting on a connection. Whoever removes it from the
// connection's pending map (the reader with its answer, the interrupt of
// its context, the connection's failure) sets its
// outcome and sends on done; its caller receives it. Reused through
// wsCaller.calls.
type wsCall struct {
	c         *wsConn
	id        uint64
	deadline  time.Time // zero: none
	sent      bool      // the writer took its frame
	sentAt    time.Time
	done      chan struct{} // capacity 1: one outcome per registration
	data      []byte
	err       error
	interrupt func() // end, as a func made once per wsCall
}

// register adds a call waiting for id; the error says the connection
// failed or is full.
func (c *wsConn) register(id uint64, deadline time.Time) (*wsCall, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.err != nil:
		return nil, c.err
	case len(c.pending) >= c.w.maxPending:
		return nil, errTooManyPending
	case c.pending[id] != nil:
		return nil, fmt.Errorf("id %d is already waiting for an answer", id)
	}
	e, _ := c.w.calls.Get().(*wsCall)
	if e == nil {
		e = &wsCall{done: make(chan struct{}, 1)}
		e.interrupt = e.end
	}
	e.c, e.id, e.deadline, e.sent = c, id, deadline, false
	c.pending[id] = e
	return e, nil
}

// await queues the call's frame and waits for its outcome. The end of ctx
// reaches it through an AfterFunc (its interrupt).
func (c *wsConn) await(ctx context.Context, e *wsCall, body []byte) ([]byte, bool, error) {
	stop := context.AfterFunc(ctx, e.interrupt)
	got := false
	f := wsFrame{id: e.id, body: body}
	select {
	case c.queue <- f:
	default: // full (only when far more calls wait than max_concurrency)
		select {
		case c.queue <- f:
		case <-c.closing: // failed: e has its outcome
		case <-e.done:
			got = true
		}
	}
	if !got {
		<-e.done
	}
	data, sent, err := e.data, e.sent, e.err
	e.data, e.err = nil, nil
	// Reused only when its interrupt cannot run any more: it would end
	// another call.
	if stop() {
		c.w.calls.Put(e)
	}
	return data, sent, err
}

// end ends the call because its context ended (its interrupt). A call that
// timed out on a connection that has stayed silent since its frame went
// out also fails the connection: it is likely dead.
func (e *wsCall) end() {
	c := e.c
	c.mu.Lock()
	if c.pending[e.id] != e {
		c.mu.Unlock()
		return // over already
	}
	delete(c.pending, e.id)
	e.err = errCallEnded
	silent := e.silentLocked(time.Now())
	e.done <- struct{}{}
	c.mu.Unlock()
	if silent {
		c.fail(errWSSilent)
	}
}

// silentLocked reports whether e, sent, is past its deadline with nothing
// received on its connection since. Called with c.mu held.
func (e *wsCall) silentLocked(now time.Time) bool {
	return e.sent && !e.deadline.IsZero() && !now.Before(e.deadline) && e.c.lastRead.Before(e.sentAt)
}

// fail closes the connection and fails every call waiting on it: Sent
// tells the router which ones may go elsewhere. Later calls fail too.
func (c *wsConn) fail(cause error) {
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return
	}
	c.err = fmt.Errorf("websocket connection failed: %w", cause)
	c.dead.Store(true)
	if !errors.Is(cause, errWSClosed) {
		c.w.failures.Add(1) // before any call hears of it
	}
	first := true
	for id, e := range c.pending {
		delete(c.pending, id)
		e.err = c.err
		if !first {
			e.err = fmt.Errorf("%w: %w", c.err, errLostWithConn)
		}
		first = false
		e.done <- struct{}{}
	}
	answered, err := c.answered, c.err
	c.mu.Unlock()
	close(c.closing)
	// The socket itself: this unblocks the reader and a writer stuck in a
	// write at once (a TLS close would first try to write an alert).
	_ = c.raw.Conn.Close()
	c.slot.down(answered, err)
	if !errors.Is(cause, errWSClosed) {
		c.w.logger.Debug("websocket call connection failed", "err", cause)
	}
}

// writeLoop writes queued frames: the first that arrives and every other
// already queued, flushed with one write.
func (c *wsConn) writeLoop() {
	defer c.w.wg.Done()
	frames := make([]wsFrame, 0, min(cap(c.queue), 512))
	// Looked at twice a period: a connection is pinged 30 to 45 s into a
	// silence, before a load balancer's usual 60 s idle timeout.
	ping := time.NewTicker(c.w.pingEvery / 2)
	defer ping.Stop()
	for {
		select {
		case f := <-c.queue:
			frames = append(frames[:0], f)
		case <-ping.C:
			if err := c.keepalive(); err != nil {
				c.fail(err)
				return
			}
			continue
		case <-c.closing:
			return
		}
		if len(c.queue) == 0 {
			// Under load, callers that are running are about to queue their
			// frames: letting them run first makes one write carry them all
			// (measured: 11 % more calls a second, 11 % less CPU per call).
			// Idle, nothing else is runnable and this returns at once.
			runtime.Gosched()
		}
	more:
		for len(frames) < cap(frames) {
			select {
			case f := <-c.queue:
				frames = append(frames, f)
			default:
				break more
			}
		}
		frames = c.claim(frames)
		if len(frames) == 0 {
			continue
		}
		err := c.writeFrames(frames)
		clear(frames) // the bodies are the callers'
		if err != nil {
			c.fail(fmt.Errorf("write: %w", err))
			return
		}
	}
}

// keepalive pings a connection that has been silent for a ping period and
// fails one that has not answered the previous ping (or sent anything)
// since. On the writer's goroutine, so the ping passes straight through.
func (c *wsConn) keepalive() error {
	now := time.Now()
	c.mu.Lock()
	switch {
	case !c.pingSent.IsZero() && c.lastRead.Before(c.pingSent):
		c.mu.Unlock()
		if now.Sub(c.pingSent) >= c.w.pingEvery {
			return errWSNoPong
		}
		return nil // the pong has time yet
	case now.Sub(c.lastRead) < c.w.pingEvery:
		c.pingSent = time.Time{} // messages flow: no ping needed
		c.mu.Unlock()
		return nil
	}
	c.pingSent = now
	c.mu.Unlock()
	if err := c.ws.WriteControl(websocket.PingMessage, nil, now.Add(c.w.timeout)); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// claim marks the calls of frames as sent, dropping the frames of calls
// that have ended: they are not sent at all.
func (c *wsConn) claim(frames []wsFrame) []wsFrame {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := frames[:0]
	for _, f := range frames {
		if e := c.pending[f.id]; e != nil {
			e.sent, e.sentAt = true, now
			kept = append(kept, f)
		}
	}
	clear(frames[len(kept):])
	return kept
}

// writeFrames writes frames through gorilla (framing, masking) into the
// socket's buffer and flushes it once, all within the write timeout.
func (c *wsConn) writeFrames(frames []wsFrame) error {
	deadline := time.Now().Add(c.w.timeout)
	_ = c.ws.SetWriteDeadline(deadline)
	if err := c.raw.hold(deadline); err != nil {
		return err
	}
	for _, f := range frames {
		if err := c.ws.WriteMessage(websocket.TextMessage, f.body); err != nil {
			return err
		}
	}
	return c.raw.flush()
}

// readLoop reads messages until the connection fails.
func (c *wsConn) readLoop() {
	defer c.w.wg.Done()
	for {
		_, r, err := c.ws.NextReader()
		if err == nil {
			err = c.readMessage(r)
		}
		if err != nil {
			c.fail(fmt.Errorf("read: %w", err))
			return
		}
	}
}

// readMessage reads one message (at most maxResp+1 bytes of it) and hands
// it to the call waiting for its id. A message no call waits for (a late
// answer, a notification) is dropped. One over maxResp fails only its
// call; its rest is discarded, within the read limit. Its id must be in
// what was read (geth writes "jsonrpc" and "id" first): without one, the
// connection fails, as it cannot tell whose answer it was.
func (c *wsConn) readMessage(r io.Reader) error {
	limit := c.w.maxResp
	c.rbuf.Reset()
	c.lr = io.LimitedReader{R: r, N: limit + 1}
	_, err := c.rbuf.ReadFrom(&c.lr)
	c.lr.R = nil
	if err != nil {
		return err
	}
	msg := c.rbuf.Bytes()
	over := int64(len(msg)) > limit
	e, found := c.match(msg)
	switch {
	case over && !found:
		return fmt.Errorf("an answer over %d bytes without an id in its first %d bytes", limit, len(msg))
	case over:
		if e != nil {
			e.deliver(nil, ErrResponseTooLarge)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
	case e != nil:
		e.deliver(bytes.Clone(msg), nil)
	}
	if c.rbuf.Cap() > wsKeepReadBuffer {
		c.rbuf = bytes.Buffer{} // a rare huge answer does not pin its memory
	}
	return nil
}

// match finds the call msg answers and removes it from pending: for a
// batch, the first element whose id a call waits for (normally the first).
// found reports whether msg had an id at all.
func (c *wsConn) match(msg []byte) (e *wsCall, found bool) {
	now := time.Now()
	for pos := 0; ; {
		id, next, ok := answerID(msg, pos)
		c.mu.Lock()
		c.lastRead = now
		if ok {
			found = true
			if e = c.pending[id]; e != nil {
				delete(c.pending, id)
				c.answered = true
			}
		}
		c.mu.Unlock()
		if e != nil || next < 0 {
			return e, found
		}
		pos = next
	}
}

// deliver hands the answer to the call (removed from pending by match).
func (e *wsCall) deliver(data []byte, err error) {
	e.data, e.err = data, err
	e.done <- struct{}{}
}
