package transport

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

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
			e.deliver(nil, ErrTooLarge)
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
