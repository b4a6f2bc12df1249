package wsfront

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// bigResult is what the test endpoint answers "big" with: 16 KiB.
var bigResult = json.RawMessage(`"` + strings.Repeat("a", 16<<10) + `"`)

// testEndpoint answers eth_chainId, "big" and "slow" locally; it has no hub.
func testEndpoint() Endpoint {
	return Endpoint{Chain: "test", Call: func(ctx context.Context, req *jsonrpc.Request) jsonrpc.Response {
		switch req.Method {
		case "eth_chainId":
			return jsonrpc.NewResult(req.ID, json.RawMessage(`"0x539"`))
		case "big":
			return jsonrpc.NewResult(req.ID, bigResult)
		case "slow":
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			return jsonrpc.NewResult(req.ID, json.RawMessage(`true`))
		}
		return jsonrpc.NewError(req.ID, jsonrpc.Errorf(jsonrpc.CodeMethodNotFound, "no %s", req.Method))
	}}
}

func testLimits() config.WebSocket {
	l := config.DefaultWebSocket()
	l.SendQueue = 64
	l.SendQueueBytes = 256 << 10
	l.WriteTimeout = config.Duration(10 * time.Second)
	return l
}

// startServer runs a Server behind httptest and returns its ws:// URL.
func startServer(t *testing.T, l config.WebSocket) (*Server, string) {
	t.Helper()
	return startServerSndbuf(t, l, 0)
}

// startServerSndbuf is startServer with each accepted socket's send buffer
// fixed at sndbuf bytes (0: the kernel's autotuning). A fixed buffer keeps
// what the kernel absorbs for a slow reader small and known.
func startServerSndbuf(t *testing.T, l config.WebSocket, sndbuf int) (*Server, string) {
	t.Helper()
	var logger *slog.Logger
	if os.Getenv("WS_LOG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return serveOpts(t, Options{Limits: l, MaxBatchItems: 100, BatchConcurrency: 4, RequestTimeout: 5 * time.Second, Logger: logger}, testEndpoint(), sndbuf)
}

// serveOpts runs a Server with opts serving ep behind a fasthttp server on
// loopback, as the gateway's public listener does (sndbuf as for
// startServerSndbuf), and returns its ws:// URL.
func serveOpts(t *testing.T, opts Options, ep Endpoint, sndbuf int) (*Server, string) {
	t.Helper()
	s := New(opts)
	var ln net.Listener
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if sndbuf > 0 {
		ln = sndbufListener{Listener: ln, size: sndbuf}
	}
	fs := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) { s.Serve(ctx, ep) }}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = fs.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := fs.ShutdownWithContext(ctx); err != nil {
			t.Error(err)
		}
		<-served
	})
	return s, "ws://" + ln.Addr().String()
}

