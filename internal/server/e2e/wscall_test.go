package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
)

// TestCallsOverWebSocket runs a second gateway whose only provider is one
// devnet node with call_transport ws and an HTTP URL where nothing
// listens: every call to it, health checks included, goes over its
// multiplexed WebSockets (through its fault proxy) to go-ethereum. The
// answers, one by one, concurrent, and in a batch, must be the node's own
// over HTTP.
func TestCallsOverWebSocket(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw) // no fault left by an earlier test
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node := dn.Info().Nodes[0]
	g, client, target := startOneNodeGateway(t, ctx, node.Name, func(_ *config.Config, pc *config.Provider) {
		pc.HTTP = "http://127.0.0.1:1" // nothing listens: a call over HTTP would fail
		pc.CallTransport = config.CallTransportWS
		pc.WSConns = 2
	})
	var err error

	honest := newTruth(t, node.Name)
	direct, _ := dn.DirectURL(node.Name)
	blk := fmt.Sprintf("0x%x", max(headOf(t, direct), 1)-1) // a block the gateway has agreed on
	accounts := dn.Info().Accounts
	calls := []rpcCall{
		{Method: "eth_chainId", Params: json.RawMessage(`[]`)},
		{Method: "eth_getBalance", Params: params(accounts[0].Address, blk)},
		{Method: "eth_getBalance", Params: params(accounts[1].Address, blk)},
		{Method: "eth_getTransactionCount", Params: params(accounts[2].Address, blk)},
		{Method: "eth_getBlockByNumber", Params: params(blk, false)},
		{Method: "eth_getBlockByNumber", Params: params(blk, true)},
	}
	want := make([]json.RawMessage, len(calls))
	for i, c := range calls {
		if want[i], err = honest.get(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	check := func(how string, i int, a rpcAnswer) {
		t.Helper()
		if a.Error != nil || !sameJSON(a.Result, want[i]) {
			t.Errorf("%s: %s: %.200s (error %v), the node says %.200s", how, calls[i], a.Result, a.Error, want[i])
		}
	}

	for i, c := range calls {
		a, _, err := send(ctx, client, target, []rpcCall{c}, false)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		check("one call", i, a[0])
	}

	answers, _, err := send(ctx, client, target, calls, true)
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	for i, a := range answers {
		check("batch", i, a)
	}

	// Many at once: several share each connection, answered out of order.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 10 {
				i := (w + r) % len(calls)
				a, _, err := send(ctx, client, target, []rpcCall{calls[i]}, false)
				if err != nil {
					t.Errorf("concurrent %s: %v", calls[i], err)
					return
				}
				check("concurrent", i, a[0])
			}
		}()
	}
	wg.Wait()

	// /status and /metrics say how the calls travel.
	st := g.Status()
	if len(st.Chains) != 1 || len(st.Chains[0].Providers) != 1 {
		t.Fatalf("status: %+v", st)
	}
	ct := st.Chains[0].Providers[0].CallTransport
	if ct.Kind != "ws" || ct.WS == nil || ct.WS.Connections != 2 || ct.WS.Live < 1 {
		t.Errorf("status callTransport %+v (ws %+v), want ws with 2 connections, at least one live", ct, ct.WS)
	}
	resp, err := http.Get("http://" + g.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`(?m)^rpcmesh_provider_ws_connections\{[^}]*provider="` + node.Name + `"[^}]*\} [12]$`).Match(body) {
		t.Errorf("/metrics has no rpcmesh_provider_ws_connections of 1 or 2 for %s", node.Name)
	}
}

// startOneNodeGateway starts a gateway of the test's own whose only
// provider is the devnet node named node (its config changed by tune), and
// returns it with a client and the chain's URL; both end with the test.
func startOneNodeGateway(t *testing.T, ctx context.Context, node string, tune func(*config.Config, *config.Provider)) (*server.Gateway, *http.Client, string) {
	t.Helper()
	cfg := gatewayConfig(dn.Info())
	ch := &cfg.Chains[0]
	var pc config.Provider
	for _, p := range ch.Providers {
		if p.Name == node {
			pc = p
		}
	}
	tune(cfg, &pc)
	ch.Providers = []config.Provider{pc}
	ch.HeadAgreement = 1
	g, err := devnetgw.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		devnetgw.Stop(g)
	})
	return g, &http.Client{Transport: tr, Timeout: 20 * time.Second}, devnetgw.URL(g)
}
