package server

import (
	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/statuspage"
	"github.com/rpcmesh/rpcmesh/internal/wsfront"
)

// The status page (internal/statuspage) is served by the public listener
// at / and /status, with /status.json, /status/history.json,
// /status/events and /status/assets/ beside it, unless
// status_page.enabled is false. It reads the served chains as a
// status.Source (chain.Set): no provider URLs. Its scores section reads
// /scores.json (scores.go) from the same listener.

// newStatusPage builds the status page from status_page.*, nil when it is
// turned off.
func (g *Gateway) newStatusPage() *statuspage.Page {
	sp := g.cfg.StatusPage
	if !sp.Enabled {
		return nil
	}
	return statuspage.New(g.set, statuspage.Options{
		SampleInterval: sp.SampleInterval.D(),
		Samples:        sp.Samples(),
		MaxStreams:     sp.MaxStreams,
		WriteTimeout:   g.cfg.Server.WriteTimeout.D(),
		Logger:         g.logger,
		ScoresPath:     ScoresPath, // served beside the page (scores.go)
	})
}

// servePage answers a GET or HEAD of one of the status page's paths and
// reports whether it did. Everything else goes on as before: JSON-RPC
// POSTs, CORS preflights and WebSocket upgrades (ws://host/ is the only
// chain's when there is one).
func (g *Gateway) servePage(ctx *fasthttp.RequestCtx) bool {
	if g.page == nil || !(ctx.IsGet() || ctx.IsHead()) || !statuspage.Owns(ctx.Path()) || wsfront.IsUpgrade(ctx) {
		return false
	}
	g.cors(ctx) // tools on other origins may read /status.json, as server.cors allows
	g.page.Serve(ctx)
	return true
}
