package devnet

import (
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
)

// stateBlockParam is where each state-reading method takes its block
// param: the calls a pruned node cannot answer for old blocks.
var stateBlockParam = map[string]int{
	"eth_getBalance":          1,
	"eth_getTransactionCount": 1,
	"eth_getCode":             1,
	"eth_getStorageAt":        2,
	"eth_getProof":            2,
	"eth_call":                1,
	"eth_estimateGas":         1,
	"eth_createAccessList":    1,
	"debug_traceCall":         1,
}

// pruner answers state reads at blocks more than keep below the node's
// own head the way a pruned geth (path scheme, its default) does: JSON-RPC
// error -32000 "historical state <root> is not available". The node's
// blocks and headers stay: only state is gone, as on a real full node.
type pruner struct {
	keep  uint64
	chain *core.BlockChain
}

// prunerOf is the pruner of a node given one more prune fault: the
// smallest keep wins.
func prunerOf(old *pruner, keep uint64, chain *core.BlockChain) *pruner {
	if old != nil && old.keep <= keep {
		return old
	}
	return &pruner{keep: keep, chain: chain}
}

// reply is the pruned node's answer to m, or nil when the node answers it
// itself (not a state read, a recent block, a block it does not know).
func (p *pruner) reply(m *rpcMsg) *rpcMsg {
	if p == nil || isNotification(m) {
		return nil
	}
	idx, ok := stateBlockParam[m.Method]
	if !ok {
		return nil
	}
	var params []json.RawMessage
	if json.Unmarshal(m.Params, &params) != nil || len(params) <= idx {
		return nil // malformed, or no block param (latest): the node answers
	}
	var ref rpc.BlockNumberOrHash
	if json.Unmarshal(params[idx], &ref) != nil {
		return nil
	}
	h := p.header(ref)
	head := p.chain.CurrentBlock()
	if h == nil || head == nil || h.Number.Uint64()+p.keep >= head.Number.Uint64() {
		return nil
	}
	return errorReply(m.ID, -32000, fmt.Sprintf("historical state %x is not available", h.Root))
}

// header is the block ref names, as the node resolves it (nil: unknown,
// pending, or the head itself).
func (p *pruner) header(ref rpc.BlockNumberOrHash) *types.Header {
	if hash, ok := ref.Hash(); ok {
		return p.chain.GetHeaderByHash(hash)
	}
	n, _ := ref.Number()
	switch n {
	case rpc.LatestBlockNumber, rpc.PendingBlockNumber:
		return nil
	case rpc.SafeBlockNumber:
		return p.chain.CurrentSafeBlock()
	case rpc.FinalizedBlockNumber:
		return p.chain.CurrentFinalBlock()
	case rpc.EarliestBlockNumber:
		return p.chain.GetHeaderByNumber(0)
	}
	if n < 0 {
		return nil
	}
	return p.chain.GetHeaderByNumber(uint64(n))
}
