// Package wstest is a JSON-RPC server over WebSocket for tests of the
// WebSocket transport and of providers that use it: a handler gets every
// message with the connection it came on, and answers (or not).
package wstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Server is a WebSocket JSON-RPC server, closed by the test's cleanup.
type Server struct {
	srv      *httptest.Server
	Accepted atomic.Int64 // connections accepted
	Pings    atomic.Int64 // keepalive pings received
	Mute     atomic.Bool  // pings go unanswered
	handle   func(c *Peer, msg []byte)

	mu    sync.Mutex
	peers []*Peer
}

// Peer is the server's end of one connection.
type Peer struct {
	conn *websocket.Conn
	mu   sync.Mutex // one writer at a time
}

// Send writes one message; errors mean the client has gone.
func (c *Peer) Send(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.conn.WriteMessage(websocket.TextMessage, b)
}

// Drop closes the connection without a close frame, as a crash would.
func (c *Peer) Drop() { _ = c.conn.Close() }

// Start starts a server whose handle gets every message.
func Start(t testing.TB, handle func(c *Peer, msg []byte)) *Server {
	t.Helper()
	s := &Server{handle: handle}
	up := websocket.Upgrader{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		s.Accepted.Add(1)
		conn.SetPingHandler(func(data string) error {
			s.Pings.Add(1)
			if s.Mute.Load() {
				return nil
			}
			return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(5*time.Second))
		})
		p := &Peer{conn: conn}
		s.mu.Lock()
		s.peers = append(s.peers, p)
		s.mu.Unlock()
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			s.handle(p, msg)
		}
	}))
	t.Cleanup(func() {
		s.srv.Close()
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, p := range s.peers {
			p.Drop() // hijacked: httptest does not close them
		}
	})
	return s
}

// URL is the server's ws:// URL.
func (s *Server) URL() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

// Req is one call as the server sees it.
type Req struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
}

// ParseReqs decodes a call or a batch.
func ParseReqs(t testing.TB, msg []byte) (reqs []Req, batch bool) {
	if len(msg) > 0 && msg[0] == '[' {
		if err := json.Unmarshal(msg, &reqs); err != nil {
			t.Errorf("server: bad batch %s: %v", msg, err)
		}
		return reqs, true
	}
	var r Req
	if err := json.Unmarshal(msg, &r); err != nil {
		t.Errorf("server: bad call %s: %v", msg, err)
	}
	return []Req{r}, false
}

// Echo answers r with its first param as the result, so that every caller
// can tell its own answer.
func Echo(r Req) string {
	res := "null"
	if len(r.Params) > 0 {
		res = string(r.Params[0])
	}
	return `{"jsonrpc":"2.0","id":` + string(r.ID) + `,"result":` + res + `}`
}

// EchoServer answers every call with its Echo.
func EchoServer(t testing.TB) *Server {
	return Start(t, func(c *Peer, msg []byte) {
		reqs, _ := ParseReqs(t, msg)
		c.Send([]byte(Echo(reqs[0])))
	})
}

// HangingServer echoes every call but "hang", which it never answers: it
// reports the connection such a call came on instead.
func HangingServer(t testing.TB) (*Server, chan *Peer) {
	hung := make(chan *Peer, 16)
	srv := Start(t, func(c *Peer, msg []byte) {
		reqs, _ := ParseReqs(t, msg)
		if reqs[0].Method == "hang" {
			hung <- c
			return
		}
		c.Send([]byte(Echo(reqs[0])))
	})
	return srv, hung
}

// WaitFor polls cond until it holds, failing the test after 5 s.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// Timed returns a context for one call, ending after d (or with the test).
func Timed(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// EchoedString is the string result of a call Echo answered.
func EchoedString(res json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(res, &s); err != nil {
		return "", fmt.Errorf("result %s: %w", res, err)
	}
	return s, nil
}

// DropHung sends n calls with call to a HangingServer, waits until they
// all reached it, drops their connection, and returns what each call
// returned.
func DropHung(t testing.TB, hung chan *Peer, n int, call func() error) []error {
	t.Helper()
	errc := make(chan error, n)
	for range n {
		go func() { errc <- call() }()
	}
	var peer *Peer
	for range n {
		select {
		case peer = <-hung:
		case <-time.After(5 * time.Second):
			t.Fatal("the hanging calls did not reach the server")
		}
	}
	peer.Drop()
	errs := make([]error, 0, n)
	for range n {
		select {
		case err := <-errc:
			errs = append(errs, err)
		case <-time.After(5 * time.Second):
			t.Fatal("calls still waiting after their connection dropped")
		}
	}
	return errs
}
