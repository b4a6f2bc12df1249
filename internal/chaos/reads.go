package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// pinDepth is how far below the head pinned reads ask: deeper than any
// reorg the matrix stages, so the honest node's answer for the block
// number is the answer for the block the gateway read.
const pinDepth = 4

// confirmFor bounds how long a check waits for the honest node to see what
// the gateway saw (a block the gateway learned of first).
const confirmFor = 3 * time.Second

// maxRounds bounds one client's calls in one run (about 14 hours of
// traffic at the default pace): every loop is bounded in count too.
const maxRounds = 1_000_000

// read is one reading client: it cycles through the read kinds, one call
// (or batch) every Interval, until ctx ends.
func (t *Traffic) read(ctx context.Context, worker int) {
	ops := []func(context.Context, int){
		t.blockNumber, t.pinnedBalance, t.latestBlock, t.pinnedNonce,
		t.pinnedBlock, t.latestBalance, t.batchRead, t.chainID,
	}
	for i := worker; i < worker+maxRounds && ctx.Err() == nil; i++ {
		ops[i%len(ops)](ctx, i)
		if !pause.For(ctx, t.opts.Interval) {
			return
		}
	}
}

// pin is the block pinned reads ask for: pinDepth below the lower of the
// gateway's agreed head and the chain's head.
func (t *Traffic) pin() (uint64, bool) {
	canon, _ := t.env.Devnet.Head()
	head := canon
	for _, c := range t.env.Source.Snapshot().Chains {
		head = min(head, c.Head)
	}
	if head <= pinDepth {
		return 0, false
	}
	return head - pinDepth, true
}

func (t *Traffic) account(i int) common.Address { return t.accts[i%len(t.accts)] }

// honestCall asks the honest node directly.
func (t *Traffic) honestCall(ctx context.Context, result any, method string, args ...any) error {
	r := t.ref.Load()
	cctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	if err := r.c.CallContext(cctx, result, method, args...); err != nil {
		return fmt.Errorf("honest node %s: %w", r.name, err)
	}
	return nil
}

// compare checks a pinned answer against the honest node's.
func (t *Traffic) compare(ctx context.Context, got json.RawMessage, what, method string, args ...any) {
	var want json.RawMessage
	if err := t.honestCall(ctx, &want, method, args...); err != nil {
		return // the reference could not answer: nothing to check against
	}
	if !sameJSON(got, want) {
		t.wrong("%s: gateway %s, honest node %s", what, clip(got), clip(want))
	}
}

func (t *Traffic) pinned(ctx context.Context, what, method string, args ...any) {
	var got json.RawMessage
	if t.call(ctx, &got, what, method, args...) {
		t.compare(ctx, got, what, method, args...)
	}
}

func (t *Traffic) pinnedBalance(ctx context.Context, i int) {
	if n, ok := t.pin(); ok {
		a := t.account(i)
		t.pinned(ctx, "eth_getBalance "+a.Hex()+" at "+fmt.Sprint(n), "eth_getBalance", a, hexutil.Uint64(n))
	}
}

func (t *Traffic) pinnedNonce(ctx context.Context, i int) {
	if n, ok := t.pin(); ok {
		a := t.account(i)
		t.pinned(ctx, "eth_getTransactionCount at "+fmt.Sprint(n), "eth_getTransactionCount", a, hexutil.Uint64(n))
	}
}

func (t *Traffic) pinnedBlock(ctx context.Context, _ int) {
	if n, ok := t.pin(); ok {
		t.pinned(ctx, "eth_getBlockByNumber "+fmt.Sprint(n), "eth_getBlockByNumber", hexutil.Uint64(n), false)
	}
}

func (t *Traffic) chainID(ctx context.Context, _ int) {
	t.pinned(ctx, "eth_chainId", "eth_chainId")
}

// latestBalance: a funded account's balance is never zero; a zero is the
// misleading answer users saw in outages.
func (t *Traffic) latestBalance(ctx context.Context, i int) {
	var got hexutil.Big
	a := t.account(i)
	if t.call(ctx, &got, "eth_getBalance latest", "eth_getBalance", a, "latest") && got.ToInt().Sign() == 0 {
		t.wrong("eth_getBalance %s latest: a zero balance for a funded account", a.Hex())
	}
}

// blockNumber: never ahead of the chain.
func (t *Traffic) blockNumber(ctx context.Context, _ int) {
	var got hexutil.Uint64
	if t.call(ctx, &got, "eth_blockNumber", "eth_blockNumber") {
		t.notAhead(uint64(got), "eth_blockNumber")
	}
}

// notAhead counts a head number the chain has not reached as wrong.
func (t *Traffic) notAhead(n uint64, what string) {
	if canon, _ := t.env.Devnet.Head(); n > canon+2 {
		t.wrong("%s: block %d, the chain is at %d", what, n, canon)
	}
}

// latestBlock: the latest block must be a block the honest node knows.
func (t *Traffic) latestBlock(ctx context.Context, _ int) {
	var got struct {
		Number hexutil.Uint64 `json:"number"`
		Hash   common.Hash    `json:"hash"`
	}
	if t.call(ctx, &got, "eth_getBlockByNumber latest", "eth_getBlockByNumber", "latest", false) {
		t.notAhead(uint64(got.Number), "eth_getBlockByNumber latest")
		t.knownBlock(ctx, got.Hash, uint64(got.Number), "eth_getBlockByNumber latest")
	}
}

// knownBlock counts a block hash the honest node never saw as wrong,
// waiting (bounded) for the honest node to import it.
func (t *Traffic) knownBlock(ctx context.Context, hash common.Hash, n uint64, what string) {
	cctx, cancel := context.WithTimeout(ctx, confirmFor)
	defer cancel()
	known := waitUntil(cctx, 100*time.Millisecond, func() bool {
		var b json.RawMessage
		return t.honestCall(cctx, &b, "eth_getBlockByHash", hash, false) == nil && string(b) != "null" && len(b) > 0
	})
	if !known && ctx.Err() == nil {
		t.wrong("%s: block %d hash %s unknown to the honest node", what, n, hash.Hex())
	}
}

// batchRead: one batch of pinned reads, each compared.
func (t *Traffic) batchRead(ctx context.Context, i int) {
	n, ok := t.pin()
	if !ok {
		return
	}
	a := t.account(i)
	var id, bal, blk json.RawMessage
	elems := []rpc.BatchElem{
		{Method: "eth_chainId", Result: &id},
		{Method: "eth_getBalance", Args: []any{a, hexutil.Uint64(n)}, Result: &bal},
		{Method: "eth_getBlockByNumber", Args: []any{hexutil.Uint64(n), false}, Result: &blk},
	}
	if !t.batch(ctx, "batch", elems) {
		return
	}
	got := []json.RawMessage{id, bal, blk}
	for k, e := range elems {
		t.compare(ctx, got[k], "batch "+e.Method, e.Method, e.Args...)
	}
}

// clip shortens an answer for a sample.
func clip(b []byte) string {
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
