package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// echoResult answers any single call with result "0x1" under its id, using
// write to shape the HTTP response.
func echoResult(write func(w http.ResponseWriter, body string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := io.ReadAll(r.Body)
		f, _ := scanRequest(req)
		write(w, string(appendResult(nil, f.id, []byte(`"0x1"`))))
	})
}

func TestHTTPConnectionHandling(t *testing.T) {
	idle := httptest.NewUnstartedServer(NewUpstream(UpstreamOptions{}))
	idle.Config.IdleTimeout = 20 * time.Millisecond
	idle.Start()
	defer idle.Close()
	slow := newTestUpstream(t, UpstreamOptions{Latency: 150 * time.Millisecond})

	for _, c := range []struct {
		name    string
		handler http.Handler
	}{
		{"connection close", echoResult(func(w http.ResponseWriter, body string) {
			w.Header().Set("Connection", "close")
			_, _ = io.WriteString(w, body)
		})},
		{"chunked", echoResult(func(w http.ResponseWriter, body string) {
			half := len(body) / 2
			_, _ = io.WriteString(w, body[:half])
			w.(http.Flusher).Flush() // forces chunked transfer encoding
			_, _ = io.WriteString(w, body[half:])
		})},
		{"no content length, close delimited", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := io.ReadAll(r.Body)
			f, _ := scanRequest(req)
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
			_, _ = buf.Write(appendResult(nil, f.id, []byte(`"0x1"`)))
			_ = buf.Flush()
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			rep, err := Run(context.Background(), Options{
				Targets:     []Target{{Name: "t", URL: srv.URL}},
				Mix:         SingleMethod("eth_chainId"),
				Concurrency: 2,
				Duration:    20 * time.Second,
				Requests:    20,
			})
			if err != nil {
				t.Fatal(err)
			}
			if r := rep.Targets[0]; r.OKCalls != 20 || len(r.Errors) != 0 || r.Connections < 2 {
				t.Fatalf("ok %d errors %v %v over %d connections, want 20 ok", r.OKCalls, r.Errors, r.ErrorSamples, r.Connections)
			}
		})
	}

	// The idle target's server closes the connection while the slow target
	// runs; its next round must redial, not report an error.
	t.Run("server closed idle connection", func(t *testing.T) {
		rep, err := Run(context.Background(), Options{
			Targets:     []Target{{Name: "idle", URL: idle.URL}, {Name: "slow", URL: slow.URL}},
			Mix:         SingleMethod("eth_chainId"),
			Concurrency: 1,
			Duration:    20 * time.Second,
			Requests:    4,
			Rounds:      2,
		})
		if err != nil {
			t.Fatal(err)
		}
		if r := rep.Targets[0]; r.OKCalls != 4 || len(r.Errors) != 0 {
			t.Fatalf("ok %d errors %v %v, want 4 ok", r.OKCalls, r.Errors, r.ErrorSamples)
		}
	})
}

func TestWebSocketRedialsClosedConnection(t *testing.T) {
	u := NewUpstream(UpstreamOptions{})
	defer u.Close()
	// The server answers one message per connection, then closes it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if _, msg, err := c.ReadMessage(); err == nil {
			_ = c.WriteMessage(websocket.TextMessage, u.Handle(msg))
		}
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "bye"), time.Now().Add(time.Second))
	}))
	defer srv.Close()
	rep, err := Run(context.Background(), Options{
		Targets:     []Target{{Name: "t", URL: "ws" + strings.TrimPrefix(srv.URL, "http")}},
		Mix:         SingleMethod("eth_chainId"),
		Concurrency: 1,
		Duration:    20 * time.Second,
		Requests:    5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Targets[0]; r.OKCalls != 5 || len(r.Errors) != 0 || r.Connections != 5 {
		t.Fatalf("ok %d errors %v %v over %d connections, want 5 ok over 5", r.OKCalls, r.Errors, r.ErrorSamples, r.Connections)
	}
}

func TestNewEndpoint(t *testing.T) {
	for _, c := range []struct {
		url, addr, head, err string
		ws                   bool
	}{
		{url: "http://h:1/rpc?k=v", addr: "h:1", head: "POST /rpc?k=v HTTP/1.1\r\nHost: h:1\r\n"},
		{url: "http://h", addr: "h:80", head: "POST / HTTP/1.1\r\nHost: h\r\n"},
		{url: "https://h/x", addr: "h:443", head: "POST /x HTTP/1.1\r\nHost: h\r\n"},
		{url: "ws://h:2", ws: true},
		{url: "ftp://h", err: "scheme"},
		{url: "http://", err: "no host"},
	} {
		e, err := newEndpoint(c.url, time.Second)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if e.ws != c.ws || e.addr != c.addr || !strings.HasPrefix(string(e.reqHead), c.head) {
			t.Errorf("%s: ws %v addr %q head %q", c.url, e.ws, e.addr, e.reqHead)
		}
	}
}
