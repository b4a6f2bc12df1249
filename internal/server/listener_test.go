package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/config"
)

// TestPublicListenerWire sends raw HTTP/1.x to the public listener: what
// clients do on the wire (pipelining, chunked bodies, HTTP/1.0, oversized
// or broken requests) must get a well-formed answer with a request id,
// JSON-RPC errors included (fasthttp's own rejections too: fastError).
func TestPublicListenerWire(t *testing.T) {
	tg := startGateway(t, 2, func(c *config.Config) { c.Server.MaxHeaderBytes = 4096 })
	call := func(id int) string {
		return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"eth_getBalance","params":["0x%02x","latest"]}`, id, id)
	}
	post := func(body string) string {
		return "POST /dev HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
			fmt.Sprint(len(body)) + "\r\n\r\n" + body
	}
	type answer struct {
		status int
		want   string // substring of the body
		header string // "Name: value" the answer must carry, or ""
	}
	tests := []struct {
		name    string
		send    string
		answers []answer
		closed  bool // the server closes the connection after the answers
	}{
		{"pipelined", post(call(1)) + post(call(2)) + post(call(3)),
			[]answer{{200, `"id":1,`, ""}, {200, `"id":2,`, ""}, {200, `"id":3,`, ""}}, false},
		{"chunked body", "POST /dev HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"10\r\n" + call(4)[:16] + "\r\n" + fmt.Sprintf("%x", len(call(4))-16) + "\r\n" + call(4)[16:] + "\r\n0\r\n\r\n",
			[]answer{{200, `"id":4,`, ""}}, false},
		{"HTTP/1.0", strings.Replace(post(call(5)), "HTTP/1.1", "HTTP/1.0", 1),
			[]answer{{200, `"id":5,`, ""}}, true},
		{"Connection: close", strings.Replace(post(call(6)), "Host: x\r\n", "Host: x\r\nConnection: close\r\n", 1),
			[]answer{{200, `"id":6,`, ""}}, true},
		{"GET", "GET /dev HTTP/1.1\r\nHost: x\r\n\r\n",
			[]answer{{405, `"code":-32600`, "Allow: POST, OPTIONS"}}, false},
		{"headers just within max_header_bytes", strings.Replace(post(call(7)), "Host: x\r\n", "Host: x\r\nX-Big: "+strings.Repeat("a", 3800)+"\r\n", 1),
			[]answer{{200, `"id":7,`, ""}}, false},
		{"headers over max_header_bytes", "POST /dev HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 5000) + "\r\nContent-Length: 2\r\n\r\n{}",
			[]answer{{431, `"code":-32005`, ""}}, true},
		{"headers far over max_header_bytes", "POST /dev HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 90000) + "\r\nContent-Length: 2\r\n\r\n{}",
			[]answer{{431, `"code":-32005`, ""}}, true},
		{"broken request line", "POST\r\n\r\n",
			[]answer{{400, `"code":-32700`, ""}}, true},
		{"body shorter than announced", "POST /dev HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n{}",
			[]answer{{413, `"code":-32005`, ""}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", tg.gw.HTTPAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(conn, tt.send); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			for i, want := range tt.answers {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("answer %d body: %v", i, err)
				}
				if resp.StatusCode != want.status || !strings.Contains(string(body), want.want) {
					t.Fatalf("answer %d: %d %s; want %d with %s", i, resp.StatusCode, body, want.status, want.want)
				}
				if want.header != "" {
					k, v, _ := strings.Cut(want.header, ": ")
					if resp.Header.Get(k) != v {
						t.Fatalf("answer %d: %s is %q, want %q", i, k, resp.Header.Get(k), v)
					}
				}
				if resp.Header.Get(RequestIDHeader) == "" {
					t.Fatalf("answer %d has no %s", i, RequestIDHeader)
				}
			}
			// Nothing more is sent; a closed connection reads EOF at once (or
			// a reset, when the server closed with the client's bytes unread).
			_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := br.Read(make([]byte, 1))
			switch {
			case n > 0:
				t.Fatal("more bytes after the last answer")
			case tt.closed && err != io.EOF && !errors.Is(err, syscall.ECONNRESET):
				t.Fatalf("connection not closed: %v", err)
			case !tt.closed && err == io.EOF:
				t.Fatal("keep-alive connection closed")
			}
		})
	}
}

// TestPublicListenerCountsRejectedRequests: requests rejected before
// decoding (a body over the limit) still show in the metrics, under their
// chain.
func TestPublicListenerCountsRejectedRequests(t *testing.T) {
	tg := startGateway(t, 1, func(c *config.Config) { c.Limits.MaxBodyBytes = 1024 })
	status, _, body := tg.post(t, "/dev", `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["`+strings.Repeat("x", 2000)+`"]}`)
	if status != 413 || !strings.Contains(body, "request body over 1024 bytes") {
		t.Fatalf("over the body limit: %d %s", status, body)
	}
	resp, err := http.Get("http://" + tg.gw.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `rpcmesh_http_requests_total{chain="dev",code="413"} 1`) {
		t.Fatalf("413 not counted under chain dev:\n%s", grepLines(string(b), "rpcmesh_http_requests_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRecoverFast: a panic while serving a request ends that request with
// a JSON-RPC internal error (and is logged), not the end of the process.
func TestRecoverFast(t *testing.T) {
	var logs strings.Builder
	g := &Gateway{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	var ctx fasthttp.RequestCtx
	var req fasthttp.Request
	req.Header.SetMethod(http.MethodPost)
	req.SetRequestURI("/dev")
	ctx.Init(&req, nil, nil)
	ctx.Response.Header.Set(RequestIDHeader, "abc")
	func() {
		defer g.recoverFast(&ctx)
		panic("boom")
	}()
	if got := ctx.Response.StatusCode(); got != 500 || !strings.Contains(string(ctx.Response.Body()), `"code":-32603`) {
		t.Fatalf("after a panic: %d %s", got, ctx.Response.Body())
	}
	if !ctx.Response.ConnectionClose() || string(ctx.Response.Header.Peek(RequestIDHeader)) != "abc" {
		t.Fatalf("after a panic: Connection: close %v, request id %q", ctx.Response.ConnectionClose(), ctx.Response.Header.Peek(RequestIDHeader))
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("panic not logged: %q", logs.String())
	}
}
