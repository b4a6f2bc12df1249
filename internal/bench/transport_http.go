package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
)

// httpCaller speaks HTTP/1.1 with keep-alive over one connection of its own.
// It writes each request in one syscall and reads the answer with
// http.ReadResponse: no Transport, no per-request goroutines, so the load
// generator spends as little of the machine's CPU as it can and the target
// gets the rest.
type httpCaller struct {
	ep   *endpoint
	conn net.Conn
	br   *bufio.Reader
	req  []byte
}

func (c *httpCaller) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: c.ep.timeout}
	var (
		conn net.Conn
		err  error
	)
	if c.ep.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: c.ep.tls}).DialContext(ctx, "tcp", c.ep.addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", c.ep.addr)
	}
	if err != nil {
		return err
	}
	c.ep.dials.Add(1)
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 32<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *httpCaller) call(ctx context.Context, body []byte, resp *bytes.Buffer) (int, error) {
	c.req = append(c.req[:0], c.ep.reqHead...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)

	reused := c.conn != nil
	status, answered, err := c.roundTrip(ctx, resp)
	if err != nil && reused && !answered && ctx.Err() == nil && staleConn(err) {
		// The server had closed the idle connection before this request
		// reached it (not a byte came back): send it once more on a new one.
		status, _, err = c.roundTrip(ctx, resp)
	}
	return status, err
}

// staleConn reports whether err is what a request on a connection the server
// had already closed gets: EOF, a reset or a broken pipe.
func staleConn(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// roundTrip sends c.req and reads its answer; answered is whether any byte
// of an answer arrived.
func (c *httpCaller) roundTrip(ctx context.Context, resp *bytes.Buffer) (status int, answered bool, err error) {
	if c.conn == nil {
		if err := c.dial(ctx); err != nil {
			return 0, false, err
		}
	}
	stop := deadlineFromCtx(ctx, c.conn)
	status, answered, keep, err := c.exchange(resp)
	stop()
	if err != nil || !keep {
		c.close()
	}
	if err != nil && ctx.Err() != nil {
		return 0, answered, ctx.Err()
	}
	return status, answered, err
}

// exchange writes the request and reads the whole answer; keep is whether
// the connection can carry another request.
func (c *httpCaller) exchange(resp *bytes.Buffer) (status int, answered, keep bool, err error) {
	if _, err := c.conn.Write(c.req); err != nil {
		return 0, false, false, err
	}
	if _, err := c.br.Peek(1); err != nil {
		return 0, false, false, err // not a byte back (http.ReadResponse would say ErrUnexpectedEOF)
	}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, true, false, err
	}
	defer res.Body.Close()
	resp.Reset()
	n, err := resp.ReadFrom(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return res.StatusCode, true, false, err
	}
	if n > maxResponseBytes {
		return res.StatusCode, true, false, errResponseTooLarge
	}
	return res.StatusCode, true, !res.Close, nil
}

func (c *httpCaller) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}
