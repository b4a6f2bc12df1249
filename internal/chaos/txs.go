package chaos

import (
	"context"
	"encoding/json"
	"maps"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/rpcmesh/rpcmesh/internal/pause"
)

// mineWithin is how many block times a sent transaction may take to be
// mined before it counts as a failure.
const mineWithin = 20

// maxRedials bounds how often the subscription is re-established in one run.
const maxRedials = 100

// sink receives the chaos sender's transfers.
var sink = common.HexToAddress("0x00000000000000000000000000000000000c4a05")

// send is the sending client: one signed transfer at a time, through the
// gateway, then its receipt through the gateway, checked against the
// honest node.
func (t *Traffic) send(ctx context.Context) {
	from := crypto.PubkeyToAddress(t.sender.PublicKey)
	chainID := new(big.Int).SetUint64(t.env.Devnet.Info().ChainID)
	signer := types.LatestSignerForChainID(chainID)
	for range maxRounds {
		if ctx.Err() != nil {
			return
		}
		var nonce hexutil.Uint64
		if err := t.honestCall(ctx, &nonce, "eth_getTransactionCount", from, "pending"); err != nil {
			if !pause.For(ctx, t.env.BlockTime) {
				return
			}
			continue
		}
		tx, err := types.SignTx(types.NewTx(&types.DynamicFeeTx{
			ChainID: chainID, Nonce: uint64(nonce), GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(50e9),
			Gas: 21_000, To: &sink, Value: big.NewInt(1),
		}), signer, t.sender)
		if err != nil {
			t.fail("sign a transaction: %v", err)
			return
		}
		raw, _ := tx.MarshalBinary()
		var hash common.Hash
		if t.call(ctx, &hash, "eth_sendRawTransaction", "eth_sendRawTransaction", hexutil.Bytes(raw)) {
			t.count(func(s *Tally) { s.TxSent++ })
			if hash != tx.Hash() {
				t.wrong("eth_sendRawTransaction: hash %s, the transaction's is %s", hash.Hex(), tx.Hash().Hex())
			}
			t.awaitReceipt(ctx, tx.Hash())
		}
		if !pause.For(ctx, t.env.BlockTime/2) {
			return
		}
	}
}

// awaitReceipt polls the gateway for tx's receipt (bounded by mineWithin
// block times), and checks what it says against the honest node.
func (t *Traffic) awaitReceipt(ctx context.Context, tx common.Hash) {
	cctx, cancel := context.WithTimeout(ctx, mineWithin*t.env.BlockTime)
	defer cancel()
	var got json.RawMessage
	mined := waitUntil(cctx, t.env.BlockTime/2, func() bool {
		got = nil
		return t.call(cctx, &got, "eth_getTransactionReceipt", "eth_getTransactionReceipt", tx) && string(got) != "null" && len(got) > 0
	})
	if ctx.Err() != nil {
		return
	}
	if !mined {
		t.fail("transaction %s not mined within %d blocks", tx.Hex(), mineWithin)
		return
	}
	t.count(func(s *Tally) { s.TxMined++ })
	t.checkReceipt(ctx, tx, got)
	t.noteBroadcast(ctx, tx)
}

// noteBroadcast asks the gateway where it broadcast tx
// (rpcmesh_transactionStatus; not counted as client traffic) and counts
// the provider it was sent to first and every one it was sent to.
func (t *Traffic) noteBroadcast(ctx context.Context, tx common.Hash) {
	cctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	var st struct {
		Sends []struct {
			Provider string    `json:"provider"`
			At       time.Time `json:"at"`
		} `json:"sends"`
	}
	if err := t.gw.CallContext(cctx, &st, "rpcmesh_transactionStatus", tx); err != nil || len(st.Sends) == 0 {
		return
	}
	first := st.Sends[0]
	t.mu.Lock()
	defer t.mu.Unlock()
	b := &t.bc
	if b.First == nil {
		b.First, b.Any = map[string]uint64{}, map[string]uint64{}
	}
	b.Sent++
	for _, s := range st.Sends {
		b.Any[s.Provider]++
		if s.At.Before(first.At) {
			first = s
		}
	}
	b.First[first.Provider]++
}

// Broadcasts is where the transactions mined so far were broadcast.
func (t *Traffic) Broadcasts() Broadcasts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return Broadcasts{Sent: t.bc.Sent, First: maps.Clone(t.bc.First), Any: maps.Clone(t.bc.Any)}
}

// receiptFacts are the receipt fields that do not change when a reorg
// moves a transaction to another block.
type receiptFacts struct {
	TxHash  common.Hash    `json:"transactionHash"`
	Status  hexutil.Uint64 `json:"status"`
	GasUsed hexutil.Uint64 `json:"gasUsed"`
	From    common.Address `json:"from"`
	To      common.Address `json:"to"`
}

func (t *Traffic) checkReceipt(ctx context.Context, tx common.Hash, got json.RawMessage) {
	var g, w receiptFacts
	if err := json.Unmarshal(got, &g); err != nil {
		t.wrong("receipt of %s: %v", tx.Hex(), err)
		return
	}
	cctx, cancel := context.WithTimeout(ctx, confirmFor)
	defer cancel()
	var want json.RawMessage
	found := waitUntil(cctx, 100*time.Millisecond, func() bool {
		want = nil
		return t.honestCall(cctx, &want, "eth_getTransactionReceipt", tx) == nil && string(want) != "null" && len(want) > 0
	})
	if ctx.Err() != nil {
		return
	}
	if !found {
		t.wrong("receipt of %s: the honest node has no such transaction mined", tx.Hex())
		return
	}
	if json.Unmarshal(want, &w) != nil || g != w {
		t.wrong("receipt of %s: gateway %s, honest node %s", tx.Hex(), clip(got), clip(want))
	}
}

// heads holds one newHeads subscription through the gateway's WebSocket
// and checks every head: a block the honest node knows, not ahead of the
// chain. A subscription that ends is a failure; it is made again.
func (t *Traffic) heads(ctx context.Context) {
	for range maxRedials {
		t.subscribe(ctx)
		if !pause.For(ctx, t.env.BlockTime) {
			return
		}
	}
}

func (t *Traffic) subscribe(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	c, err := rpc.DialContext(dctx, t.opts.WS)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			t.fail("newHeads: dial: %v", err)
		}
		return
	}
	defer c.Close()
	ch := make(chan json.RawMessage, 64)
	sctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	sub, err := c.EthSubscribe(sctx, ch, "newHeads")
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			t.fail("newHeads: subscribe: %v", err)
		}
		return
	}
	// No Unsubscribe: closing the client (deferred above) ends the
	// subscription without a round trip a faulty node may never answer.
	for range maxRounds {
		select {
		case <-ctx.Done():
			return
		case err := <-sub.Err():
			if ctx.Err() == nil {
				t.fail("newHeads: subscription ended: %v", err)
			}
			return
		case raw := <-ch:
			var h struct {
				Number hexutil.Uint64 `json:"number"`
				Hash   common.Hash    `json:"hash"`
			}
			if err := json.Unmarshal(raw, &h); err != nil {
				t.wrong("newHeads: not a header: %s", clip(raw))
				continue
			}
			t.count(func(s *Tally) { s.Heads++ })
			t.notAhead(uint64(h.Number), "newHeads")
			t.knownBlock(ctx, h.Hash, uint64(h.Number), "newHeads")
		}
	}
}
