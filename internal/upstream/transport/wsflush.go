package transport

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// flushConn is the socket under a WebSocket. While the writer holds it,
// writes go to a buffer until flush, so that many frames leave in one
// write syscall, all by the deadline given to hold; otherwise (the
// handshake, control frames the reader answers between batches) writes
// and their deadlines pass through.
type flushConn struct {
	net.Conn
	mu      sync.Mutex
	bw      *bufio.Writer
	holding bool
}

// Write buffers b while the writer holds the connection.
func (c *flushConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.holding {
		return c.Conn.Write(b)
	}
	return c.bw.Write(b)
}

// SetWriteDeadline sets the socket's write deadline, except while the
// writer holds it: gorilla sets one before every frame, and hold's covers
// them all (and costs one call instead of one a frame).
func (c *flushConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		return nil
	}
	return c.Conn.SetWriteDeadline(t)
}

// hold starts buffering writes, which must all be written by deadline
// (the buffer may fill up before flush).
func (c *flushConn) hold(deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = true
	return c.Conn.SetWriteDeadline(deadline)
}

// flush writes what was buffered and stops buffering.
func (c *flushConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	return c.bw.Flush()
}
