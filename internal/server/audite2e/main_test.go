// Package audite2e tests the continuous audit, the open scores and
// penalties and evidence kept across a restart, against a real devnet with
// faults: a liar in the public tier caught while the own tier serves all
// traffic, honest (slow, erroring, lagging) providers never penalised, a
// censor's and a liar's record the same after a gateway restart, and a
// public-tier censor caught by the sent-transaction propagation check.
package audite2e

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/audit"
	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/metrics/metricstest"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

var (
	dn *devnet.Devnet
	gw *server.Gateway // audit on, memory only
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(devnetgw.RunSuite("audit e2e", testing.Short(),
		func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error) {
			dn = d
			return devnetgw.Start(ctx, gatewayConfig(""), devnetgw.SuiteLogger())
		},
		func(_ *devnet.Devnet, g *server.Gateway) int {
			gw = g
			return m.Run()
		}))
}

// auditPerMinute is the audit rate of the tests' gateways: a check of
// every provider about every second.
const auditPerMinute = 120

// gatewayConfig is a gateway in front of every devnet node (node1 own,
// node2-3 partner, node4 community, node5 public), heads by polling,
// auditing every provider auditPerMinute calls a minute; store is
// broadcast.store ("" for memory only).
func gatewayConfig(store string) *config.Config {
	cfg := devnetgw.Config(dn.Info(), "127.0.0.1:0", "")
	for i := range cfg.Chains[0].Providers {
		cfg.Chains[0].Providers[i].WS = ""
	}
	cfg.Audit.CallsPerMinute = auditPerMinute
	cfg.Audit.Concurrency = 8
	cfg.Audit.Depth = 8
	cfg.Audit.Timeout = config.Duration(1500 * time.Millisecond)
	cfg.Broadcast.Store = store
	cfg.Broadcast.WatchInterval = config.Duration(250 * time.Millisecond)
	cfg.Broadcast.RebroadcastBlocks = 2
	cfg.Complete()
	return cfg
}

var client = &http.Client{Timeout: 10 * time.Second}

// call sends one JSON-RPC call through gateway g and decodes its result.
func call(ctx context.Context, g *server.Gateway, out any, method string, params ...any) error {
	p, _ := json.Marshal(params)
	a, err := devnetgw.CallResult(ctx, client, devnetgw.URL(g), method, string(p))
	if err != nil || out == nil {
		return err
	}
	return json.Unmarshal(a.Result, out)
}

// publicScores fetches GET /scores.json from g's public listener.
func publicScores(t *testing.T, g *server.Gateway) (audit.Scores, string) {
	t.Helper()
	resp, err := client.Get("http://" + g.HTTPAddr() + server.ScoresPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: %d %s: %s", server.ScoresPath, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var s audit.Scores
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("scores: %v: %s", err, b)
	}
	return s, string(b)
}

// provider finds name's score in s.
func provider(s audit.Scores, name string) (audit.ProviderScore, bool) {
	for _, c := range s.Chains {
		for _, p := range c.Providers {
			if p.Name == name {
				return p, true
			}
		}
	}
	return audit.ProviderScore{}, false
}

// reasonOf finds reason among p's penalties.
func reasonOf(p audit.ProviderScore, reason string) (audit.PenaltyReason, bool) {
	for _, r := range p.Penalty.Reasons {
		if r.Reason == reason {
			return r, true
		}
	}
	return audit.PenaltyReason{}, false
}

// adminGet serves path from g's admin handler.
func adminGet(g *server.Gateway, path string) (int, []byte) {
	rec := httptest.NewRecorder()
	g.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.Bytes()
}

// evidence reads g's whole evidence log from the admin listener.
func evidence(t *testing.T, g *server.Gateway) []verify.Evidence {
	t.Helper()
	code, b := adminGet(g, "/verify/evidence?limit=100000")
	var doc struct {
		Evidence []verify.Evidence `json:"evidence"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("GET /verify/evidence: %d %s", code, b)
	}
	return doc.Evidence
}

// userAttempts counts the attempts routing sent each provider for clients
// (rpcmesh_upstream_requests_total): audit calls never go through routing.
func userAttempts(t *testing.T, g *server.Gateway) map[string]float64 {
	return metricByProvider(t, g, "rpcmesh_upstream_requests_total", nil)
}

// metricByProvider sums a counter by its provider label, over the samples
// whose labels hold every pair of match.
func metricByProvider(t *testing.T, g *server.Gateway, name string, match map[string]string) map[string]float64 {
	t.Helper()
	return metricstest.Scrape(t, g.Metrics()).Sum(name, "provider", match)
}
