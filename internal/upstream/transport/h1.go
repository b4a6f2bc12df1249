package transport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// h1Client is a lean HTTP/1.1 client for a plain-http provider. net/http's
// Transport hands every request to two goroutines of its own per connection
// (a writer and a reader); on a small machine those hand-offs cost more CPU
// than the call itself. h1Client writes the request in one syscall and reads
// the answer on the caller's goroutine, over a pool of kept-alive
// connections. https providers, and providers whose URL carries credentials,
// keep net/http.
type h1Client struct {
	addr    string // host:port to dial
	head    []byte // request line and headers up to "Content-Length: "
	maxIdle int
	dialer  net.Dialer

	mu   sync.Mutex
	idle []*h1Conn // most recently used last
}

// h1Conn is one kept-alive connection.
type h1Conn struct {
	conn      net.Conn
	br        *bufio.Reader
	body      []byte // the request's JSON
	buf       []byte // the request being written
	read      int64  // bytes read from conn so far
	idleAt    time.Time
	interrupt func() // unblocks a read or write in progress (made once)
}

// Read counts what the connection delivers (the bufio.Reader's source).
func (c *h1Conn) Read(b []byte) (int, error) {
	n, err := c.conn.Read(b)
	c.read += int64(n)
	return n, err
}

// maxIdleAge is how long an idle connection is trusted: servers close idle
// connections after a while (net/http: IdleTimeout), and a request sent on
// a connection the server has just closed fails.
const maxIdleAge = 30 * time.Second

// newH1Client returns a client for rawURL, or nil when net/http must serve
// it (not http://, credentials in the URL, a malformed URL).
func newH1Client(rawURL string, maxIdle int) *h1Client {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Host == "" || u.Opaque != "" {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	head := "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nContent-Type: application/json\r\nAccept: application/json\r\nUser-Agent: rpcmesh\r\nContent-Length: "
	return &h1Client{addr: addr, head: []byte(head), maxIdle: max(maxIdle, 1),
		dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}
}

// do posts req and reads the answer (at most limit+1 bytes of it). A
// request that failed on a reused connection before a byte of the answer
// came back is sent once more on a new connection when req.Resend is set
// (the server had closed the idle connection).
func (h *h1Client) do(ctx context.Context, req *Request, limit int64) (httpAnswer, error) {
	c, reused, err := h.get(ctx)
	if err != nil {
		return httpAnswer{}, err
	}
	ans, answered, err := h.exchange(ctx, c, req, limit)
	if err != nil && reused && !answered && req.Resend && ctx.Err() == nil && staleConn(err) {
		if c, err = h.dial(ctx); err != nil {
			return httpAnswer{}, err
		}
		ans, _, err = h.exchange(ctx, c, req, limit)
	}
	return ans, err
}

// exchange sends one request on c and reads its answer; c goes back to the
// pool when it can carry another request: the answer was framed, nothing
// follows it in the buffer, and it answers the ids of req (a connection
// that delivered someone else's answer is out of step with its requests).
// answered reports whether any of the answer arrived.
func (h *h1Client) exchange(ctx context.Context, c *h1Conn, req *Request, limit int64) (ans httpAnswer, answered bool, err error) {
	keep := false // set only once the context's end can no longer touch c
	defer func() {
		if keep {
			h.put(c)
		} else {
			c.conn.Close()
		}
	}()
	if err := ctx.Err(); err != nil {
		return ans, false, err
	}
	// The end of ctx interrupts a read or write in progress; stop reports
	// false once the interrupt has run or is about to.
	stop := context.AfterFunc(ctx, c.interrupt)
	defer stop()

	c.body = appendRequest(c.body[:0], req)
	c.buf = append(c.buf[:0], h.head...)
	c.buf = strconv.AppendInt(c.buf, int64(len(c.body)), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = append(c.buf, c.body...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return ans, false, err
	}
	before := c.read
	reusable, err := readAnswer(c.br, limit, &ans)
	if err != nil {
		return ans, c.read != before, err
	}
	keep = reusable && (ans.status == http.StatusTooManyRequests || idsOf(req).answeredBy(ans.body)) && stop()
	return ans, true, nil
}

// get returns a pooled connection (reused true) or a new one.
func (h *h1Client) get(ctx context.Context) (c *h1Conn, reused bool, err error) {
	now := time.Now()
	h.mu.Lock()
	for len(h.idle) > 0 {
		c = h.idle[len(h.idle)-1]
		h.idle = h.idle[:len(h.idle)-1]
		if now.Sub(c.idleAt) < maxIdleAge {
			h.mu.Unlock()
			return c, true, nil
		}
		c.conn.Close()
	}
	h.mu.Unlock()
	c, err = h.dial(ctx)
	return c, false, err
}

func (h *h1Client) dial(ctx context.Context) (*h1Conn, error) {
	conn, err := h.dialer.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err // a *net.OpError with Op "dial": the request never left
	}
	c := &h1Conn{conn: conn}
	c.br = bufio.NewReaderSize(c, 16<<10)
	c.interrupt = func() { _ = conn.SetDeadline(time.Unix(1, 0)) }
	return c, nil
}

// put returns c to the pool, or closes it when the pool is full.
func (h *h1Client) put(c *h1Conn) {
	c.idleAt = time.Now()
	h.mu.Lock()
	if len(h.idle) < h.maxIdle {
		h.idle = append(h.idle, c)
		c = nil
	}
	h.mu.Unlock()
	if c != nil {
		c.conn.Close()
	}
}

// staleConn reports whether err is what a request on a connection the
// server had already closed gets: EOF, a reset or a broken pipe.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// closeIdle closes the pooled connections.
func (h *h1Client) closeIdle() {
	h.mu.Lock()
	idle := h.idle
	h.idle = nil
	h.mu.Unlock()
	for _, c := range idle {
		c.conn.Close()
	}
}
