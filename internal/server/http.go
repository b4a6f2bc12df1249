package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/wsfront"
)

// RequestIDHeader carries the request ID back to the client (and into logs).
const RequestIDHeader = "X-Request-Id"

// gzipMinBytes is the smallest response worth compressing.
const gzipMinBytes = 1024

// serveFast is the public listener's handler: POST /{chain} and POST /
// (one chain), WebSocket upgrades on the same paths, CORS preflights, and
// GETs of the status page (statuspage.go).
func (g *Gateway) serveFast(ctx *fasthttp.RequestCtx) {
	defer g.recoverFast(ctx)
	if g.servePage(ctx) {
		return
	}
	rid := newRequestID()
	ctx.Response.Header.Set(RequestIDHeader, rid)
	if g.serveScoresFast(ctx) {
		return
	}
	ch, ok, name := g.chainForPath(ctx.Path())
	if g.cors(ctx) {
		return // preflight answered
	}
	status := g.serveChain(ctx, ch, ok, name, rid)
	g.metrics.HTTPRequest(chainLabel(ch, ok), status)
}

// chainLabel is the chain label of a request's metrics: the chain's name,
// or "unknown" (a client's path is not a label value).
func chainLabel(ch *chain.Chain, found bool) string {
	if !found {
		return "unknown"
	}
	return ch.Name()
}

// serveChain answers one HTTP request and returns its status code.
func (g *Gateway) serveChain(ctx *fasthttp.RequestCtx, ch *chain.Chain, found bool, name, rid string) int {
	h := &ctx.Response.Header
	if !found {
		return writeError(ctx, http.StatusNotFound, g.unknownChain(name))
	}
	if g.ws != nil && wsfront.IsUpgrade(ctx) { // ws://host/{chain}: same path, see ws.go
		g.serveWS(ctx, ch, rid)
		return ctx.Response.StatusCode()
	}
	if !ctx.IsPost() {
		h.Set("Allow", "POST, OPTIONS")
		return writeError(ctx, http.StatusMethodNotAllowed, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "use POST with a JSON-RPC body"))
	}
	if !g.admit() {
		h.Set("Retry-After", "1")
		return writeError(ctx, http.StatusTooManyRequests, errTooManyRequests())
	}
	defer g.leave()
	body, herr := g.readBody(ctx)
	if herr != nil {
		return writeError(ctx, herr.status, herr.rpc)
	}
	// Not the request's context: fasthttp cancels that one when the server
	// shuts down, and in-flight requests are drained, not cut off. The
	// request's own timeout starts in answer.
	status, out := g.answer(context.Background(), ch, body, rid, ctx.RemoteIP().String(), h)
	ctx.SetStatusCode(status)
	if out == nil {
		return status
	}
	return g.write(ctx, status, out)
}

// admit takes a slot of the gateway-wide concurrency limit (HTTP requests
// and WebSocket calls); leave gives it back.
func (g *Gateway) admit() bool {
	select {
	case g.sem <- struct{}{}:
		g.metrics.Inflight(1)
		return true
	default:
		return false
	}
}

func (g *Gateway) leave() {
	g.metrics.Inflight(-1)
	<-g.sem
}

func errTooManyRequests() *jsonrpc.Error {
	return jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: too many concurrent requests")
}

// headerSetter is a response's headers (fasthttp.ResponseHeader).
type headerSetter interface {
	Set(key, value string)
	Add(key, value string)
}

// errorBody is one JSON-RPC error response (id null).
func errorBody(e *jsonrpc.Error) []byte {
	resp := jsonrpc.NewError(nil, e)
	return resp.AppendJSON(nil)
}

// httpError is a request rejected before decoding.
type httpError struct {
	status int
	rpc    *jsonrpc.Error
}

// readBody is the request's body, inflated when it is gzipped, within
// limits.max_body_bytes (fasthttp has already bounded it on the wire). It
// is a copy: fasthttp reuses its buffer for the connection's next request,
// and parts of a body can outlive the request (a hedged attempt still
// running, a transaction the watch keeps).
func (g *Gateway) readBody(ctx *fasthttp.RequestCtx) ([]byte, *httpError) {
	raw := ctx.Request.Body()
	if !bytes.EqualFold(ctx.Request.Header.ContentEncoding(), []byte("gzip")) {
		return bytes.Clone(raw), nil
	}
	return gunzipBody(bytes.NewReader(raw), g.bodyLimit())
}

