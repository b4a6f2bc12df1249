package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/pipeline/forward"
	"github.com/rpcmesh/rpcmesh/internal/route"
	"github.com/rpcmesh/rpcmesh/internal/verify/stage"
)

// RequestIDHeader carries the request ID back to the client (and into logs).
const RequestIDHeader = "X-Request-Id"

// gzipMinBytes is the smallest response worth compressing.
const gzipMinBytes = 1024

// Handler is the public HTTP handler: POST /{chain} and POST / (one chain).
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rid := newRequestID()
	w.Header().Set(RequestIDHeader, rid)
	if g.cors(w, r) {
		return // preflight answered
	}
	name := strings.Trim(r.URL.Path, "/")
	ch, ok := g.chainFor(name)
	status := g.serveChain(w, r, ch, ok, name, rid)
	g.metrics.HTTPRequest(chainLabel(ch, ok), status)
}

// chainLabel is the chain label of a request's metrics: the chain's name,
// or "unknown" (a client's path is not a label value).
func chainLabel(ch *chain, found bool) string {
	if !found {
		return "unknown"
	}
	return ch.cfg.Name
}

// serveChain answers one HTTP request and returns its status code.
func (g *Gateway) serveChain(w http.ResponseWriter, r *http.Request, ch *chain, found bool, name, rid string) int {
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

// headerSetter is a response's headers: net/http's http.Header or
// fasthttp's *ResponseHeader.
type headerSetter interface {
	Set(key, value string)
	Add(key, value string)
}

// answer runs one request body on chain ch, the part both HTTP front doors
// share: decode, limits, the calls through the pipeline, encode. It
// returns the HTTP status and the body, nil when there is nothing to send
// (only notifications: 204). The request's timeout starts here, under
// parent. client is the remote IP address (bounds kept per client).
func (g *Gateway) answer(parent context.Context, ch *chain, body []byte, rid, client string, h headerSetter) (int, []byte) {
	calls, batch, derr := jsonrpc.Decode(body)
	if derr != nil {
		return http.StatusOK, errorBody(derr)
	}
	if max := g.cfg.Limits.MaxBatchItems; max > 0 && len(calls) > max {
		return http.StatusOK, errorBody(jsonrpc.Errorf(jsonrpc.CodeLimitExceeded, "limit exceeded: batch of %d calls is over the limit of %d", len(calls), max))
	}
	ctx := parent
	if t := g.cfg.Limits.RequestTimeout.D(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(parent, t)
		defer cancel()
	}
	// The request's logger is built only when a call logs (logger.With
	// allocates, and most calls log nothing at the default level).
	logger := callLogger{base: g.logger, rid: rid, chain: ch.cfg.Name, client: client}
	var reports []*stage.Report // how each answer was established, for X-Rpcmesh-Verified
	if ch.verify.Enabled {
		reports = make([]*stage.Report, len(calls))
	}
	responses := g.runCalls(ctx, ch, calls, reports, &logger)
	setVerified(h, reports, batch)
	setHeadTrust(h, ch)
	out := g.encode(responses, batch)
	if out == nil {
		return http.StatusNoContent, nil
	}
	return http.StatusOK, out
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

// runCalls answers the calls in order. A batch runs in waves of at most
// BatchConcurrency calls at once; the calls of a wave that reach routing go
// to one provider as one upstream batch (see route.Batch). Notifications
// are run but get no response.
func (g *Gateway) runCalls(ctx context.Context, ch *chain, calls []jsonrpc.Call, reports []*stage.Report, logger *callLogger) []jsonrpc.Response {
	if len(calls) == 1 && calls[0].Err == nil {
		// The usual request: one call, answered in place (no result and
		// bookkeeping slices, no closure).
		c := &calls[0]
		if reports != nil {
			ctx, reports[0] = stage.WithReport(ctx)
		}
		resp := g.call(ctx, ch, &c.Req, logger)
		if c.Req.IsNotification() {
			return nil
		}
		return []jsonrpc.Response{resp}
	}
	results, answered := g.runBatch(ctx, ch, calls, reports, logger)
	out := results[:0]
	for i := range results {
		if answered[i] {
			out = append(out, results[i])
		}
	}
	return out
}

// runBatch answers the calls of a batch in waves (see runCalls): results[i]
// is calls[i]'s response when answered[i] (not a notification).
func (g *Gateway) runBatch(ctx context.Context, ch *chain, calls []jsonrpc.Call, reports []*stage.Report, logger *callLogger) (results []jsonrpc.Response, answered []bool) {
	results = make([]jsonrpc.Response, len(calls))
	answered = make([]bool, len(calls))
	one := func(ctx context.Context, i int) {
		c := &calls[i]
		if c.Err != nil {
			results[i], answered[i] = jsonrpc.Response{ID: c.Req.ID, Error: c.Err}, true
			return
		}
		if reports != nil {
			ctx, reports[i] = stage.WithReport(ctx)
		}
		resp := g.call(ctx, ch, &c.Req, logger)
		if !c.Req.IsNotification() {
			results[i], answered[i] = resp, true
		}
	}
	workers := min(max(g.cfg.Limits.BatchConcurrency, 1), len(calls))
	switch {
	case workers <= 1:
		for i := range calls {
			one(ctx, i)
		}
	case ch.batches != nil:
		for start := 0; start < len(calls); start += workers {
			var rs []*stage.Report // the wave's, when the chain verifies
			if reports != nil {
				rs = reports[start:]
			}
			g.runWaveWhole(ctx, ch, calls[start:min(start+workers, len(calls))], results[start:], answered[start:], rs, logger)
		}
	default:
		for start := 0; start < len(calls); start += workers {
			g.runWave(ctx, ch, calls, start, min(start+workers, len(calls)), one)
		}
	}
	return results, answered
}

// runWave runs calls[start:end] at once (the wave is at most
// BatchConcurrency long), with a route.Batch gathering their upstream calls:
// the last valid call on this goroutine (its stack is already grown), the
// others on the router's workers.
func (g *Gateway) runWave(ctx context.Context, ch *chain, calls []jsonrpc.Call, start, end int, one func(context.Context, int)) {
	n, last := 0, -1
	for i := start; i < end; i++ {
		if calls[i].Err == nil {
			n, last = n+1, i
		} else {
			one(ctx, i) // answered with its decoding error
		}
	}
	if n == 0 {
		return
	}
	b := ch.router.NewBatch(n)
	run := func(i int) {
		slot := b.Slot()
		defer slot.Done()
		one(route.WithSlot(ctx, slot), i)
	}
	// The valid calls before last run on the router's workers. One closure
	// serves them all, each run taking the next index: a closure per call
	// was an allocation per call.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next = start
	)
	take := func() int {
		mu.Lock()
		defer mu.Unlock()
		for next < last && calls[next].Err != nil {
			next++
		}
		i := next
		next++
		return i
	}
	worker := func() {
		defer wg.Done()
		run(take())
	}
	wg.Add(n - 1)
	for range n - 1 {
		b.Go(worker)
	}
	if last >= 0 {
		run(last)
	}
	wg.Wait()
}

// runWaveWhole runs a wave's calls down a pipeline that takes them
// together (pipeline.BatchHandler): one pass of each stage over the wave on
// this goroutine, and one upstream batch, instead of a goroutine per call.
// results[i], answered[i] and reports[i] (nil: not kept) are calls[i]'s. Each call's duration in the
// metrics and logs is the wave's: its calls are answered together.
func (g *Gateway) runWaveWhole(ctx context.Context, ch *chain, calls []jsonrpc.Call, results []jsonrpc.Response, answered []bool, reports []*stage.Report, logger *callLogger) {
	start := time.Now()
	pcs := make([]pipeline.Call, 0, len(calls))
	at := make([]int, 0, len(calls)) // pcs[j] is calls[at[j]]
	for i := range calls {
		if c := &calls[i]; c.Err != nil {
			results[i], answered[i] = jsonrpc.Response{ID: c.Req.ID, Error: c.Err}, true
		} else {
			pcs, at = append(pcs, *pipeline.NewCall(c.Req.Method, c.Req.Params)), append(at, i)
			pcs[len(pcs)-1].Client = logger.client
		}
	}
	if len(pcs) == 0 {
		return
	}
	ptrs := make([]*pipeline.Call, len(pcs))
	for j := range pcs {
		ptrs[j] = &pcs[j]
	}
	if reports != nil {
		var rs []*stage.Report
		ctx, rs = stage.WithWaveReports(ctx, ptrs)
		for j, i := range at {
			reports[i] = rs[j]
		}
	}
	out := make([]pipeline.Answer, len(pcs))
	ch.batches.HandleBatch(ctx, ptrs, out)
	d := time.Since(start)
	for j, i := range at {
		req := &calls[i].Req
		resp := g.respond(ctx, ch, req, &pcs[j], out[j].Result, out[j].Err, d, logger)
		if !req.IsNotification() {
			results[i], answered[i] = resp, true
		}
	}
}

// call runs one request through the chain's pipeline.
func (g *Gateway) call(ctx context.Context, ch *chain, req *jsonrpc.Request, logger *callLogger) jsonrpc.Response {
	start := time.Now()
	c := pipeline.NewCall(req.Method, req.Params)
	c.Client = logger.client
	res, err := ch.pipeline.Handle(ctx, c)
	return g.respond(ctx, ch, req, c, res, err, time.Since(start), logger)
}

// respond turns what the pipeline answered c (req) in d into its
// response, counting and logging it.
func (g *Gateway) respond(ctx context.Context, ch *chain, req *jsonrpc.Request, c *pipeline.Call, res json.RawMessage, err error, d time.Duration, logger *callLogger) jsonrpc.Response {
	if err != nil {
		var je *jsonrpc.Error
		if !errors.As(err, &je) {
			je = forward.ToRPC(err)
		}
		g.metrics.Call(ch.cfg.Name, req.Method, d, je)
		level := slog.LevelDebug
		if je.Code == jsonrpc.CodeNoProvider || je.Code == jsonrpc.CodeUpstreamError || je.Code == jsonrpc.CodeTimeout || je.Code == jsonrpc.CodeInternalError {
			level = slog.LevelWarn
		}
		if g.logger.Enabled(ctx, level) {
			logger.get().Log(ctx, level, "call failed", "method", req.Method, "code", je.Code, "err", je.Message,
				"provider", c.Provider, "attempts", c.Attempts, "duration", d)
		}
		return jsonrpc.NewError(req.ID, je)
	}
	g.metrics.Call(ch.cfg.Name, req.Method, d, nil)
	if g.logger.Enabled(ctx, slog.LevelDebug) {
		logger.get().Debug("call", "method", req.Method, "provider", c.Provider, "attempts", c.Attempts, "hedged", c.Hedged, "duration", d)
	}
	return jsonrpc.NewResult(req.ID, res)
}

// encode builds the response body, replacing answers past the total
// response size limit with a limit error.
func (g *Gateway) encode(responses []jsonrpc.Response, batch bool) []byte {
	return jsonrpc.EncodeLimited(responses, batch, g.cfg.Limits.MaxResponseBytes)
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

// cors sets the CORS headers for an allowed origin and answers preflights;
// it reports whether the request was a preflight.
func (g *Gateway) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	h := w.Header()
	allowed := g.corsHeaders(h, origin)
	if allowed == "" {
		if preflight {
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	}
	if !preflight {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Accept-Encoding")
	}
	if age := g.cfg.Server.CORS.MaxAge.D(); age > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(age.Seconds())))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// corsHeaders sets the CORS headers every answer to a request from origin
// (not empty) carries, and returns the allowed origin ("" when origin is
// not allowed).
func (g *Gateway) corsHeaders(h headerSetter, origin string) string {
	h.Add("Vary", "Origin")
	allowed := g.allowedOrigin(origin)
	if allowed != "" {
		h.Set("Access-Control-Allow-Origin", allowed)
		// So that browser dApps can read how an answer was established.
		h.Set("Access-Control-Expose-Headers", RequestIDHeader+", "+VerifiedHeader+", "+HeadHeader)
	}
	return allowed
}

// allowedOrigin is the Access-Control-Allow-Origin answer to origin: "*",
// origin itself, or "" when server.cors.allowed_origins does not list it.
func (g *Gateway) allowedOrigin(origin string) string {
	for _, o := range g.cfg.Server.CORS.AllowedOrigins {
		if o == "*" {
			return "*"
		}
		if strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

// chainFor finds the chain for a path: a name, a decimal chain ID, or ""
// when exactly one chain is configured.
func (g *Gateway) chainFor(name string) (*chain, bool) {
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
		if c.cfg == cc {
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
		names[i] = c.cfg.Name
	}
	return names
}

// callLogger is a request's logger (request ID and chain attached), built
// on first use: the batch items of one request share it.
type callLogger struct {
	base       *slog.Logger
	rid, chain string
	client     string // the remote IP address, passed to the pipeline with each call
	once       sync.Once
	l          *slog.Logger
}

func (c *callLogger) get() *slog.Logger {
	c.once.Do(func() { c.l = c.base.With("request_id", c.rid, "chain", c.chain) })
	return c.l
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
