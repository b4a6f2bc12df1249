// Package wsfront is the gateway's WebSocket front door: ws://host/{chain}
// on the same listener and path as HTTP. Every JSON-RPC method and batch
// goes through the chain's pipeline exactly as over HTTP; eth_subscribe and
// eth_unsubscribe are served by the chain's subscription hub
// (internal/subscribe), from the agreed head, not by one provider.
//
// Every client is bounded: connections per IP, subscriptions per
// connection, message size, messages answered at once, and a send queue
// (messages and bytes) — a client that reads too slowly to keep its queue
// from filling is disconnected with close code 1008 rather than let the
// gateway's memory grow. Pings keep connections alive; a client silent past
// the pong timeout, or idle (no call, no subscription) past the idle
// timeout, is closed.
//
// The server side is github.com/fasthttp/websocket, the fasthttp
// organisation's fork of github.com/gorilla/websocket (the same Conn API):
// the public listener is fasthttp's server, and the fork upgrades its
// requests in place. Clients of this package (internal/upstream, the tests)
// dial with gorilla/websocket.
package wsfront

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/subscribe"
)

// Close codes the gateway sends.
const (
	// CloseSlowReader: the client's send queue filled (RFC 6455 1008, policy violation).
	CloseSlowReader = websocket.ClosePolicyViolation
	// CloseIdle: no call and no subscription for the idle timeout.
	CloseIdle = websocket.CloseNormalClosure
	// CloseShutdown: the gateway is shutting down.
	CloseShutdown = websocket.CloseGoingAway
)

// Endpoint is what one connection serves: a chain's calls and subscriptions.
type Endpoint struct {
	Chain string
	// Call answers one request through the chain's pipeline.
	Call func(ctx context.Context, req *jsonrpc.Request) jsonrpc.Response
	// Batch, when set, answers the calls of a client's batch other than
	// subscriptions together (so that they can reach a provider as one
	// upstream batch): the answer to calls[i] is at [i]. Unset, each call
	// goes through Call, at most BatchConcurrency at once.
	Batch func(ctx context.Context, calls []jsonrpc.Call) []jsonrpc.Response
	Hub   *subscribe.Hub // nil: eth_subscribe is refused
}

// Options configure a Server.
type Options struct {
	Limits           config.WebSocket
	MaxBatchItems    int
	BatchConcurrency int
	MaxResponseBytes int64
	RequestTimeout   time.Duration
	// CheckOrigin decides whether a browser origin may connect; nil allows all.
	CheckOrigin func(ctx *fasthttp.RequestCtx) bool
	// Observer is told about connections and subscriptions (metrics); nil: nobody.
	Observer Observer
	Logger   *slog.Logger
}

// Server accepts WebSocket clients; it is safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	obs      Observer
	upgrader websocket.FastHTTPUpgrader

	mu     sync.Mutex
	perIP  map[string]int
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a server with opts.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	check := opts.CheckOrigin
	if check == nil {
		check = func(*fasthttp.RequestCtx) bool { return true }
	}
	obs := opts.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	return &Server{
		opts: opts,
		log:  opts.Logger,
		obs:  obs,
		upgrader: websocket.FastHTTPUpgrader{
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
			CheckOrigin:      check,
		},
		perIP: make(map[string]int),
		conns: make(map[*conn]struct{}),
	}
}

// IsUpgrade reports whether ctx asks for a WebSocket.
func IsUpgrade(ctx *fasthttp.RequestCtx) bool { return websocket.FastHTTPIsWebSocketUpgrade(ctx) }

// Serve upgrades ctx's request; the connection is then served on its own
// goroutine (fasthttp's hijack) until it ends. A client over its connection
// limit gets HTTP 429 before the upgrade.
func (s *Server) Serve(ctx *fasthttp.RequestCtx, ep Endpoint) {
	ip := ctx.RemoteIP().String()
	if reason := s.admit(ip); reason != "" {
		s.obs.ConnRejected(ep.Chain, reason)
		ctx.Response.Header.Set("Retry-After", "1")
		ctx.Error("limit exceeded: too many WebSocket connections from this address", http.StatusTooManyRequests)
		return
	}
	// ctx is recycled once the handler returns: copy what the connection keeps.
	remote := ctx.RemoteAddr().String()
	// fasthttp runs the upgraded connection's handler only once the 101 is
	// written; if writing it fails, the handler never runs. The IP's slot is
	// then given back after the handshake bound: whichever comes first, the
	// handler or that bound, claims it.
	var claimed atomic.Bool
	unclaimed := time.AfterFunc(s.upgrader.HandshakeTimeout, func() {
		if claimed.CompareAndSwap(false, true) {
			s.release(ip)
		}
	})
	err := s.upgrader.Upgrade(ctx, func(ws *websocket.Conn) {
		if !claimed.CompareAndSwap(false, true) {
			_ = ws.Close() // too late: the slot has been given back
			return
		}
		unclaimed.Stop()
		defer s.release(ip)
		s.obs.ConnAccepted(ep.Chain)
		c := newConn(s, ws, ep, s.log.With("chain", ep.Chain, "remote", remote))
		if !s.track(c) {
			c.closeWith(CloseShutdown, "server shutting down")
		}
		code := c.run()
		s.untrack(c)
		s.obs.ConnClosed(ep.Chain, code)
	})
	if err != nil {
		if claimed.CompareAndSwap(false, true) {
			unclaimed.Stop()
			s.release(ip)
		}
		reason := RejectHandshake
		if !s.upgrader.CheckOrigin(ctx) {
			reason = RejectOrigin
		}
		s.obs.ConnRejected(ep.Chain, reason)
		s.log.Debug("ws upgrade failed", "remote", remote, "err", err)
		// the upgrader has answered
	}
}

// admit counts a connection from ip unless ip is at its limit or the
// server is closing; it returns why it refused ("" when admitted).
func (s *Server) admit(ip string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return RejectShutdown
	case s.perIP[ip] >= s.opts.Limits.MaxConnectionsPerIP:
		return RejectPerIPLimit
	}
	s.perIP[ip]++
	return ""
}

func (s *Server) release(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; ok {
		delete(s.conns, c)
		s.wg.Done()
	}
}

// Conns returns how many connections are open.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Close closes every connection with CloseShutdown and refuses new ones; it
// waits for them to end until ctx does.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.closeWith(CloseShutdown, "server shutting down")
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("wsfront: connections still open"), ctx.Err())
	}
}
