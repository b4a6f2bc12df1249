package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn is one WebSocket connection and the calls waiting on it: its
// registry of calls by id, which the reader, the calls' contexts and the
// connection's failure settle.
type wsConn struct {
	w       *wsTransport
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
// connection's pending map (the reader with its answer, the end of its
// context, the connection's failure) sets its outcome and sends on done;
// its caller receives it.
type wsCall struct {
	c        *wsConn
	id       uint64
	deadline time.Time // zero: none
	sent     bool      // the writer took its frame
	sentAt   time.Time
	done     chan struct{} // capacity 1: one outcome
	data     []byte
	err      error
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
	e := &wsCall{c: c, id: id, deadline: deadline, done: make(chan struct{}, 1)}
	c.pending[id] = e
	return e, nil
}

// await queues the call's frame and waits for its outcome; the end of ctx
// ends the call (end).
func (c *wsConn) await(ctx context.Context, e *wsCall, body []byte) ([]byte, bool, error) {
	stop := context.AfterFunc(ctx, e.end)
	defer stop()
	f := wsFrame{id: e.id, body: body}
	select {
	case c.queue <- f:
		<-e.done
	case <-c.closing: // failed: e has its outcome
		<-e.done
	case <-e.done:
	}
	return e.data, e.sent, e.err
}

// end ends the call because its context ended. A call that timed out on a
// connection that has stayed silent since its frame went out also fails
// the connection: it is likely dead.
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
	c.mu.Unlock()
	// The connection fails before the caller hears: its next call must
	// not be sent on the connection this one found dead.
	if silent {
		c.fail(errWSSilent)
	}
	e.done <- struct{}{}
}

// silentLocked reports whether e, sent, is past its deadline with nothing
// received on its connection since. Called with c.mu held.
func (e *wsCall) silentLocked(now time.Time) bool {
	return e.sent && !e.deadline.IsZero() && !now.Before(e.deadline) && e.c.lastRead.Before(e.sentAt)
}

// deliver hands the answer to the call (removed from pending by match).
func (e *wsCall) deliver(data []byte, err error) {
	e.data, e.err = data, err
	e.done <- struct{}{}
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
			e.err = fmt.Errorf("%w: %w", c.err, ErrLostWithConn)
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