// gunzipBody inflates a gzipped request body, at most limit bytes of it.
func gunzipBody(src io.Reader, limit int64) ([]byte, *httpError) {
	zr, err := gzip.NewReader(src)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, jsonrpc.ErrParse("the request body is not valid gzip")}
	}
	defer zr.Close()
	body, err := io.ReadAll(io.LimitReader(zr, limit+1))
	return checkBody(body, err, limit)
}

// checkBody turns what inflating a body gave into the body or the
// client's error: over the limit, or unreadable.
func checkBody(body []byte, err error, limit int64) ([]byte, *httpError) {
	switch {
	case int64(len(body)) > limit:
		return nil, bodyTooLarge(limit)
	case err != nil:
		return nil, &httpError{http.StatusBadRequest, jsonrpc.ErrParse("the request body could not be read")}
	}
	return body, nil
}

// bodyLimit is limits.max_body_bytes, 1 MiB when unset.
func (g *Gateway) bodyLimit() int64 {
	if l := g.cfg.Limits.MaxBodyBytes; l > 0 {
		return l
	}
	return 1 << 20
}

func bodyTooLarge(limit int64) *httpError {
	return &httpError{http.StatusRequestEntityTooLarge,
		jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: request body over %d bytes", limit)}
}

// write sends body, gzipped when the client accepts it and it is worth it.
func (g *Gateway) write(ctx *fasthttp.RequestCtx, status int, body []byte) int {
	h := &ctx.Response.Header
	h.SetContentTypeBytes(jsonContentType)
	h.Add("Vary", "Accept-Encoding") // after "Origin" (cors)
	if zipped, ok := g.maybeGzip(body, func() string { return string(ctx.Request.Header.Peek("Accept-Encoding")) }); ok {
		h.Set("Content-Encoding", "gzip")
		body = zipped
	}
	ctx.SetStatusCode(status)
	ctx.Response.SetBodyRaw(body)
	return status
}

// maybeGzip compresses body when gzip is on, the body is big enough to be
// worth it and the client accepts it (accept gives its Accept-Encoding,
// read only then); it reports whether it did.
func (g *Gateway) maybeGzip(body []byte, accept func() string) ([]byte, bool) {
	if !g.cfg.Server.Gzip || len(body) < gzipMinBytes || !acceptsGzip(accept()) {
		return body, false
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(body)
	_ = zw.Close()
	return buf.Bytes(), true
}

var jsonContentType = []byte("application/json")

// acceptsGzip reads an Accept-Encoding header value.
func acceptsGzip(accept string) bool {
	if accept == "" {
		return false
	}
	for _, part := range strings.Split(accept, ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}

// writeError sends one JSON-RPC error (id null) with status.
func writeError(ctx *fasthttp.RequestCtx, status int, e *jsonrpc.Error) int {
	ctx.SetStatusCode(status)
	ctx.Response.Header.SetContentTypeBytes(jsonContentType)
	ctx.Response.SetBodyRaw(errorBody(e))
	return status
}

// chainForPath is chainFor for a request path, without allocating for a
// chain's exact name (the usual path); it also returns the name it read.
func (g *Gateway) chainForPath(path []byte) (*chain.Chain, bool, string) {
	name := bytes.Trim(path, "/")
	for _, c := range g.chains {
		if string(name) == c.Name() {
			return c, true, c.Name()
		}
	}
	s := string(name)
	c, ok := g.chainFor(s)
	return c, ok, s
}

// chainFor finds the chain for a path: a name, a decimal chain ID, or ""
// when exactly one chain is configured.
func (g *Gateway) chainFor(name string) (*chain.Chain, bool) {
	if name == "" {
		if len(g.chains) == 1 {
			return g.chains[0], true
		}
		return nil, false
	}
	cc, ok := g.cfg.ChainByName(name)
	if !ok {
		return nil, false
	}
	for _, c := range g.chains {
		if c.Name() == cc.Name {
			return c, true
		}
	}
	return nil, false
}

// unknownChain is the error for a path that names no configured chain.
func (g *Gateway) unknownChain(name string) *jsonrpc.Error {
	if name == "" {
		return jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "several chains are configured: POST to /{chain}, one of: %s", strings.Join(g.chainNames(), ", "))
	}
	return jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "unknown chain %q; configured: %s", name, strings.Join(g.chainNames(), ", "))
}

func (g *Gateway) chainNames() []string {
	names := make([]string, len(g.chains))
	for i, c := range g.chains {
		names[i] = c.Name()
	}
	return names
}

// newRequestID returns 16 random hex digits. math/rand/v2's generator is
// seeded from the OS and cheap; request IDs need to be unique, not secret.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
