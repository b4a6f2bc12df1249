// Package txe2e runs the transaction path (fan-out, inclusion watch,
// censorship evidence, restart) against a real devnet with faults.
package txe2e

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/txwatch"
)

var (
	dn *devnet.Devnet
	gw *server.Gateway
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(devnetgw.RunSuite("txe2e", testing.Short(),
		func(ctx context.Context, d *devnet.Devnet) (*server.Gateway, error) {
			dn = d // startGateway reads it
			return startGateway(ctx, "")
		},
		func(d *devnet.Devnet, g *server.Gateway) int {
			gw = g
			return m.Run()
		}))
}

// startGateway runs a gateway in front of every devnet node; store is
// broadcast.store ("" for memory only).
func startGateway(ctx context.Context, store string) (*server.Gateway, error) {
	cfg := devnetgw.Config(dn.Info(), "127.0.0.1:0", "")
	cfg.Health.ProviderTimeout = config.Duration(5 * time.Second) // tolerant of a loaded CI machine
	cfg.Broadcast.WatchInterval = config.Duration(250 * time.Millisecond)
	cfg.Broadcast.RebroadcastBlocks = 2
	cfg.Broadcast.Store = store
	for i := range cfg.Chains[0].Providers {
		cfg.Chains[0].Providers[i].WS = "" // heads by polling: these tests are about sending
	}
	cfg.Complete()
	return devnetgw.Start(ctx, cfg, devnetgw.SuiteLogger())
}

func closeGateway(g *server.Gateway) { devnetgw.Stop(g) }

// rpcError is a JSON-RPC error answer.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("error %d: %s %s", e.Code, e.Message, e.Data) }

var client = &http.Client{Timeout: 15 * time.Second}

// call sends one JSON-RPC call through gateway g and decodes the result into out.
func call(g *server.Gateway, out any, method string, params ...any) error {
	p, _ := json.Marshal(params)
	a, err := devnetgw.Call(context.Background(), client, devnetgw.URL(g), method, string(p))
	if err != nil {
		return err
	}
	if a.Error != nil {
		var e rpcError
		if err := json.Unmarshal(a.Error, &e); err != nil {
			return fmt.Errorf("%s: error %s", method, a.Error)
		}
		return &e
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(a.Result, out)
}

// direct is a client of a devnet node without its fault proxy.
func direct(t *testing.T, name string) *ethclient.Client {
	t.Helper()
	u, ok := dn.DirectURL(name)
	if !ok {
		t.Fatalf("no node %s", name)
	}
	c, err := ethclient.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// pendingNonce asks gateway g for the account's "pending" nonce.
func pendingNonce(t *testing.T, g *server.Gateway, key *ecdsa.PrivateKey) uint64 {
	t.Helper()
	var n hexutil.Uint64
	if err := call(g, &n, "eth_getTransactionCount", crypto.PubkeyToAddress(key.PublicKey), "pending"); err != nil {
		t.Fatal(err)
	}
	return uint64(n)
}

// send sends tx through gateway g and checks the answer is its hash.
func send(t *testing.T, g *server.Gateway, tx *types.Transaction) {
	t.Helper()
	raw, _ := tx.MarshalBinary()
	var h common.Hash
	if err := call(g, &h, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil {
		t.Fatalf("send: %v", err)
	}
	if h != tx.Hash() {
		t.Fatalf("answered hash %s, want %s", h, tx.Hash())
	}
}

// status asks gateway g for rpcmesh_transactionStatus.
func status(t *testing.T, g *server.Gateway, h common.Hash) txwatch.Entry {
	t.Helper()
	var e txwatch.Entry
	if err := call(g, &e, "rpcmesh_transactionStatus", h); err != nil {
		t.Fatal(err)
	}
	return e
}

// waitIncluded waits until gateway g reports the transaction included.
func waitIncluded(t *testing.T, ctx context.Context, g *server.Gateway, h common.Hash) txwatch.Entry {
	t.Helper()
	var e txwatch.Entry
	if err := testwait.Until(ctx, "inclusion of "+h.Hex(), func() bool {
		e = status(t, g, h)
		return e.State == txwatch.StateIncluded
	}); err != nil {
		t.Fatalf("%v; last status %+v", err, e)
	}
	return e
}

func setFault(t *testing.T, target string, kind devnet.FaultKind) {
	t.Helper()
	dn.Stage(t, devnet.FaultSpec{Target: target, Kind: kind})
}

// requests is how many calls the gateway sent each provider (health
// checks not counted).
func requests(g *server.Gateway) map[string]uint64 {
	out := map[string]uint64{}
	for _, p := range g.Status().Chains[0].Providers {
		out[p.Name] = p.Requests
	}
	return out
}

// waitUsable waits until every provider of the shared gateway is usable.
func waitUsable(t *testing.T) {
	t.Helper()
	ctx := testwait.Context(t, 20*time.Second)
	if err := testwait.Until(ctx, "providers usable", func() bool {
		for _, p := range gw.Status().Chains[0].Providers {
			if p.State != "ok" {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
}
