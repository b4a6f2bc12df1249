package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// The public listener runs on fasthttp. JSON-RPC POSTs, the hot path, are
// answered by serveFast without net/http's per-request costs (a background
// read per request, header maps, ~17 allocations: docs/benchmarks.md,
// round 3). Everything else (WebSocket upgrades, CORS preflights, wrong
// methods) goes to the net/http Handler through fasthttp's adaptor, so
// those keep one implementation.

// newPublicServer builds the public listener's server from server.* and
// limits.max_body_bytes.
func (g *Gateway) newPublicServer() *fasthttp.Server {
	s := g.cfg.Server
	slow := fasthttpadaptor.NewFastHTTPHandler(g.Handler())
	bodyTimeout := fasthttp.RequestConfig{ReadTimeout: s.ReadTimeout.D()}
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			defer g.recoverFast(ctx)
			if ctx.IsPost() && len(ctx.Request.Header.Peek("Upgrade")) == 0 {
				g.serveFast(ctx)
				return
			}
			slow(ctx)
		},
		// fasthttp's ReadTimeout runs from a request's first byte; the
		// headers must arrive within read_header_timeout (slow-loris
		// protection), then the body gets read_timeout.
		ReadTimeout:    s.ReadHeaderTimeout.D(),
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig { return bodyTimeout },
		// Counted from when the answer is ready: rpcmesh's own work is
		// bounded by limits.request_timeout.
		WriteTimeout:          s.WriteTimeout.D(),
		IdleTimeout:           s.IdleTimeout.D(),
		ReadBufferSize:        s.MaxHeaderBytes,
		MaxRequestBodySize:    int(g.bodyLimit()),
		ErrorHandler:          g.fastError,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		CloseOnShutdown:       true,
		Logger:                fastLogger{g.logger},
	}
}

// serveFast answers a JSON-RPC POST: the fasthttp twin of serveHTTP.
func (g *Gateway) serveFast(ctx *fasthttp.RequestCtx) {
	rid := newRequestID()
	ctx.Response.Header.Set(RequestIDHeader, rid)
	ch, ok, name := g.chainForPath(ctx.Path())
	status := g.serveFastChain(ctx, ch, ok, name, rid)
	g.metrics.HTTPRequest(chainLabel(ch, ok), status)
}

func (g *Gateway) serveFastChain(ctx *fasthttp.RequestCtx, ch *chain, found bool, name, rid string) int {
	h := &ctx.Response.Header
	if origin := ctx.Request.Header.Peek("Origin"); len(origin) > 0 {
		g.corsHeaders(h, string(origin))
	}
	if !found {
		return fastWriteError(ctx, http.StatusNotFound, g.unknownChain(name))
	}
	if !g.admit() {
		h.Set("Retry-After", "1")
		return fastWriteError(ctx, http.StatusTooManyRequests, errTooManyRequests())
	}
	defer g.leave()
	body, herr := g.fastBody(ctx)
	if herr != nil {
		return fastWriteError(ctx, herr.status, herr.rpc)
	}
	// Not the request's context: fasthttp cancels that one when the server
	// shuts down, and in-flight requests are drained, not cut off. The
	// request's own timeout starts in answer.
	status, out := g.answer(context.Background(), ch, body, rid, ctx.RemoteIP().String(), h)
	ctx.SetStatusCode(status)
	if out == nil {
		return status
	}
	h.SetContentTypeBytes(jsonContentType)
	h.Add("Vary", "Accept-Encoding")
	if zipped, ok := g.maybeGzip(out, func() string { return string(ctx.Request.Header.Peek("Accept-Encoding")) }); ok {
		h.Set("Content-Encoding", "gzip")
		out = zipped
	}
	ctx.Response.SetBodyRaw(out)
	return status
}

// fastBody is the request's body, inflated when it is gzipped, within
// limits.max_body_bytes (fasthttp has already bounded it on the wire). It
// is a copy: fasthttp reuses its buffer for the connection's next request,
// and parts of a body can outlive the request (a hedged attempt still
// running, a transaction the watch keeps).
func (g *Gateway) fastBody(ctx *fasthttp.RequestCtx) ([]byte, *httpError) {
	raw := ctx.Request.Body()
	if !bytes.EqualFold(ctx.Request.Header.ContentEncoding(), []byte("gzip")) {
		return bytes.Clone(raw), nil
	}
	return gunzipBody(bytes.NewReader(raw), g.bodyLimit())
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
	fastWriteError(ctx, status, e)
	ch, ok, _ := g.chainForPath(ctx.Path())
	g.metrics.HTTPRequest(chainLabel(ch, ok), status)
}

// recoverFast turns a panic while serving ctx into a logged internal error
// for that request, as net/http does, instead of the end of the process
// (fasthttp does not recover). Deferred by the listener's handler.
func (g *Gateway) recoverFast(ctx *fasthttp.RequestCtx) {
	p := recover()
	if p == nil {
		return
	}
	g.logger.Error("panic serving a request", "panic", p, "path", string(ctx.Path()), "stack", string(debug.Stack()))
	ctx.Response.Reset()
	ctx.SetConnectionClose()
	fastWriteError(ctx, http.StatusInternalServerError, jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error"))
}

// fastWriteError sends one JSON-RPC error (id null) with status.
func fastWriteError(ctx *fasthttp.RequestCtx, status int, e *jsonrpc.Error) int {
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(jsonContentType)
	ctx.Response.SetBodyRaw(errorBody(e))
	return status
}

var jsonContentType = []byte("application/json")

// chainForPath is chainFor for a request path, without allocating for a
// chain's exact name (the usual path); it also returns the name it read.
func (g *Gateway) chainForPath(path []byte) (*chain, bool, string) {
	name := bytes.Trim(path, "/")
	for _, c := range g.chains {
		if string(name) == c.cfg.Name {
			return c, true, c.cfg.Name
		}
	}
	s := string(name)
	c, ok := g.chainFor(s)
	return c, ok, s
}

// fastLogger hands fasthttp's messages (connection errors, mostly a
// client's doing) to the gateway's logger at debug level, as net/http's
// are.
type fastLogger struct{ l *slog.Logger }

func (f fastLogger) Printf(format string, args ...any) {
	if f.l.Enabled(context.Background(), slog.LevelDebug) {
		f.l.Debug(fmt.Sprintf(format, args...), "listener", "http")
	}
}
