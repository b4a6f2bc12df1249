package server

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/chain"
	"github.com/rpcmesh/rpcmesh/internal/metrics"
)

// AdminHandler serves /metrics, /healthz (alive), /readyz (every chain
// serves fresh answers, see readyz), /status (JSON), /notify (webhooks) and, when
// admin.pprof is set, the Go profiler under /debug/pprof/.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", g.metrics) // the Prometheus text format
	if g.cfg.Admin.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /transactions", g.serveTransactions)
	mux.Handle("GET /verify/evidence", g.set.Evidence()) // answers that failed verification, newest first
	mux.Handle("GET /notify", g.notify)                  // webhooks: queues, deliveries, dead letters
	mux.Handle("GET /usage/statements", g.set.Usage())   // signed usage statements per operator and epoch
	mux.HandleFunc("GET "+ScoresPath, g.serveScores)     // open scores, as on the public listener
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.readyz)
	g.mountProviders(mux) // provider stages; run-time providers (providers.go)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.Status())
	})
	return mux
}

// readyz answers 503 naming the first chain that does not serve fresh
// answers (no agreed head, head standing still for ready_stale_blocks block
// times, head frozen while a provider reports a higher block, no usable
// provider); else 200 "ready", or "ready (degraded: ...)" with a line per
// chain whose head is followed on fewer operators than head_agreement (its
// answers are fresh but on weaker trust) or whose answers carry
// X-Rpcmesh-Stale.
func (g *Gateway) readyz(w http.ResponseWriter, _ *http.Request) {
	var degraded []string
	for _, c := range g.chains {
		if ok, why := c.Ready(); !ok {
			http.Error(w, "chain "+c.Name()+" not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		if tr := c.Trust(); tr.Degraded {
			degraded = append(degraded, fmt.Sprintf("chain %s head on %d of %d operators", c.Name(), tr.Operators, tr.Required))
		} else if s := c.Stale(); s != "" {
			degraded = append(degraded, fmt.Sprintf("chain %s answers stale: %s", c.Name(), s))
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	if len(degraded) == 0 {
		_, _ = w.Write([]byte("ready\n"))
		return
	}
	_, _ = w.Write([]byte("ready (degraded: " + strings.Join(degraded, "; ") + ")\n"))
}

// Status is the /status document.
type Status struct {
	Chains []chain.Status `json:"chains"`
	// Incidents are the open incidents and the most recent ended ones,
	// newest first (as on the status page).
	Incidents []chain.Incident `json:"incidents"`
}

// Status reports every chain's head and providers, and the incidents.
func (g *Gateway) Status() Status {
	now := time.Now()
	st := Status{Incidents: g.set.Incidents()}
	for _, c := range g.chains {
		st.Chains = append(st.Chains, c.Status(now))
	}
	return st
}

// chainStates feeds the metrics collector at scrape time.
func (g *Gateway) chainStates() []metrics.ChainState {
	now := time.Now()
	out := make([]metrics.ChainState, 0, len(g.chains))
	for _, c := range g.chains {
		out = append(out, c.State(now))
	}
	return out
}
