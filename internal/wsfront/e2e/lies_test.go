package e2e

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/rpcmesh/rpcmesh/internal/devnet"
	"github.com/rpcmesh/rpcmesh/internal/devnetgw"
	"github.com/rpcmesh/rpcmesh/internal/testwait"
)

// TestLyingProvidersCannotFeedSubscriptions: three of five nodes tamper
// with logs, receipts and block hashes. The logs subscription still gets
// exactly the honest chain's logs (derived from receipts proven against
// receiptsRoot) and newHeads only headers whose hashes the honest nodes
// have.
func TestLyingProvidersCannotFeedSubscriptions(t *testing.T) {
	devnetgw.AwaitHealthy(t, gw)
	ctx := testwait.Context(t, 60*time.Second)
	nodes := dn.Info().Nodes
	honestURL, _ := dn.DirectURL(nodes[4].Name)
	honest, err := ethclient.DialContext(ctx, honestURL)
	if err != nil {
		t.Fatal(err)
	}
	defer honest.Close()
	key := dn.Keys()[7]
	contract, nonce := deployLogContract(t, ctx, honest, key)

	for _, n := range nodes[:3] {
		dn.Stage(t, devnet.FaultSpec{Target: n.Name, Kind: devnet.FaultLie, Params: json.RawMessage(`{"what":["log","receipt","blockhash"]}`)})
	}

	c := dialWS(t)
	_, headsCh := c.subscribe(t, ctx, `["newHeads"]`)
	_, logsCh := c.subscribe(t, ctx, `["logs",{"address":"`+strings.ToLower(contract.Hex())+`"}]`)
	const calls = 6
	sent := map[common.Hash]bool{}
	for i := range calls {
		tx := signTx(t, key, nonce, &contract, common.LeftPadBytes(big.NewInt(int64(1000+i)).Bytes(), 32), 100000)
		if err := honest.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		sent[tx.Hash()] = true
		nonce++
	}

	type logMsg struct {
		TxHash    common.Hash   `json:"transactionHash"`
		BlockHash common.Hash   `json:"blockHash"`
		Data      hexutil.Bytes `json:"data"`
		Topics    []common.Hash `json:"topics"`
		Removed   bool          `json:"removed"`
		LogIndex  hexutil.Uint  `json:"logIndex"`
	}
	got := 0
	heads := 0
	for got < calls {
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d logs arrived", got, calls)
		case raw := <-headsCh:
			var h struct {
				Number hexutil.Uint64 `json:"number"`
				Hash   common.Hash    `json:"hash"`
			}
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			want, err := honest.HeaderByNumber(ctx, new(big.Int).SetUint64(uint64(h.Number)))
			if err != nil || want.Hash() != h.Hash {
				t.Fatalf("newHeads sent block %d as %s; the honest node has %v (%v)", h.Number, h.Hash, want, err)
			}
			heads++
		case raw := <-logsCh:
			var l logMsg
			if err := json.Unmarshal(raw, &l); err != nil {
				t.Fatal(err)
			}
			if l.Removed || !sent[l.TxHash] {
				continue // a log of the deploy, or of an earlier test
			}
			r, err := honest.TransactionReceipt(ctx, l.TxHash)
			if err != nil || len(r.Logs) != 1 {
				t.Fatalf("honest receipt of %s: %v %v", l.TxHash, r, err)
			}
			want := r.Logs[0]
			if l.BlockHash != want.BlockHash || string(l.Data) != string(want.Data) || len(l.Topics) != len(want.Topics) || uint(l.LogIndex) != want.Index {
				t.Fatalf("log of %s: got data %x in block %s, the honest node has data %x in block %s", l.TxHash, l.Data, l.BlockHash, want.Data, want.BlockHash)
			}
			got++
		}
	}
	rec := gw.Status()
	penalised := 0
	for _, p := range rec.Chains[0].Providers {
		if p.Penalty > 0 {
			penalised++
		}
	}
	t.Logf("%d logs and %d heads through three lying providers, all honest; %d providers penalised", got, heads, penalised)
	if penalised == 0 {
		t.Error("no liar penalised")
	}
}
