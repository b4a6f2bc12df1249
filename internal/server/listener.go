package server

import (
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// The public listener is net/http's server, one stack for everything it
// serves: JSON-RPC POSTs, WebSocket upgrades on the same paths, CORS
// preflights and wrong methods. fasthttp answered POSTs for about 7 µs of
// CPU less per request, within the run-to-run spread of throughput on the
// default configuration: not worth a second stack (docs/benchmarks.md,
// "Issue 15: one HTTP stack on the public listener").

// newPublicServer builds the public listener's server from server.*.
func (g *Gateway) newPublicServer() *http.Server {
	s := g.cfg.Server
	return &http.Server{
		Handler: g.Handler(),
		// Slow-loris protection: the headers within read_header_timeout,
		// the whole request within read_timeout.
		ReadHeaderTimeout: s.ReadHeaderTimeout.D(),
		ReadTimeout:       s.ReadTimeout.D(),
		// net/http counts the write deadline from when a request's headers
		// are read; write_timeout is the client's time to take the answer
		// once it is ready, so the deadline also covers the body's reading
		// and rpcmesh's own work (each bounded).
		WriteTimeout: s.ReadTimeout.D() + g.cfg.Limits.RequestTimeout.D() + s.WriteTimeout.D(),
		IdleTimeout:  s.IdleTimeout.D(),
		// net/http reads up to 4 KiB past this before it answers 431 on its
		// own (plain text); up to there, serveHTTP answers it in JSON-RPC
		// (headerBytes).
		MaxHeaderBytes: s.MaxHeaderBytes,
		// Connection errors are mostly a client's doing.
		ErrorLog: slog.NewLogLogger(g.logger.With("listener", "http").Handler(), slog.LevelDebug),
	}
}

// headerBytes is the size of r's request line and headers as sent (give or
// take optional whitespace), which server.max_header_bytes bounds.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4 // "M URI PROTO\r\n"
	if r.Host != "" {
		n += len("Host: \r\n") + len(r.Host) // net/http moves Host out of r.Header
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // "k: v\r\n"
		}
	}
	return n + 2 // the blank line
}

// recoverHTTP turns a panic while serving r into a logged JSON-RPC internal
// error for that request, instead of net/http's dropped connection.
// Deferred by serveHTTP.
func (g *Gateway) recoverHTTP(w http.ResponseWriter, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	g.logger.Error("panic serving a request", "panic", p, "path", r.URL.Path, "stack", string(debug.Stack()))
	w.Header().Set("Connection", "close")
	writeError(w, http.StatusInternalServerError, jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error"))
}
