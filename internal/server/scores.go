package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// ScoresPath is where both listeners serve the open scores: every
// provider's score and its inputs, each penalty linked to its evidence
// (docs/scores.md). Read-only; no provider URLs or secrets.
const ScoresPath = "/scores.json"

// scoresMaxAge is how long one rendering of the scores is served again:
// a client polling the public listener costs one build a second at most.
const scoresMaxAge = time.Second

// scoresCache holds the last rendering of the scores.
type scoresCache struct {
	mu   sync.Mutex
	at   time.Time
	body []byte
}

// scores returns the open scores as JSON, built at most once per scoresMaxAge.
func (g *Gateway) scores() []byte {
	c := &g.scoresCache
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.body == nil || now.Sub(c.at) >= scoresMaxAge {
		b, err := json.MarshalIndent(g.set.Scores(now), "", "  ")
		if err != nil {
			b = []byte(`{"error":"scores could not be encoded"}`)
		}
		c.body, c.at = append(b, '\n'), now
	}
	return c.body
}

// serveScoresFast answers GET (and HEAD) /scores.json on the public
// listener and reports whether it did; other paths go on to the chains.
func (g *Gateway) serveScoresFast(ctx *fasthttp.RequestCtx) bool {
	if string(ctx.Path()) != ScoresPath || !(ctx.IsGet() || ctx.IsHead()) {
		return false
	}
	ctx.Response.Header.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "public, max-age=1")
	ctx.SetBody(g.scores())
	return true
}

// serveScores answers GET /scores.json on the admin listener.
func (g *Gateway) serveScores(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(g.scores())
}
