package devnet

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestPruneFault: a pruned node answers state reads at old blocks with
// geth's "historical state … is not available" (-32000), over HTTP and
// WebSocket, by number, tag and hash, while recent state, old blocks and
// the node itself behind its proxy keep answering; cleared, old state is
// back.
func TestPruneFault(t *testing.T) {
	const keep = 2
	waitHeight(t, keep+4)
	f := stage(t, "node2", FaultPrune, `{"keep": 2}`)
	n, _ := dn.Node("node2")
	direct, _ := dn.DirectURL("node2")
	addr := dn.Info().Accounts[0].Address
	for _, url := range []string{n.HTTP, n.WS} {
		ctx := testwait.Context(t, 30*time.Second)
		c, err := rpc.DialContext(ctx, url)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		t.Cleanup(c.Close)
		var head hexutil.Uint64
		if err := c.CallContext(ctx, &head, "eth_blockNumber"); err != nil {
			t.Fatal(err)
		}
		var block1 struct {
			Hash string `json:"hash"`
		}
		if err := c.CallContext(ctx, &block1, "eth_getBlockByNumber", "0x1", false); err != nil || block1.Hash == "" {
			t.Fatalf("%s: an old block stays available on a pruned node: %v", url, err)
		}
		old := []struct {
			method string
			args   []any
		}{
			{"eth_getBalance", []any{addr, "0x1"}},
			{"eth_getBalance", []any{addr, "earliest"}},
			{"eth_getTransactionCount", []any{addr, map[string]any{"blockHash": block1.Hash}}},
			{"eth_getProof", []any{addr, []string{}, "0x1"}},
			{"eth_getStorageAt", []any{addr, "0x0", "0x1"}},
			{"eth_call", []any{map[string]any{"to": addr}, "0x1"}},
		}
		for _, tc := range old {
			var out any
			err := c.CallContext(ctx, &out, tc.method, tc.args...)
			if err == nil || !strings.Contains(err.Error(), "historical state") || !strings.Contains(err.Error(), "is not available") {
				t.Errorf("%s %s%v: got %v (%v), want geth's pruned answer", url, tc.method, tc.args, out, err)
			}
			if e, ok := err.(rpc.Error); !ok || e.ErrorCode() != -32000 {
				t.Errorf("%s %s: error %v is not code -32000", url, tc.method, err)
			}
		}
		var bal hexutil.Big
		if err := c.CallContext(ctx, &bal, "eth_getBalance", addr, "latest"); err != nil {
			t.Errorf("%s: latest state on a pruned node: %v", url, err)
		}
		if err := c.CallContext(ctx, &bal, "eth_getBalance", addr, hexutil.Uint64(head)); err != nil {
			t.Errorf("%s: state at the head on a pruned node: %v", url, err)
		}
	}
	if err := dn.ClearFault(f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dial(t, n.HTTP).BalanceAt(testwait.Context(t, 10*time.Second), keyAddr(dn.Keys()[0]), big.NewInt(1)); err != nil {
		t.Errorf("old state once the prune fault is cleared: %v", err)
	}
	dc := dial(t, direct)
	if _, err := dc.BalanceAt(testwait.Context(t, 10*time.Second), keyAddr(dn.Keys()[0]), big.NewInt(1)); err != nil {
		t.Errorf("the node behind the proxy is an archive node: %v", err)
	}
}
