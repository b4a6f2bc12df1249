package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
)

// TestBatchWavesAgainstGeth runs a gateway without verification (so a
// batch's waves walk the pipeline whole and their reads reach a node as one
// upstream batch) in front of every devnet node, and sends one mixed batch
// over HTTP and over WebSocket: every answer must be the node's own, in its
// place, the local and refused calls answered by the gateway.
func TestBatchWavesAgainstGeth(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	act := sharedActivity(t)
	cfg := gatewayConfig(dn.Info())
	cfg.Verify.Enabled = false
	cfg.Limits.BatchConcurrency = 4 // three waves for the batch below
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g, err := devnetgw.Start(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		devnetgw.Stop(g)
	})
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	node := dn.Info().Nodes[0].Name
	honest := newTruth(t, node)
	direct, _ := dn.DirectURL(node)
	blk := fmt.Sprintf("0x%x", max(headOf(t, direct), 1)-1) // a block every node has
	first, last := act.Blocks[0], act.Blocks[len(act.Blocks)-1]
	calls := []rpcCall{
		{Method: "eth_getBalance", Params: params(act.Payer, blk)},
		{Method: "eth_getCode", Params: params(act.Contract, blk)},
		{Method: "eth_getStorageAt", Params: params(act.Contract, "0x0", blk)},
		{Method: "eth_getTransactionCount", Params: params(act.Deployer, blk)},
		{Method: "eth_getBlockByNumber", Params: params(blk, false)},
		{Method: "eth_getTransactionReceipt", Params: params(act.Txs[1])},
		{Method: "eth_getLogs", Params: params(map[string]any{"fromBlock": fmt.Sprintf("0x%x", first), "toBlock": fmt.Sprintf("0x%x", last), "address": act.Contract})},
		{Method: "eth_getBalance", Params: params(act.Recipient, blk)},
		{Method: "eth_getTransactionByHash", Params: params(act.Txs[0])},
		{Method: "eth_getBlockByNumber", Params: params(fmt.Sprintf("0x%x", first), true)},
	}
	want := make([]json.RawMessage, len(calls))
	for i, c := range calls {
		if want[i], err = honest.get(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	// The gateway's own: eth_chainId answered locally, a refused method, a
	// block param that is not one.
	local := []rpcCall{
		{Method: "eth_chainId", Params: json.RawMessage(`[]`)},
		{Method: "admin_peers", Params: json.RawMessage(`[]`)},
		{Method: "eth_getBalance", Params: params(act.Payer, "someday")},
	}
	all := append(append([]rpcCall{}, calls...), local...)
	check := func(how string, answers []rpcAnswer) {
		t.Helper()
		if len(answers) != len(all) {
			t.Fatalf("%s: %d answers for %d calls", how, len(answers), len(all))
		}
		for i, a := range answers[:len(calls)] {
			if a.Error != nil || !sameJSON(a.Result, want[i]) {
				t.Errorf("%s: %s: %.200s (error %v), the node says %.200s", how, calls[i], a.Result, a.Error, want[i])
			}
		}
		chainID := answers[len(calls)]
		if chainID.Error != nil || string(chainID.Result) != fmt.Sprintf(`"0x%x"`, dn.Info().ChainID) {
			t.Errorf("%s: eth_chainId: %s %v", how, chainID.Result, chainID.Error)
		}
		if e := answers[len(calls)+1].Error; e == nil || e.Code != -32601 {
			t.Errorf("%s: admin_peers: %+v", how, answers[len(calls)+1])
		}
		if e := answers[len(calls)+2].Error; e == nil || e.Code != -32602 {
			t.Errorf("%s: a bad block param: %+v", how, answers[len(calls)+2])
		}
	}

	answers, _, err := send(ctx, client, devnetgw.URL(g), all, true)
	if err != nil {
		t.Fatalf("HTTP batch: %v", err)
	}
	check("HTTP batch", answers)

	ws := devnetgw.DialWS(ctx, t, devnetgw.WSURL(g), nil)
	items := make([]string, len(all))
	for i, c := range all {
		items[i] = fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, i, c.Method, c.Params)
	}
	_ = ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("["+strings.Join(items, ",")+"]")); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var wsAnswers []rpcAnswer
	if err := json.Unmarshal(msg, &wsAnswers); err != nil {
		t.Fatalf("WS batch: %v: %.300s", err, msg)
	}
	for i, a := range wsAnswers {
		if a.ID != i {
			t.Fatalf("WS batch: answer %d has id %d", i, a.ID)
		}
	}
	check("WS batch", wsAnswers)
}
