package statuspage

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

// The page's paths.
const (
	PathRoot    = "/"
	PathPage    = "/status"
	PathJSON    = "/status.json"
	PathHistory = "/status/history.json"
	PathEvents  = "/status/events"
	// PathAssets prefixes the page's script, style and uPlot's files.
	PathAssets = "/status/assets/"
)

// securityHeaders go on every answer: the page loads only what it is
// served, runs no inline script and may not be framed.
var securityHeaders = [][2]string{
	{"Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
		"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-cache"},
}

// Owns reports whether a GET to path is the page's (Serve answers it).
func Owns(p []byte) bool {
	s := string(p)
	switch s {
	case PathRoot, PathPage, PathPage + "/", PathJSON, PathHistory, PathEvents:
		return true
	}
	return strings.HasPrefix(s, PathAssets)
}

// Serve answers a GET or HEAD request for one of the page's paths (see
// Owns); other methods get 405.
func (p *Page) Serve(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	for _, kv := range securityHeaders {
		h.Set(kv[0], kv[1])
	}
	if !ctx.IsGet() && !ctx.IsHead() {
		h.Set("Allow", "GET, HEAD")
		plain(ctx, http.StatusMethodNotAllowed, "the status page is read-only: use GET")
		return
	}
	switch s := string(ctx.Path()); {
	case s == PathRoot || s == PathPage || s == PathPage+"/":
		h.SetContentType(contentTypes[".html"])
		ctx.SetBody(p.index)
	case s == PathJSON:
		h.SetContentType("application/json")
		ctx.SetBody(p.snapshotJSON())
	case s == PathHistory:
		h.SetContentType("application/json")
		ctx.SetBody(p.history.json())
	case s == PathEvents:
		p.serveEvents(ctx)
	case strings.HasPrefix(s, PathAssets):
		p.asset(ctx, strings.TrimPrefix(s, PathAssets))
	default:
		plain(ctx, http.StatusNotFound, "no such page")
	}
}

// asset serves one embedded file of web/.
func (p *Page) asset(ctx *fasthttp.RequestCtx, name string) {
	clean := path.Clean("/" + name)[1:]
	b, err := fs.ReadFile(web, "web/"+clean)
	if err != nil || clean == "" {
		plain(ctx, http.StatusNotFound, "no such file")
		return
	}
	ctype, ok := contentTypes[path.Ext(clean)]
	if !ok {
		ctype = "text/plain; charset=utf-8"
	}
	ctx.Response.Header.SetContentType(ctype)
	ctx.SetBody(b)
}

// contentTypes are the types of the page's files, by extension (not the
// machine's mime tables: the answer is the same everywhere).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".png":  "image/png",
	".svg":  "image/svg+xml",
}

// plain answers status with a line of text.
func plain(ctx *fasthttp.RequestCtx, status int, msg string) {
	ctx.Response.Header.SetContentType("text/plain; charset=utf-8")
	ctx.SetStatusCode(status)
	ctx.SetBodyString(msg + "\n")
}
