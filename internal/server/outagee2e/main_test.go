// Package outagee2e tests the agreed head through an operator outage: a
// gateway in front of two devnet nodes of distinct operators with
// head_agreement 2 and HTTP-only providers, one node killed or hung under
// steady reads.
package outagee2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/head"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

var (
	dn  *devnet.Devnet
	gw  *server.Gateway
	url string
)

// blockTime is the devnet's (devnetgw.RunSuite).
const blockTime = 500 * time.Millisecond

func TestMain(m *testing.M) {
	devnetgw.Main(m, "outage e2e", gatewayConfig, func(d *devnet.Devnet, g *server.Gateway) {
		dn, gw, url = d, g, devnetgw.URL(g)
	})
}

// gatewayConfig keeps the first two devnet nodes (two operators), without
// WebSocket, and needs both to agree on a head; head polls as by default.
func gatewayConfig(info devnet.Info) *config.Config {
	cfg := devnetgw.Config(info, "127.0.0.1:0", "")
	ch := &cfg.Chains[0]
	ch.Providers = ch.Providers[:2]
	for i := range ch.Providers {
		ch.Providers[i].WS = ""
	}
	ch.HeadAgreement = 2
	// Head polls as configured by default (devnetgw polls faster), so the
	// lag measured is what a user's HTTP-only gateway sees.
	cfg.Health.PollInterval = config.Default().Health.PollInterval
	cfg.Complete()
	return cfg
}

var client = &http.Client{Timeout: 10 * time.Second}

// answer is one call's result and the gateway's head header.
type answer struct {
	result json.RawMessage
	head   string
}

// call sends one JSON-RPC call through the gateway.
func call(ctx context.Context, method, params string) (answer, error) {
	a, err := devnetgw.CallResult(ctx, client, url, method, params)
	if err != nil {
		return answer{}, err
	}
	return answer{result: a.Result, head: a.Header.Get(server.HeadHeader)}, nil
}

// latestNumber asks the gateway for the latest block and returns its number.
func latestNumber(ctx context.Context) (uint64, answer, error) {
	a, err := call(ctx, "eth_getBlockByNumber", `["latest",false]`)
	if err != nil {
		return 0, a, err
	}
	b, err := head.ParseHeader(a.result)
	return b.Number, a, err
}

// admin fetches an admin path from the gateway's admin handler.
func admin(path string) (int, string) {
	rec := httptest.NewRecorder()
	gw.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// gatewayHead is the gateway's agreed head number (0 without one).
func gatewayHead() uint64 {
	if h := gw.Status().Chains[0].Head; h != nil {
		return h.Number
	}
	return 0
}

// settle waits until the gateway measured the block time and ten more
// blocks came, so that head polls are timed to the chain's pace.
func settle(ctx context.Context, t *testing.T) {
	t.Helper()
	devnetgw.WaitFor(ctx, t, gw, "a measured block time", func() bool { return gw.Status().Chains[0].BlockTimeMs > 0 })
	from, _ := dn.Head()
	devnetgw.WaitFor(ctx, t, gw, "ten more blocks", func() bool { n, _ := dn.Head(); return n >= from+10 })
}
