package transport

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
)

// answerResult is what reading one answer produced, for comparisons.
type answerResult struct {
	ans      httpAnswer
	reusable bool
	failed   bool
	rest     string // what is left to read after the answer
}

func readWith(read func(*bufio.Reader, int64, *httpAnswer) (bool, error), data string, limit int64) answerResult {
	br := bufio.NewReaderSize(strings.NewReader(data), 16<<10)
	var r answerResult
	var err error
	r.reusable, err = read(br, limit, &r.ans)
	r.failed = err != nil
	if !r.failed && r.reusable {
		rest, _ := io.ReadAll(br)
		r.rest = string(rest)
	}
	return r
}

func TestReadAnswer(t *testing.T) {
	const limit = 64
	tests := []struct {
		name     string
		data     string
		status   int
		body     string
		retry    string
		reusable bool
		failed   bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello", 200, "hello", "", true, false},
		// Bytes after the answer: the server is out of step with its
		// requests, and what follows must not answer the next one.
		{"bytes after the answer", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext", 200, "hello", "", false, false},
		{"bytes after a chunked answer (net/http)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nX", 200, "hi", "", false, false},
		{"interim 100 skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", "", true, false},
		{"interim 103 with headers skipped", "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", "", true, false},
		{"too many interim answers", strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0, "", "", false, true},
		{"protocol switch refused", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0, "", "", false, true},
		{"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", "", true, false},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", 200, "hi", "", true, false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", "", false, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", "", false, false},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", "", true, false},
		{"429", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nslow", 429, "slow", "7", true, false},
		{"chunked (net/http)", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", 200, "hi", "", true, false},
		{"until close (net/http)", "HTTP/1.1 200 OK\r\n\r\nhi", 200, "hi", "", false, false},
		{"over the limit", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100), 200, strings.Repeat("x", limit+1), "", false, false},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhi", 200, "", "", false, true},
		{"no answer", "", 0, "", "", false, true},
		{"truncated header", "HTTP/1.1 200 OK\r\nContent-Len", 0, "", "", false, true},
		{"unusual header name (net/http)", "HTTP/1.1 200 OK\r\nOdd Name: x\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", "", true, false},
		{"malformed header line (net/http refuses)", "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 2\r\n\r\nhi", 0, "", "", false, true},
		{"bad length (net/http refuses)", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nhi", 0, "", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readWith(readAnswer, tt.data, limit)
			if got.failed != tt.failed {
				t.Fatalf("failed = %v, want %v", got.failed, tt.failed)
			}
			if tt.failed {
				return
			}
			if got.ans.status != tt.status || string(got.ans.body) != tt.body || got.ans.retryAfter != tt.retry || got.reusable != tt.reusable {
				t.Errorf("got status %d body %q retry %q reusable %v, want %d %q %q %v",
					got.ans.status, got.ans.body, got.ans.retryAfter, got.reusable, tt.status, tt.body, tt.retry, tt.reusable)
			}
			if want := readWith(readAnswerStd, tt.data, limit); !sameAnswer(got, want) {
				t.Errorf("net/http reads it as %+v, the lean reader as %+v", want, got)
			}
		})
	}
}

func sameAnswer(a, b answerResult) bool {
	return a.failed == b.failed && (a.failed || a.ans.status == b.ans.status && bytes.Equal(a.ans.body, b.ans.body) &&
		a.ans.retryAfter == b.ans.retryAfter && a.reusable == b.reusable && a.rest == b.rest)
}

// FuzzReadAnswer checks that the lean answer reader agrees with
// http.ReadResponse on any input: the same status, Retry-After, body,
// reusability and bytes left on the connection, or both fail.
func FuzzReadAnswer(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive, x\r\nContent-Length: 1\r\n\r\nab",
		"HTTP/1.1 429 Too Many Requests\r\nRetry-After:  3 \r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nhi",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi",
	} {
		f.Add(s, int64(64))
	}
	f.Fuzz(func(t *testing.T, data string, limit int64) {
		if limit < 0 || limit > 1<<20 {
			return
		}
		lean, std := readWith(readAnswer, data, limit), readWith(readAnswerStd, data, limit)
		if !sameAnswer(lean, std) {
			t.Fatalf("%q: lean %+v, net/http %+v", data, lean, std)
		}
	})
}

// BenchmarkReadAnswer measures reading a small answer with the lean reader
// and with http.ReadResponse.
func BenchmarkReadAnswer(b *testing.B) {
	data := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Thu, 26 Nov 2026 10:00:00 GMT\r\nContent-Length: 49\r\n\r\n" +
		`{"jsonrpc":"2.0","id":1,"result":"0x1bc16d674ec80000"}`[:49]
	for _, r := range []struct {
		name string
		read func(*bufio.Reader, int64, *httpAnswer) (bool, error)
	}{{"lean", readAnswer}, {"net-http", readAnswerStd}} {
		b.Run(r.name, func(b *testing.B) {
			src := strings.NewReader(data)
			br := bufio.NewReaderSize(src, 16<<10)
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(data)
				br.Reset(src)
				var ans httpAnswer
				if _, err := r.read(br, 1<<20, &ans); err != nil || ans.status != 200 {
					b.Fatal(err, ans.status)
				}
			}
		})
	}
}
