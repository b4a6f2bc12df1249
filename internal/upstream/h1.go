package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
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

// h1Answer is what roundTrip needs of an HTTP answer.
type h1Answer struct {
	status     int
	retryAfter string
	body       []byte
}

// do posts body, whose calls have the ids of want, and reads the answer (at
// most limit+1 bytes of it). A request that failed on a reused connection
// before a byte of the answer came back is sent once more on a new
// connection when resend is set (the server had closed the idle
// connection); writes pass resend false.
func (h *h1Client) do(ctx context.Context, body []byte, want callIDs, limit int64, resend bool) (h1Answer, error) {
	c, reused, err := h.get(ctx)
	if err != nil {
		return h1Answer{}, err
	}
	ans, answered, err := h.exchange(ctx, c, body, want, limit)
	if err != nil && reused && !answered && resend && ctx.Err() == nil && staleConn(err) {
		if c, err = h.dial(ctx); err != nil {
			return h1Answer{}, err
		}
		ans, _, err = h.exchange(ctx, c, body, want, limit)
	}
	return ans, err
}

// exchange sends one request on c and reads its answer; c goes back to the
// pool when it can carry another request: the answer was framed, nothing
// follows it in the buffer, and it answers the ids of want (a connection
// that delivered someone else's answer is out of step with its requests).
// answered reports whether any of the answer arrived.
func (h *h1Client) exchange(ctx context.Context, c *h1Conn, body []byte, want callIDs, limit int64) (ans h1Answer, answered bool, err error) {
	keep := false // set only once the context's end can no longer touch c
	defer func() {
		if keep {
			h.put(c)
		} else {
			c.conn.Close()
		}
	}()
	w, err := c.watch(ctx)
	if err != nil {
		return ans, false, err
	}
	defer w.end()

	c.buf = append(c.buf[:0], h.head...)
	c.buf = strconv.AppendInt(c.buf, int64(len(body)), 10)
	c.buf = append(c.buf, "\r\n\r\n"...)
	c.buf = append(c.buf, body...)
	if _, err := c.conn.Write(c.buf); err != nil {
		return ans, false, err
	}
	before := c.read
	reusable, err := readAnswer(c.br, limit, &ans)
	if err != nil {
		return ans, c.read != before, err
	}
	keep = reusable && (ans.status == http.StatusTooManyRequests || want.answeredBy(ans.body)) && w.end()
	return ans, true, nil
}

// watch arranges for the end of ctx to interrupt a read or write on c. It
// fails when ctx has ended already. ctx's own timer ends it at its
// deadline (a deadline on the connection too could fail a read before
// ctx.Err reports the deadline, and the failure would not count as a
// timeout).
func (c *h1Conn) watch(ctx context.Context) (ctxWatch, error) {
	if err := ctx.Err(); err != nil {
		return ctxWatch{}, err
	}
	return ctxWatch{stop: context.AfterFunc(ctx, c.interrupt)}, nil
}

// ctxWatch is a watch of watch: a context.AfterFunc's.
type ctxWatch struct {
	stop func() bool
}

// end removes the watch, reporting false when the interrupt has run or is
// about to (the connection must not be reused then). Only the first end
// can report true.
func (w ctxWatch) end() bool { return w.stop() }

// readAnswer reads one HTTP/1.x response from br into ans: its status,
// Retry-After and body (at most limit+1 bytes; of a 429, at most 64 KiB).
// reusable reports whether the connection may carry another request: the
// answer said nothing against it and no byte follows it in br (a server
// that wrote more than one answer is out of step with its requests). The
// usual answer (HTTP/1.x, a Content-Length, no Transfer-Encoding) is parsed
// here from the buffered header block; anything else is left to
// http.ReadResponse, which then reads the same bytes.
func readAnswer(br *bufio.Reader, limit int64, ans *h1Answer) (reusable bool, err error) {
	hdr, err := peekHeader(br)
	if err != nil {
		return false, err
	}
	h, ok := parseHeader(hdr)
	if !ok {
		return readAnswerStd(br, limit, ans)
	}
	_, _ = br.Discard(len(hdr)) // buffered: cannot fail
	ans.status = h.status
	if h.retryAfter != nil {
		ans.retryAfter = string(h.retryAfter)
	}
	if h.status == http.StatusTooManyRequests {
		limit = 64 << 10 // only drained
	}
	if n := h.contentLength; n > limit {
		// Over the limit: limit+1 bytes tell the caller; the rest is not
		// read, and the connection is not reused.
		ans.body, err = io.ReadAll(io.LimitReader(br, limit+1))
		if err == nil && int64(len(ans.body)) <= limit {
			err = io.ErrUnexpectedEOF
		}
		h.close = true
	} else {
		ans.body = make([]byte, n)
		_, err = io.ReadFull(br, ans.body)
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the header promised a body
		}
		return false, err
	}
	return !h.close && br.Buffered() == 0, nil
}

// max1xx is how many interim (1xx) answers may precede the answer.
const max1xx = 5

