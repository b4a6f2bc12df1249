package verification

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/config"
	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestReceiptAtGenesis: on a chain still at its genesis block, go-ethereum
// answers a lookup of a transaction it has not mined with -32000
// "transaction indexing is in progress" (its index is built from the first
// block on). Through the stage a wallet polling the receipt of the
// transaction it just sent gets null, as from a node that has indexed: no
// block of the agreed chain holds a transaction yet. (-32012 "no provider
// gave an answer that could be checked" before: the first receipts of
// every chaos run.) Its own devnet: the package's shared one is past
// genesis, and this one must stay there (one-minute blocks).
func TestReceiptAtGenesis(t *testing.T) {
	if testing.Short() {
		t.Skip("devnet test skipped in -short mode")
	}
	ctx := testwait.Context(t, 50*time.Second)
	d, err := devnet.Start(ctx, devnet.Options{Nodes: 3, BlockTime: time.Minute})
	if err != nil {
		t.Fatalf("devnet: %v", err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close devnet: %v", err)
		}
	})
	v, tracker, _ := gatewayStage(t, ctx, d, config.DefaultVerify(), "node1", "node2", "node3")
	direct := directCaller(t, d)

	key := d.Keys()[0]
	chainID := new(big.Int).SetUint64(d.Info().ChainID)
	to := common.HexToAddress("0x00000000000000000000000000000000000c4a05")
	tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{ChainID: chainID, Nonce: 0, GasTipCap: big.NewInt(1e9),
		GasFeeCap: big.NewInt(50e9), Gas: 21_000, To: &to, Value: big.NewInt(1)}), types.LatestSignerForChainID(chainID), key)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	if _, err := direct.call(ctx, "eth_sendRawTransaction", verify.Params(hexBytes(raw))); err != nil {
		t.Fatalf("send: %v", err)
	}
	unknown := common.HexToHash("0x5eed00000000000000000000000000000000000000000000000000000000abcd")
	for _, c := range []struct {
		method string
		hash   common.Hash
		want   string // "null", or "pending": the pool's transaction
	}{
		{"eth_getTransactionReceipt", tx.Hash(), "null"},
		{"eth_getTransactionReceipt", unknown, "null"},
		{"eth_getTransactionByHash", unknown, "null"},
		{"eth_getTransactionByHash", tx.Hash(), "pending"},
	} {
		if agreed, ok := tracker.Latest(); !ok || agreed.Number != 0 {
			t.Fatalf("agreed head %+v, want the genesis block", agreed)
		}
		params := verify.Params(c.hash)
		// The condition itself: the node cannot tell.
		if c.want == "null" {
			_, nerr := direct.call(ctx, c.method, params)
			var je *jsonrpc.Error
			if !errors.As(nerr, &je) || je.Code != -32000 || je.Message != "transaction indexing is in progress" {
				t.Fatalf("%s %s: the node answers %v, want -32000 indexing", c.method, params, nerr)
			}
		}
		got, err := handle(ctx, v, newCall(c.method, params))
		switch {
		case err != nil:
			t.Errorf("%s %s at genesis: %v, want %s", c.method, params, err, c.want)
		case c.want == "null" && string(got) != "null":
			t.Errorf("%s %s at genesis: %s, want null", c.method, params, got)
		case c.want == "pending":
			var p struct {
				Hash      common.Hash  `json:"hash"`
				BlockHash *common.Hash `json:"blockHash"`
			}
			if json.Unmarshal(got, &p) != nil || p.Hash != tx.Hash() || p.BlockHash != nil {
				t.Errorf("%s %s at genesis: %s, want the pending transaction", c.method, params, got)
			}
		}
	}
}

// hexBytes is b as a 0x-prefixed hex string.
func hexBytes(b []byte) string { return "0x" + common.Bytes2Hex(b) }

// TestIndexingAnswer: past genesis, a node's "transaction indexing is in
// progress" is passed on as the node wrote it when every node asked said
// so (a client asks again, as of that node), and another operator's null
// settles it as null; never -32012.
func TestIndexingAnswer(t *testing.T) {
	indexing := Answer{Err: &jsonrpc.Error{Code: -32000, Message: txIndexing, Data: json.RawMessage(`"transaction indexing is in progress"`)}}
	for _, c := range []struct {
		name    string
		answers []Answer
		want    string // "null", or "" for the node's error
	}{
		{"all indexing", []Answer{indexing, indexing, indexing}, ""},
		{"indexing then null", []Answer{indexing, ok("null"), indexing}, "null"},
		{"down then indexing", []Answer{{Err: errors.New("connection refused")}, indexing, indexing}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, method := range []string{"eth_getTransactionReceipt", "eth_getTransactionByHash"} {
				f := newFake(c.answers...)
				v := New(nil, Options{Trust: verify.NewStaticTrust(), Asker: f, Latest: func() (uint64, bool) { return 7, true }})
				got, err := handle(context.Background(), v, newCall(method, verify.Params(common.Hash{1})))
				var je *jsonrpc.Error
				switch {
				case c.want == "null" && (err != nil || string(got) != "null"):
					t.Errorf("%s: %s %v, want null", method, got, err)
				case c.want == "" && (!errors.As(err, &je) || je.Code != -32000 || je.Message != txIndexing || string(je.Data) != string(indexing.Err.(*jsonrpc.Error).Data)):
					t.Errorf("%s: %s %v, want the node's -32000 %q", method, got, err, txIndexing)
				}
			}
		})
	}
}
