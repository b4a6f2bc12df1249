// Package e2e tests the gateway's filters (eth_newFilter & co.) against a
// real devnet of go-ethereum nodes, through a running gateway, with faults.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/server"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

var (
	dn  *devnet.Devnet
	gw  *server.Gateway
	url string // the gateway's HTTP endpoint for the devnet chain
)

func TestMain(m *testing.M) {
	gatewayConfig := func(info devnet.Info) *config.Config { return devnetgw.Config(info, "127.0.0.1:0", "") }
	devnetgw.Main(m, "filters e2e", gatewayConfig, func(d *devnet.Devnet, g *server.Gateway) {
		dn, gw, url = d, g, devnetgw.URL(g)
	})
}

// startGateway starts a second gateway in front of the devnet with edit
// applied to its config; it is stopped when the test ends.
func startGateway(t *testing.T, edit func(*config.Config)) string {
	t.Helper()
	cfg := devnetgw.Config(dn.Info(), "127.0.0.1:0", "")
	edit(cfg)
	g := devnetgw.StartForTest(testwait.Context(t, 60*time.Second), t, cfg)
	return devnetgw.URL(g)
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// client sends JSON-RPC over HTTP from one local address.
type client struct{ http *http.Client }

// from returns a client whose connections come from local IP ip ("" any).
func from(ip string) *client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	return &client{http: &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}}
}

var anyClient = from("")

// raw posts one call and returns the whole response body.
func (c *client) raw(ctx context.Context, endpoint, method, params string) ([]byte, error) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":%s}`, method, params)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewBufferString(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// call posts one call and returns its result, or its error (*rpcError for
// a JSON-RPC error).
func (c *client) call(ctx context.Context, endpoint, method, params string) (json.RawMessage, error) {
	b, err := c.raw(ctx, endpoint, method, params)
	if err != nil {
		return nil, err
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *rpcError       `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", method, err, b)
	}
	if r.Error != nil {
		return nil, r.Error
	}
	return r.Result, nil
}

// must is call that fails the test on an error.
func must(t *testing.T, ctx context.Context, endpoint, method, params string) json.RawMessage {
	t.Helper()
	res, err := anyClient.call(ctx, endpoint, method, params)
	if err != nil {
		t.Fatalf("%s %s: %v", method, params, err)
	}
	return res
}

// newFilter installs a filter and returns its ID.
func newFilter(t *testing.T, ctx context.Context, endpoint, method, params string) string {
	t.Helper()
	var id string
	if err := json.Unmarshal(must(t, ctx, endpoint, method, params), &id); err != nil || id == "" {
		t.Fatalf("%s: filter ID: %v", method, err)
	}
	return id
}

// directURL is the URL of node i without its fault proxy.
func directURL(t *testing.T, i int) string {
	t.Helper()
	u, ok := dn.DirectURL(dn.Info().Nodes[i].Name)
	if !ok {
		t.Fatal("no direct URL")
	}
	return u
}

// logContractInit deploys a contract that, on any call, emits LOG1(0xaa)
// with the calldata (as in internal/devnet's tests).
var logContractInit = common.FromHex("603280600b6000396000f3" +
	"366000600037" + "600035600055" + "7f" + "00000000000000000000000000000000000000000000000000000000000000aa" + "366000a1" + "00")

// emitter sends transactions to a log contract from one key, to a node directly.
type emitter struct {
	ec       *ethclient.Client
	key      *ecdsa.PrivateKey
	nonce    uint64
	contract common.Address
	deployed uint64 // the deploy's block
}

// newEmitter deploys a log contract with devnet key k through node 1.
func newEmitter(t *testing.T, ctx context.Context, k int) *emitter {
	t.Helper()
	ec, err := ethclient.DialContext(ctx, directURL(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ec.Close)
	e := &emitter{ec: ec, key: dn.Keys()[k]}
	if e.nonce, err = ec.PendingNonceAt(ctx, crypto.PubkeyToAddress(e.key.PublicKey)); err != nil {
		t.Fatal(err)
	}
	tx := e.send(t, ctx, nil, logContractInit, 200000)
	r := e.receipt(t, ctx, tx.Hash())
	if r.Status != 1 {
		t.Fatalf("deploy failed: %+v", r)
	}
	e.contract, e.deployed = r.ContractAddress, r.BlockNumber.Uint64()
	return e
}

// sign signs a call of the contract with the next nonce, which it takes.
func (e *emitter) sign(t *testing.T, i int) *types.Transaction {
	t.Helper()
	id := new(big.Int).SetUint64(dn.Info().ChainID)
	tx, err := types.SignNewTx(e.key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{
		ChainID: id, Nonce: e.nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
		Gas: 100000, To: &e.contract, Value: big.NewInt(0), Data: common.LeftPadBytes(big.NewInt(int64(i)).Bytes(), 32),
	})
	if err != nil {
		t.Fatalf("sign tx: %v", err)
	}
	e.nonce++
	return tx
}

// send signs and sends one transaction.
func (e *emitter) send(t *testing.T, ctx context.Context, to *common.Address, data []byte, gas uint64) *types.Transaction {
	t.Helper()
	id := new(big.Int).SetUint64(dn.Info().ChainID)
	tx, err := types.SignNewTx(e.key, types.LatestSignerForChainID(id), &types.DynamicFeeTx{
		ChainID: id, Nonce: e.nonce, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei),
		Gas: gas, To: to, Value: big.NewInt(0), Data: data,
	})
	if err != nil {
		t.Fatalf("sign tx: %v", err)
	}
	if err := e.ec.SendTransaction(ctx, tx); err != nil {
		t.Fatalf("send tx: %v", err)
	}
	e.nonce++
	return tx
}

// emit calls the contract once: one log with i as its data.
func (e *emitter) emit(t *testing.T, ctx context.Context, i int) *types.Transaction {
	t.Helper()
	return e.send(t, ctx, &e.contract, common.LeftPadBytes(big.NewInt(int64(i)).Bytes(), 32), 100000)
}

// receipt waits (bounded by ctx) for a transaction's receipt.
func (e *emitter) receipt(t *testing.T, ctx context.Context, h common.Hash) *types.Receipt {
	t.Helper()
	var r *types.Receipt
	if err := testwait.Until(ctx, "the receipt of "+h.Hex(), func() bool {
		var err error
		r, err = e.ec.TransactionReceipt(ctx, h)
		return err == nil
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// logSeen is a log as eth_getFilterChanges returns it.
type logSeen struct {
	BlockHash   string `json:"blockHash"`
	BlockNumber string `json:"blockNumber"`
	TxHash      string `json:"transactionHash"`
	Data        string `json:"data"`
	Removed     bool   `json:"removed"`
}

// waitBlocks waits (bounded by ctx) until the gateway's head is n blocks past where it is now.
func waitBlocks(t *testing.T, ctx context.Context, endpoint string, n uint64) {
	t.Helper()
	start := blockNumber(t, ctx, endpoint)
	if err := testwait.Until(ctx, fmt.Sprintf("the head %d blocks past %d", n, start), func() bool {
		return blockNumber(t, ctx, endpoint) >= start+n
	}); err != nil {
		t.Fatal(err)
	}
}

func blockNumber(t *testing.T, ctx context.Context, endpoint string) uint64 {
	t.Helper()
	var s string
	_ = json.Unmarshal(must(t, ctx, endpoint, "eth_blockNumber", `[]`), &s)
	n, ok := new(big.Int).SetString(s[2:], 16)
	if !ok {
		t.Fatalf("block number %q", s)
	}
	return n.Uint64()
}
