package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// cors sets the CORS headers for an allowed origin and answers preflights;
// it reports whether the request was a preflight.
func (g *Gateway) cors(ctx *fasthttp.RequestCtx) bool {
	origin := ctx.Request.Header.Peek("Origin")
	if len(origin) == 0 {
		return false
	}
	preflight := ctx.IsOptions() && len(ctx.Request.Header.Peek("Access-Control-Request-Method")) > 0
	h := &ctx.Response.Header
	allowed := g.corsHeaders(h, string(origin))
	if allowed == "" {
		if preflight {
			ctx.SetStatusCode(http.StatusForbidden)
			return true
		}
		return false
	}
	if !preflight {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	if req := ctx.Request.Header.Peek("Access-Control-Request-Headers"); len(req) > 0 {
		h.SetBytesV("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Accept-Encoding")
	}
	if age := g.cfg.Server.CORS.MaxAge.D(); age > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(age.Seconds())))
	}
	ctx.SetStatusCode(http.StatusNoContent)
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
		h.Set("Access-Control-Expose-Headers", RequestIDHeader+", "+VerifiedHeader+", "+HeadHeader+", "+StaleHeader)
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
