package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// maxResponseBytes bounds a response the load generator reads.
const maxResponseBytes = 32 << 20

// errResponseTooLarge is returned for a response over maxResponseBytes.
var errResponseTooLarge = errors.New("response too large")

// caller sends one request and waits for its response. Each worker owns one
// caller, and each caller one connection, so a target's connections are
// bounded by the concurrency; status is the HTTP status (200 for a WebSocket
// message).
type caller interface {
	call(ctx context.Context, body []byte, resp *bytes.Buffer) (status int, err error)
	close()
}

// endpoint is one target's address, and makes its workers' callers.
type endpoint struct {
	url     string
	ws      bool
	timeout time.Duration

	// HTTP: where to dial and the request head up to the Content-Length value.
	addr    string
	tls     *tls.Config // nil for http://
	reqHead []byte

	dialer *websocket.Dialer // WebSocket

	dials atomic.Int64 // connections established, warmup included
}

func newEndpoint(rawURL string, timeout time.Duration) (*endpoint, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", rawURL, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("target %q: no host", rawURL)
	}
	e := &endpoint{url: rawURL, timeout: timeout}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "http", "https":
		e.addr = u.Host
		if u.Port() == "" {
			e.addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[scheme])
		}
		if scheme == "https" {
			e.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
		}
		e.reqHead = []byte("POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
			"\r\nUser-Agent: rpcmesh-bench\r\nContent-Type: application/json\r\nContent-Length: ")
		return e, nil
	case "ws", "wss":
		e.ws = true
		e.dialer = &websocket.Dialer{
			HandshakeTimeout: timeout,
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  16 << 10,
		}
		return e, nil
	}
	return nil, fmt.Errorf("target %q: scheme must be http, https, ws or wss", rawURL)
}

// newCaller returns the caller of one worker.
func (e *endpoint) newCaller() caller {
	if e.ws {
		return &wsCaller{ep: e}
	}
	return &httpCaller{ep: e}
}

// deadlineFromCtx applies ctx's deadline to conn, and makes ctx's end
// interrupt any read or write in progress; call the returned stop when done.
func deadlineFromCtx(ctx context.Context, conn net.Conn) (stop func() bool) {
	deadline, _ := ctx.Deadline() // zero (none) is fine
	_ = conn.SetDeadline(deadline)
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
}

// wsCaller owns one WebSocket connection, dialled on first use and again
// after any error (a gorilla connection is unusable after a read error). It
// has one request in flight; checkResponse matches the answer's id.
type wsCaller struct {
	ep   *endpoint
	conn *websocket.Conn
}

func (c *wsCaller) call(ctx context.Context, body []byte, resp *bytes.Buffer) (int, error) {
	reused := c.conn != nil
	answered, err := c.roundTrip(ctx, body, resp)
	if err != nil && reused && !answered && ctx.Err() == nil && staleWS(err) {
		// The server had closed the idle connection (say while another
		// target ran): send the request once more on a new one.
		_, err = c.roundTrip(ctx, body, resp)
	}
	if err != nil {
		return 0, err
	}
	return 200, nil
}

// staleWS reports whether err is what a request on a connection the server
// had already closed gets.
func staleWS(err error) bool {
	var ce *websocket.CloseError
	return staleConn(err) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ce)
}

// roundTrip writes one message and reads the next; answered is whether a
// message began to arrive.
func (c *wsCaller) roundTrip(ctx context.Context, body []byte, resp *bytes.Buffer) (answered bool, err error) {
	if c.conn == nil {
		conn, _, err := c.ep.dialer.DialContext(ctx, c.ep.url, nil)
		if err != nil {
			return false, err
		}
		c.ep.dials.Add(1)
		conn.SetReadLimit(maxResponseBytes)
		c.conn = conn
	}
	conn := c.conn
	defer deadlineFromCtx(ctx, conn.NetConn())()
	err = conn.WriteMessage(websocket.TextMessage, body)
	if err == nil {
		var r io.Reader
		if _, r, err = conn.NextReader(); err == nil {
			answered = true
			resp.Reset()
			_, err = resp.ReadFrom(r)
		}
	}
	if err != nil {
		c.close()
		if ctx.Err() != nil {
			return answered, ctx.Err()
		}
	}
	return answered, err
}

func (c *wsCaller) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}
