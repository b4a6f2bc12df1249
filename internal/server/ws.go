package server

import (
	"context"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
	"github.com/rpcmesh/rpcmesh/internal/wsfront"
)

// newWSFront builds the WebSocket front door from the config (nil when
// disabled). Its calls obey the same limits as HTTP requests.
func (g *Gateway) newWSFront() *wsfront.Server {
	if !g.cfg.WebSocket.Enabled {
		return nil
	}
	return wsfront.New(wsfront.Options{
		Limits:           g.cfg.WebSocket,
		MaxBatchItems:    g.cfg.Limits.MaxBatchItems,
		BatchConcurrency: g.cfg.Limits.BatchConcurrency,
		MaxResponseBytes: g.cfg.Limits.MaxResponseBytes,
		RequestTimeout:   g.cfg.Limits.RequestTimeout.D(),
		CheckOrigin:      g.originAllowed,
		Observer:         metrics.NewWS(g.metrics),
		Logger:           g.logger,
	})
}

// serveWS hands a WebSocket upgrade for chain ch to the WS front door.
func (g *Gateway) serveWS(ctx *fasthttp.RequestCtx, ch *chain.Chain, rid string) {
	logger := &callLogger{base: g.logger.With("transport", "ws"), rid: rid, chain: ch.Name(), client: ctx.RemoteIP().String()}
	g.ws.Serve(ctx, wsfront.Endpoint{
		Chain: ch.Name(),
		Hub:   ch.Hub(),
		Call: func(ctx context.Context, req *jsonrpc.Request) jsonrpc.Response {
			// One WS call takes a slot of the gateway-wide concurrency
			// limit, as one HTTP request does.
			if !g.admit() {
				return jsonrpc.NewError(req.ID, errTooManyRequests())
			}
			defer g.leave()
			resp, _ := g.call(ctx, ch, req, logger)
			return resp
		},
		Batch: func(ctx context.Context, calls []jsonrpc.Call) []jsonrpc.Response {
			// A batch takes one slot, as one HTTP request does, and runs as
			// an HTTP batch does: in waves, each wave's reads one upstream batch.
			if !g.admit() {
				out := make([]jsonrpc.Response, len(calls))
				for i := range calls {
					out[i] = jsonrpc.NewError(calls[i].Req.ID, errTooManyRequests())
				}
				return out
			}
			defer g.leave()
			out, _ := g.runBatch(ctx, ch, calls, nil, logger)
			return out
		},
	})
}

// originAllowed applies the CORS allowed origins to WebSocket upgrades
// (a request without Origin is not from a browser and is allowed).
func (g *Gateway) originAllowed(ctx *fasthttp.RequestCtx) bool {
	origin := ctx.Request.Header.Peek("Origin")
	return len(origin) == 0 || g.allowedOrigin(string(origin)) != ""
}

// closeWS closes every WebSocket client (they are hijacked connections,
// which http.Server.Shutdown does not wait for).
func (g *Gateway) closeWS(ctx context.Context) error {
	if g.ws == nil {
		return nil
	}
	return g.ws.Close(ctx)
}