func dial(t *testing.T, url string, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = websocket.DefaultDialer
	}
	c, resp, err := d.Dial(url, nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func roundTrip(t *testing.T, c *websocket.Conn, msg string) string {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCallsAndBatches(t *testing.T) {
	_, url := startServer(t, testLimits())
	c := dial(t, url, nil)
	cases := []struct{ in, want string }{
		{`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`, `{"jsonrpc":"2.0","id":1,"result":"0x539"}`},
		{`[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":"b","method":"nope"}]`,
			`[{"jsonrpc":"2.0","id":1,"result":"0x539"},{"jsonrpc":"2.0","id":"b","error":{"code":-32601,"message":"no nope"}}]`},
		{`{"jsonrpc":"2.0","id":2,"method":"eth_subscribe","params":["newHeads"]}`, `"code":-32601`},
		{`not json`, `"code":-32700`},
	}
	for _, tc := range cases {
		if got := roundTrip(t, c, tc.in); !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestConnectionsPerIPLimit(t *testing.T) {
	l := testLimits()
	l.MaxConnectionsPerIP = 2
	s, url := startServer(t, l)
	dial(t, url, nil)
	dial(t, url, nil)
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection: %v %v, want HTTP 429", err, resp)
	}
	resp.Body.Close()
	// The server tracks a connection just after the handshake.
	testwait.For(t, 5*time.Second, "two tracked connections", func() bool { return s.Conns() == 2 })
}

func TestMessageTooBigIsClosed(t *testing.T) {
	l := testLimits()
	l.MaxMessageBytes = 1024
	_, url := startServer(t, l)
	c := dial(t, url, nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":["`+strings.Repeat("x", 2000)+`"]}`))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("got %v, want close 1009", err)
	}
}

func TestIdleClientIsClosed(t *testing.T) {
	l := testLimits()
	l.PingInterval = config.Duration(50 * time.Millisecond)
	l.PongTimeout = config.Duration(time.Second)
	l.IdleTimeout = config.Duration(200 * time.Millisecond)
	_, url := startServer(t, l)
	c := dial(t, url, nil)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, _, err := c.ReadMessage() // pings are answered by gorilla's default handler meanwhile
	if !websocket.IsCloseError(err, CloseIdle) {
		t.Fatalf("got %v, want close %d", err, CloseIdle)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("closed after %s, before the idle timeout", d)
	}
}

func TestShutdownClosesClients(t *testing.T) {
	s, url := startServer(t, testLimits())
	c := dial(t, url, nil)
	roundTrip(t, c, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)
	got := make(chan error, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ReadMessage() // answers the close frame
		got <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s", d)
	}
	if err := <-got; !websocket.IsCloseError(err, CloseShutdown) {
		t.Fatalf("got %v, want close %d", err, CloseShutdown)
	}
}

type sndbufListener struct {
	net.Listener
	size int
}

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// slowDialer dials with a fixed 64 KiB receive buffer, so that a client that does
// not read stops the server's writes soon.
var slowDialer = &websocket.Dialer{
	HandshakeTimeout: 5 * time.Second,
	NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(64 << 10)
		}
		return c, err
	},
}

// TestSlowReadersAreDisconnectedAndMemoryStaysBounded: many clients ask for
// far more than they read. Each must end with close code 1008, and the
// gateway's heap must stay within the send queue bound per client, not
// grow with what was asked.
func TestSlowReadersAreDisconnectedAndMemoryStaysBounded(t *testing.T) {
	clients, requests := 100, 600 // 600 × 16 KiB = 9.6 MiB asked per client
	if raceEnabled {
		clients, requests = 20, 300
	}
	if v := os.Getenv("WS_SLOW_CLIENTS"); v != "" {
		clients, _ = strconv.Atoi(v)
	}
	l := testLimits()
	l.MaxConnectionsPerIP = clients
	// Fixed socket buffers on both ends (64 KiB each; the kernel doubles
	// them) hold a few answers, far fewer than a client asks for, so the
	// send queue must fill. With autotuning the kernel absorbs megabytes
	// and a tiny receive window slows the stream to a crawl instead.
	s, url := startServerSndbuf(t, l, 64<<10)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()

	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conns[i] = dial(t, url, slowDialer)
	}
	// Every client asks for answers much faster than it reads them: it
	// reads one message per 50ms while asking, then reads the rest at full
	// speed. Its stream must end in close 1008, after what was on the way.
	var wg sync.WaitGroup
	written := make([]int, clients)
	writeErr := make([]error, clients)
	codes := make([]error, clients)
	received := make([]int, clients)
	for n, c := range conns {
		asking := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(asking)
			for i := range requests {
				if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"big"}`, i))); err != nil {
					writeErr[n] = err
					return // already closed by the server
				}
				written[n]++
			}
		}()
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			for {
				select {
				case <-asking:
				case <-time.After(50 * time.Millisecond):
				}
				_, _, err := c.ReadMessage()
				if err != nil {
					codes[n] = err
					return
				}
				received[n]++
			}
		}()
	}
	wg.Wait()
	if os.Getenv("WS_DUMP") != "" {
		buf := make([]byte, 8<<20)
		_ = os.WriteFile(os.Getenv("WS_DUMP"), buf[:runtime.Stack(buf, true)], 0o644)
	}
	close(stopSampling)
	<-sampled
	for i, err := range codes {
		if !websocket.IsCloseError(err, CloseSlowReader) {
			t.Errorf("client %d: ended with %v after %d answers (%d asked, %v), want close %d", i, err, received[i], written[i], writeErr[i], CloseSlowReader)
		}
	}
	growth := int64(peak.Load()) - int64(base.HeapInuse)
	asked := int64(clients) * int64(requests) * int64(len(bigResult))
	// Per client: the send queue, the calls in flight, gorilla's buffers.
	bound := int64(clients) * (l.SendQueueBytes + int64(l.MaxInflightPerConn)*int64(len(bigResult))*2 + 64<<10)
	t.Logf("%d clients asked %d MiB; heap grew by at most %.1f MiB (bound %.1f MiB); first client got %d of %d answers before close",
		clients, asked>>20, float64(growth)/(1<<20), float64(bound)/(1<<20), received[0], requests)
	if growth > bound {
		t.Errorf("heap grew by %d bytes, over the bound of %d", growth, bound)
	}
	testwait.For(t, 5*time.Second, "every connection closed", func() bool { return s.Conns() == 0 })
}
