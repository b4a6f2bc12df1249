package server

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// RequestIDHeader carries the request ID back to the client (and into logs).
const RequestIDHeader = "X-Request-Id"

// gzipMinBytes is the smallest response worth compressing.
const gzipMinBytes = 1024

// Handler is the public HTTP handler: POST /{chain} and POST / (one chain).
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer g.recoverHTTP(w, r)
	rid := newRequestID()
	w.Header().Set(RequestIDHeader, rid)
	name := strings.Trim(r.URL.Path, "/")
	ch, ok := g.chainFor(name)
	if max := g.cfg.Server.MaxHeaderBytes; max > 0 && headerBytes(r) > max {
		w.Header().Set("Connection", "close")
		g.metrics.HTTPRequest(chainLabel(ch, ok), writeError(w, http.StatusRequestHeaderFieldsTooLarge,
			jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: request line and headers over %d bytes", max)))
		return
	}
	if g.cors(w, r) {
		return // preflight answered
	}
	status := g.serveChain(w, r, ch, ok, name, rid)
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
func (g *Gateway) serveChain(w http.ResponseWriter, r *http.Request, ch *chain.Chain, found bool, name, rid string) int {
	if !found {
		return writeError(w, http.StatusNotFound, g.unknownChain(name))
	}
	if g.ws != nil && isWSUpgrade(r) { // ws://host/{chain}: same path, see ws.go
		g.serveWS(w, r, ch, rid)
		return http.StatusSwitchingProtocols
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		return writeError(w, http.StatusMethodNotAllowed, jsonrpc.Errorf(jsonrpc.CodeInvalidRequest, "use POST with a JSON-RPC body"))
	}
	if !g.admit() {
		w.Header().Set("Retry-After", "1")
		return writeError(w, http.StatusTooManyRequests, errTooManyRequests())
	}
	defer g.leave()
	body, herr := g.readBody(w, r)
	if herr != nil {
		return writeError(w, herr.status, herr.rpc)
	}
	status, out := g.answer(r.Context(), ch, body, rid, remoteIP(r.RemoteAddr), w.Header())
	if out == nil {
		w.WriteHeader(status)
		return status
	}
	return g.write(w, r, status, out)
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

// headerSetter is a response's headers (http.Header).
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

// readBody reads the (possibly gzipped) body within MaxBodyBytes, which
// bounds the decompressed size too.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *httpError) {
	limit := g.bodyLimit()
	if r.ContentLength > limit {
		return nil, bodyTooLarge(limit)
	}
	gzipped := strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip")
	if !gzipped && r.ContentLength >= 0 {
		// The usual request: its length is announced and within the limit
		// (net/http ends the body there), so one allocation holds it.
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, &httpError{http.StatusBadRequest, jsonrpc.ErrParse("the request body could not be read")}
		}
		return body, nil
	}
	var src io.Reader = http.MaxBytesReader(w, r.Body, limit)
	if gzipped {
		return gunzipBody(src, limit)
	}
	body, err := io.ReadAll(io.LimitReader(src, limit+1))
	return checkBody(body, err, limit)
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

// checkBody turns what reading a body gave into the body or the client's
// error: over the limit (on the wire or inflated), or unreadable.
func checkBody(body []byte, err error, limit int64) ([]byte, *httpError) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(len(body)) > limit:
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
func (g *Gateway) write(w http.ResponseWriter, r *http.Request, status int, body []byte) int {
	h := w.Header()
	// Shared, never written: net/http copies the header map when it
	// writes it, and Add appends to a full slice by copying it.
	h["Content-Type"] = contentTypeJSON
	if _, ok := h["Vary"]; ok {
		h.Add("Vary", "Accept-Encoding") // after "Origin" (cors)
	} else {
		h["Vary"] = varyAcceptEncoding
	}
	if zipped, ok := g.maybeGzip(body, func() string { return r.Header.Get("Accept-Encoding") }); ok {
		h.Set("Content-Encoding", "gzip")
		body = zipped
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
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

// Header values of every answer, shared (see write).
var (
	contentTypeJSON    = []string{"application/json"}
	varyAcceptEncoding = []string{"Accept-Encoding"}
)

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
func writeError(w http.ResponseWriter, status int, e *jsonrpc.Error) int {
	body := errorBody(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
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

// remoteIP is the IP address of a remote "host:port" (proxies' headers
// are not trusted: a client could name any address in them).
func remoteIP(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// newRequestID returns 16 random hex digits. math/rand/v2's generator is
// seeded from the OS and cheap; request IDs need to be unique, not secret.
func newRequestID() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}
