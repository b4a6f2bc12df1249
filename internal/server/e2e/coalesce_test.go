package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
)

// TestCoalescedCallsAgainstGeth runs a gateway whose only provider is one
// devnet node over HTTP with coalesce_above 1, and sends it single calls
// from many clients at once: the waiting ones reach go-ethereum merged into
// batch requests, and every answer must be the node's own.
func TestCoalescedCallsAgainstGeth(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	act := sharedActivity(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node := dn.Info().Nodes[0]
	g, client, target := startOneNodeGateway(t, ctx, node.Name, func(cfg *config.Config, pc *config.Provider) {
		cfg.Verify.Enabled = false
		cfg.Routing.Hedge = false
		pc.CoalesceAbove = 1
	})
	var err error
	honest := newTruth(t, node.Name)
	direct, _ := dn.DirectURL(node.Name)
	at := fmt.Sprintf("0x%x", max(headOf(t, direct), 1)-1) // a block the gateway has agreed on
	calls := []rpcCall{
		{Method: "eth_getBalance", Params: params(act.Payer, at)},
		{Method: "eth_getBalance", Params: params(act.Recipient, at)},
		{Method: "eth_getTransactionCount", Params: params(act.Deployer, at)},
		{Method: "eth_getCode", Params: params(act.Contract, at)},
		{Method: "eth_getStorageAt", Params: params(act.Contract, "0x0", at)},
		{Method: "eth_getBlockByNumber", Params: params(at, false)},
		{Method: "eth_getTransactionReceipt", Params: params(act.Txs[0])},
		{Method: "eth_call", Params: params(map[string]any{"to": act.Contract}, at)},
	}
	want := make([]json.RawMessage, len(calls))
	for i, c := range calls {
		if want[i], err = honest.get(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for r := range 12 {
				i := (w + r) % len(calls)
				a, _, err := send(ctx, client, target, []rpcCall{calls[i]}, false)
				if err != nil {
					t.Errorf("%s: %v", calls[i], err)
					return
				}
				if a[0].Error != nil || !sameJSON(a[0].Result, want[i]) {
					t.Errorf("%s: %.200s (error %v), the node says %.200s", calls[i], a[0].Result, a[0].Error, want[i])
				}
			}
		})
	}
	wg.Wait()
	co := g.Status().Chains[0].Providers[0].CallTransport.Coalesce
	if co == nil || co.Batches == 0 || co.Calls < 2*co.Batches {
		t.Errorf("coalesce status %+v: 192 calls from 16 clients at once, want some merged into batches", co)
	}
	t.Logf("coalesced: %+v", co)
}
