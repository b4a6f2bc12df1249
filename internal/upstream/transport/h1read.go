package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// readAnswer reads one HTTP/1.x response from br into ans: its status,
// Retry-After and body (at most limit+1 bytes; of a 429, at most 64 KiB).
// reusable reports whether the connection may carry another request: the
// answer said nothing against it and no byte follows it in br (a server
// that wrote more than one answer is out of step with its requests). The
// usual answer (HTTP/1.x, a Content-Length, no Transfer-Encoding) is parsed
// here from the buffered header block; anything else is left to
// http.ReadResponse, which then reads the same bytes.
func readAnswer(br *bufio.Reader, limit int64, ans *httpAnswer) (reusable bool, err error) {
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
func readAnswerStd(br *bufio.Reader, limit int64, ans *httpAnswer) (reusable bool, err error) {
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
