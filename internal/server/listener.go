package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// The public listener is fasthttp's server, one stack for everything it
// serves: JSON-RPC POSTs, WebSocket upgrades on the same paths (through
// github.com/fasthttp/websocket), CORS preflights and wrong methods.
// net/http cost about 8.5 µs more gateway CPU per request (a background
// read per request, header maps, more allocations): docs/benchmarks.md,
// "Issue 15: the public listener back on fasthttp". The admin listener
// stays on net/http.

// newPublicServer builds the public listener's server from server.* and
// limits.max_body_bytes.
func (g *Gateway) newPublicServer() *fasthttp.Server {
	s := g.cfg.Server
	bodyTimeout := fasthttp.RequestConfig{ReadTimeout: s.ReadTimeout.D()}
	return &fasthttp.Server{
		Handler: g.serveFast,
		// fasthttp's ReadTimeout runs from a request's first byte; the
		// headers must arrive within read_header_timeout (slow-loris
		// protection), then the body gets read_timeout.
		ReadTimeout:    s.ReadHeaderTimeout.D(),
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig { return bodyTimeout },
		// Counted from when the answer is ready: rpcmesh's own work is
		// bounded by limits.request_timeout.
		WriteTimeout: s.WriteTimeout.D(),
		IdleTimeout:  s.IdleTimeout.D(),
		// The request line and headers must fit the read buffer: over it,
		// fastError answers 431.
		ReadBufferSize:        s.MaxHeaderBytes,
		MaxRequestBodySize:    int(g.bodyLimit()),
		ErrorHandler:          g.fastError,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		Logger:                fastLogger{g.logger},
	}
}

// fastError answers a request fasthttp could not read, in JSON-RPC.
func (g *Gateway) fastError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	var status int
	var e *jsonrpc.Error
	switch {
	case errors.As(err, &small):
		status, e = http.StatusRequestHeaderFieldsTooLarge,
			jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: request line and headers over %d bytes", g.cfg.Server.MaxHeaderBytes)
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		he := bodyTooLarge(g.bodyLimit())
		status, e = he.status, he.rpc
	case errors.As(err, &ne) && ne.Timeout():
		status, e = http.StatusRequestTimeout, jsonrpc.ErrParse("request not received in time")
	default:
		status, e = http.StatusBadRequest, jsonrpc.ErrParse("malformed HTTP request")
	}
	ctx.Response.Reset()
	ctx.Response.Header.Set(RequestIDHeader, newRequestID())
	writeError(ctx, status, e)
	ch, ok, _ := g.chainForPath(ctx.Path())
	g.metrics.HTTPRequest(chainLabel(ch, ok), status)
}

// recoverFast turns a panic while serving ctx into a logged JSON-RPC
// internal error for that request, instead of the end of the process
// (fasthttp does not recover). Deferred by serveFast.
func (g *Gateway) recoverFast(ctx *fasthttp.RequestCtx) {
	p := recover()
	if p == nil {
		return
	}
	g.logger.Error("panic serving a request", "panic", p, "path", string(ctx.Path()), "stack", string(debug.Stack()))
	rid := ctx.Response.Header.Peek(RequestIDHeader)
	rid = append([]byte(nil), rid...)
	ctx.Response.Reset()
	if len(rid) > 0 {
		ctx.Response.Header.SetBytesV(RequestIDHeader, rid)
	}
	ctx.SetConnectionClose()
	writeError(ctx, http.StatusInternalServerError, jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error"))
}

// fastLogger hands fasthttp's messages (connection errors, mostly a
// client's doing) to the gateway's logger at debug level.
type fastLogger struct{ l *slog.Logger }

func (f fastLogger) Printf(format string, args ...any) {
	if f.l.Enabled(context.Background(), slog.LevelDebug) {
		f.l.Debug(fmt.Sprintf(format, args...), "listener", "http")
	}
}
