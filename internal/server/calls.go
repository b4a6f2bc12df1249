package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/pipeline"
)

// answer runs one request body on chain ch: decode, limits, the calls
// through the pipeline, encode. It returns the HTTP status and the body,
// nil when there is nothing to send (only notifications: 204). The
// request's timeout starts here, under parent. client is the remote IP
// address (bounds kept per client).
func (g *Gateway) answer(parent context.Context, ch *chain.Chain, body []byte, rid, client string, h headerSetter) (int, []byte) {
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
	logger := callLogger{base: g.logger, rid: rid, chain: ch.Name(), client: client}
	var reports []*pipeline.Report // how each answer was established, for X-Rpcmesh-Verified
	if ch.Verifies() {
		reports = make([]*pipeline.Report, len(calls))
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

// runCalls answers the calls in order (see runBatch) and fills reports[i]
// (when reports is not nil) with how calls[i]'s answer was established.
// Notifications are run but get no response.
func (g *Gateway) runCalls(ctx context.Context, ch *chain.Chain, calls []jsonrpc.Call, reports []*pipeline.Report, logger *callLogger) []jsonrpc.Response {
	if len(calls) == 1 && calls[0].Err == nil {
		// The usual request: one call, a wave of one (no result and
		// bookkeeping slices).
		req := &calls[0].Req
		resp, c := g.call(ctx, ch, req, logger)
		if reports != nil {
			reports[0] = c.Report
		}
		if req.IsNotification() {
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

// runBatch answers the calls of a batch in waves of at most
// BatchConcurrency calls: each wave goes down the pipeline as a whole (one
// pass of each stage over it), and its calls that reach routing together
// go to one provider as one upstream batch. results[i] is calls[i]'s
// response when answered[i] (not a notification); reports[i], when
// reports is not nil, how its answer was established. Each call's duration
// in the metrics and logs is its wave's: its calls are answered together.
func (g *Gateway) runBatch(ctx context.Context, ch *chain.Chain, calls []jsonrpc.Call, reports []*pipeline.Report, logger *callLogger) (results []jsonrpc.Response, answered []bool) {
	n := len(calls)
	results = make([]jsonrpc.Response, n)
	answered = make([]bool, n)
	size := min(max(g.cfg.Limits.BatchConcurrency, 1), n)
	pcs := make([]pipeline.Call, n) // one allocation for the batch's calls
	wave := make([]*pipeline.Call, 0, size)
	for start := 0; start < n; start += size {
		end := min(start+size, n)
		wave = wave[:0]
		for i := start; i < end; i++ {
			if c := &calls[i]; c.Err != nil {
				results[i], answered[i] = jsonrpc.Response{ID: c.Req.ID, Error: c.Err}, true
				continue
			}
			pcs[i] = *pipeline.NewCall(calls[i].Req.Method, calls[i].Req.Params)
			pcs[i].Client = logger.client
			wave = append(wave, &pcs[i])
		}
		if len(wave) == 0 {
			continue
		}
		t0 := time.Now()
		ch.Handler().Handle(ctx, wave)
		d := time.Since(t0)
		for i := start; i < end; i++ {
			if calls[i].Err != nil {
				continue
			}
			req := &calls[i].Req
			resp := g.respond(ctx, ch, req, &pcs[i], d, logger)
			if reports != nil {
				reports[i] = pcs[i].Report
			}
			if !req.IsNotification() {
				results[i], answered[i] = resp, true
			}
		}
	}
	return results, answered
}

// call runs one request through the chain's pipeline, as a wave of one,
// and returns its response and the call (its report, who served it).
func (g *Gateway) call(ctx context.Context, ch *chain.Chain, req *jsonrpc.Request, logger *callLogger) (jsonrpc.Response, *pipeline.Call) {
	start := time.Now()
	c := pipeline.NewCall(req.Method, req.Params)
	c.Client = logger.client
	ch.Handler().Handle(ctx, []*pipeline.Call{c})
	return g.respond(ctx, ch, req, c, time.Since(start), logger), c
}

// respond turns what the pipeline answered c (req) in d into its
// response, counting and logging it.
func (g *Gateway) respond(ctx context.Context, ch *chain.Chain, req *jsonrpc.Request, c *pipeline.Call, d time.Duration, logger *callLogger) jsonrpc.Response {
	if c.Err != nil {
		var je *jsonrpc.Error
		if !errors.As(c.Err, &je) { // the first stage maps every failure: never seen
			je = jsonrpc.Errorf(jsonrpc.CodeInternalError, "internal error")
		}
		g.metrics.Call(ch.Name(), req.Method, d, je)
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
	g.metrics.Call(ch.Name(), req.Method, d, nil)
	if g.logger.Enabled(ctx, slog.LevelDebug) {
		logger.get().Debug("call", "method", req.Method, "provider", c.Provider, "attempts", c.Attempts, "hedged", c.Hedged, "duration", d)
	}
	return jsonrpc.NewResult(req.ID, c.Result)
}

// encode builds the response body, replacing answers past the total
// response size limit with a limit error.
func (g *Gateway) encode(responses []jsonrpc.Response, batch bool) []byte {
	return jsonrpc.EncodeLimited(responses, batch, g.cfg.Limits.MaxResponseBytes)
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
