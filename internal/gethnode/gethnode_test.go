package gethnode

import (
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rpc"
)

// TestNodeServesWhatGethServes: a node built by New answers on its HTTP
// and WebSocket endpoints, with the APIs eth.New alone does not register
// (log filters, the native tracers) beside eth's own; Close stops it.
func TestNodeServesWhatGethServes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a go-ethereum node; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := Config("rpcmesh-gethnode-test", []string{"eth", "debug", "net"})
	cfg.P2P = p2p.Config{NoDial: true, NoDiscovery: true}
	genesis := &core.Genesis{Config: params.AllDevChainProtocolChanges, GasLimit: 30_000_000, BaseFee: big.NewInt(params.InitialBaseFee), Difficulty: big.NewInt(0)}
	ecfg := ethconfig.Defaults
	ecfg.Genesis = genesis
	ecfg.NetworkId = genesis.Config.ChainID.Uint64()
	n, err := New("test", &cfg, &ecfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if n.Name() != "test" {
		t.Errorf("Name() = %q", n.Name())
	}
	for _, url := range []string{n.URL(), n.WSURL()} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) {
			c, err := rpc.DialContext(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var chainID string
			if err := c.CallContext(ctx, &chainID, "eth_chainId"); err != nil {
				t.Fatal(err)
			}
			if want := "0x" + genesis.Config.ChainID.Text(16); chainID != want {
				t.Errorf("eth_chainId = %s, want %s", chainID, want)
			}
			var filter string
			if err := c.CallContext(ctx, &filter, "eth_newBlockFilter"); err != nil {
				t.Errorf("log filter API: %v", err)
			}
			var trace map[string]any
			call := map[string]any{"to": "0x0000000000000000000000000000000000000001", "data": "0x"}
			if err := c.CallContext(ctx, &trace, "debug_traceCall", call, "latest", map[string]any{"tracer": "callTracer"}); err != nil {
				t.Errorf("native callTracer: %v", err)
			} else if trace["type"] != "CALL" {
				t.Errorf("callTracer answered %v, want a CALL frame", trace)
			}
		})
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := rpc.DialContext(ctx, n.URL())
	if err == nil {
		var s string
		err = c.CallContext(ctx, &s, "eth_chainId")
		c.Close()
	}
	if err == nil {
		t.Fatal("the node still answers after Close")
	}
}
