package verification

import (
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// TestRebuiltAnswersByteEqual: every answer the stage rebuilds from
// verified data is, byte for byte, what go-ethereum answers.
func TestRebuiltAnswersByteEqual(t *testing.T) {
	d, act := sharedDevnet(t)
	ctx := testwait.Context(t, 2*time.Minute)
	h := newHarness(t, d)
	p := verify.Params
	var reqs []request
	for i, n := range act.Blocks {
		num := hexutil.EncodeUint64(n)
		reqs = append(reqs,
			request{"eth_getBlockByNumber", p(num, false)},
			request{"eth_getBlockByNumber", p(num, true)},
			request{"eth_getBlockReceipts", p(num)},
			request{"eth_getBalance", p(act.Accounts()[i%len(act.Accounts())], num)},
			request{"eth_getTransactionCount", p(act.Accounts()[i%len(act.Accounts())], num)},
		)
	}
	last := hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1])
	for _, tx := range act.Txs {
		reqs = append(reqs, request{"eth_getTransactionByHash", p(tx)}, request{"eth_getTransactionReceipt", p(tx)})
	}
	reqs = append(reqs,
		request{"eth_getCode", p(act.Contract, last)},
		request{"eth_getStorageAt", p(act.Contract, "0x0", last)},
		request{"eth_getStorageAt", p(act.Contract, "0x00", last)},
		request{"eth_getProof", p(act.Contract, []string{"0x0", "0x00", "0x1", "0x0000000000000000000000000000000000000000000000000000000000000001"}, last)},
		request{"eth_getProof", p(act.Accounts()[0], []string{}, last)},
		request{"eth_getLogs", p(map[string]any{"fromBlock": hexutil.EncodeUint64(act.Blocks[0]), "toBlock": last})},
	)
	for _, r := range reqs {
		got, err := handle(ctx, h.v, newCall(r.method, r.params))
		want, werr := h.direct.call(ctx, r.method, r.params)
		if err != nil || werr != nil {
			t.Errorf("%s %s: %v; the node: %v", r.method, r.params, err, werr)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s %s:\n got  %.400s\n node %.400s", r.method, r.params, got, want)
		}
	}
}
