package verification

import (
	"context"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// depositBlock is an OP-stack block answer holding a deposit transaction
// (type 0x7e), as op-geth serves it: its header hashes, its transaction
// is one go-ethereum cannot decode.
func depositBlock(t *testing.T) (*types.Header, json.RawMessage) {
	t.Helper()
	h := &types.Header{Number: big.NewInt(5), Difficulty: big.NewInt(0), GasLimit: 30_000_000, GasUsed: 46_000, Time: 1_700_000_000,
		BaseFee: big.NewInt(7), UncleHash: types.EmptyUncleHash, ReceiptHash: common.HexToHash("0x01"),
		TxHash: common.HexToHash("0x5d1c4e2f2b5d0c9c3f5a2c7f1e8b9a0d6e4c3b2a1908f7e6d5c4b3a291807f6e")}
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	deposit := map[string]any{
		"type": "0x7e", "sourceHash": "0x" + strings.Repeat("ab", 32), "from": "0xdeaddeaddeaddeaddeaddeaddeaddeaddead0001",
		"to": "0x4200000000000000000000000000000000000015", "mint": "0x0", "value": "0x0", "gas": "0xf4240",
		"isSystemTx": false, "input": "0x440a5e20", "hash": "0x" + strings.Repeat("cd", 32), "nonce": "0x1",
		"blockHash": h.Hash(), "blockNumber": "0x5", "transactionIndex": "0x0", "gasPrice": "0x0",
		"v": "0x0", "r": "0x0", "s": "0x0",
	}
	m["transactions"], m["uncles"], m["size"] = []any{deposit}, []any{}, "0x400"
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return h, out
}

// TestL2TransactionTypes: a block with a transaction type go-ethereum does
// not decode is not a lie: it is settled by quorum of the operators that
// serve it, labelled so, and nobody is blamed.
func TestL2TransactionTypes(t *testing.T) {
	h, block := depositBlock(t)
	f := newFake(ok(string(block)), ok(string(block)))
	ev := verify.NewEvidenceLog(8)
	v := New(nil, Options{Asker: f, Trust: verify.NewStaticTrust(h), Evidence: ev, Latest: func() (uint64, bool) { return 5, true }})
	c := newCall("eth_getBlockByNumber", json.RawMessage(`["0x5",true]`))
	got, err := handle(context.Background(), v, c)
	rep := c.Report
	if err != nil || canonical(got) != canonical(block) {
		t.Fatalf("got %.200s %v", got, err)
	}
	if rep.Class() != pipeline.ClassQuorum || !strings.Contains(rep.Note(), "0x7e") {
		t.Errorf("report %q, want quorum saying why", rep.Header())
	}
	if n := ev.Total(); n != 0 {
		t.Errorf("%d providers blamed for an honest L2 block: %+v", n, ev.Recent(0))
	}
}