// readAnswerStd reads the answer with net/http (chunked or close-delimited
// bodies, 1xx, unusual headers). Interim answers (1xx) are skipped, as
// net/http's Transport does; 101 (a protocol switch) is refused.
func readAnswerStd(br *bufio.Reader, limit int64, ans *h1Answer) (reusable bool, err error) {
	resp, err := http.ReadResponse(br, nil)
	for n := 0; err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200; n++ {
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return false, errors.New("HTTP 101: the provider switched protocols")
		case n == max1xx:
			return false, fmt.Errorf("more than %d interim (1xx) answers", max1xx)
		}
		resp, err = http.ReadResponse(br, nil)
	}
	if err != nil {
		return false, err
	}
	ans.status, ans.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	if resp.StatusCode == http.StatusTooManyRequests {
		limit = 64 << 10 // only drained
	}
	ans.body, err = readBody(resp, limit)
	if err != nil {
		return false, err
	}
	if int64(len(ans.body)) > limit {
		return false, nil // over the limit: the rest is not read, the connection not reused
	}
	_ = resp.Body.Close() // at EOF already: consumes a chunked trailer, nothing more
	return !resp.Close && br.Buffered() == 0, nil
}

// peekHeader returns the status line and header block of the next answer
// (up to and including the empty line) without consuming it. When the block
// does not fit in br's buffer it returns what is buffered, which parseHeader
// rejects, so that http.ReadResponse reads it.
func peekHeader(br *bufio.Reader) ([]byte, error) {
	scanned := 0 // bytes known to hold no end of the header block
	for {
		buf, err := br.Peek(br.Buffered())
		if err != nil {
			return nil, err
		}
		if n := headerEnd(buf, scanned); n > 0 {
			return buf[:n], nil
		}
		if len(buf) >= br.Size() {
			return buf, nil
		}
		scanned = max(len(buf)-3, 0)
		if _, err := br.Peek(len(buf) + 1); err != nil && br.Buffered() <= len(buf) {
			if err == io.EOF {
				if len(buf) > 0 {
					return buf, nil // a truncated header: http.ReadResponse reports it
				}
				err = io.ErrUnexpectedEOF // as http.ReadResponse says it
			}
			return nil, err
		}
	}
}

// headerEnd returns the length of the header block at the start of b (the
// empty line that ends it included: CRLF or a bare LF, as textproto accepts),
// or 0 when b does not hold all of it yet. Bytes before from are known not to
// end the block.
func headerEnd(b []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// answerHeader is what readAnswer needs of a response header.
type answerHeader struct {
	status        int
	contentLength int64
	retryAfter    []byte // nil when absent
	close         bool   // the server closes the connection after this answer
}

// parseHeader reads the header block hdr of a plain answer: an HTTP/1.0 or
// HTTP/1.1 status line with a final status other than 204 and 304, one
// Content-Length, no Transfer-Encoding, and well-formed header lines. ok is
// false for anything else.
func parseHeader(hdr []byte) (h answerHeader, ok bool) {
	line, rest, found := bytes.Cut(hdr, []byte("\n"))
	if !found {
		return h, false
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	// "HTTP/1.1 200 OK": the reason phrase may be empty or absent.
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return h, false
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return h, false
		}
		h.status = h.status*10 + int(d-'0')
	}
	if h.status < 200 || h.status == http.StatusNoContent || h.status == http.StatusNotModified {
		return h, false
	}
	http10 := line[7] == '0'
	keepAlive, haveLength := false, false
	for {
		line, rest, found = bytes.Cut(rest, []byte("\n"))
		if !found {
			return h, false
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break // the empty line that ends the block
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || !isToken(name) {
			return h, false // also a continuation line (it starts with a space)
		}
		if !validValue(value) {
			return h, false
		}
		value = bytes.Trim(value, " \t")
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if haveLength {
				return h, false // repeated: net/http decides
			}
			n, ok := parseLength(value)
			if !ok {
				return h, false
			}
			h.contentLength, haveLength = n, true
		case asciiEqualFold(name, "Transfer-Encoding"):
			return h, false
		case asciiEqualFold(name, "Connection"):
			if hasToken(value, "close") {
				h.close = true
			}
			if hasToken(value, "keep-alive") {
				keepAlive = true
			}
		case asciiEqualFold(name, "Retry-After"):
			if h.retryAfter == nil {
				h.retryAfter = value[:len(value):len(value)]
			}
		}
	}
	if !haveLength {
		return h, false // a body until the connection closes
	}
	if http10 && !keepAlive {
		h.close = true
	}
	return h, true
}

// parseLength parses a Content-Length value: decimal digits only.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range v {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// isToken reports whether b is a valid header field name (an RFC 9110 token).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenChars[c] {
			return false
		}
	}
	return true
}

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validValue reports whether b holds only what a header value may: visible
// characters, spaces, tabs and obs-text.
func validValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated header value v holds token
// (case-insensitively).
func hasToken(v []byte, token string) bool {
	for len(v) > 0 {
		var part []byte
		part, v, _ = bytes.Cut(v, []byte(","))
		if asciiEqualFold(bytes.Trim(part, " \t"), token) {
			return true
		}
	}
	return false
}

// asciiEqualFold reports whether b equals s ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
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
