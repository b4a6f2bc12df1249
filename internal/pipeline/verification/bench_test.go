package verification

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/holiman/uint256"

	"github.com/rpcmesh/rpcmesh/internal/pipeline"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// BenchmarkBalance compares a proven eth_getBalance through the stage (one
// eth_getProof, verified against a cached trusted header) with the same
// call forwarded unverified, both against a real devnet node on loopback.
func BenchmarkBalance(b *testing.B) {
	d, act := sharedDevnet(b)
	h := newHarness(b, d)
	h.v.o.CheckPlain = false
	// The gateway's anchor is the tracker's in-memory agreed head: fix it
	// here instead of asking the direct node on every call.
	n, hash, ok := directAnchor(directCaller(b, d))()
	if !ok {
		b.Fatal("no anchor")
	}
	h.v.o.Trust = verify.NewLinkedTrust(func() (uint64, common.Hash, bool) { return n, hash, true }, HeaderFetcher(h.asker, 3, nil), 1024, 4096)
	h.asker.first = []string{"node3"}
	params := verify.Params(act.Payer, hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1]))
	ctx := context.Background()
	if _, err := handle(ctx, h.v, newCall("eth_getBalance", params)); err != nil { // warm the header cache
		b.Fatal(err)
	}
	b.Run("proven", func(b *testing.B) {
		for b.Loop() {
			if _, err := handle(ctx, h.v, newCall("eth_getBalance", params)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("eth_getProof only", func(b *testing.B) {
		pp := verify.Params(act.Payer, []string{}, hexutil.EncodeUint64(act.Blocks[len(act.Blocks)-1]))
		for b.Loop() {
			if a := h.asker.Ask(ctx, Request{Method: "eth_getProof", Params: pp}, nil); a.Err != nil {
				b.Fatal(a.Err)
			}
		}
	})
	b.Run("unverified", func(b *testing.B) {
		for b.Loop() {
			if a := h.asker.Ask(ctx, Request{Method: "eth_getBalance", Params: params}, nil); a.Err != nil {
				b.Fatal(a.Err)
			}
		}
	})
}

// provenState is a state trie of n accounts, its header, and each
// account's eth_getProof answer as go-ethereum gives it.
func provenState(b *testing.B, n int) (*types.Header, []common.Address, map[common.Address]json.RawMessage) {
	tr := trie.NewEmpty(triedb.NewDatabase(rawdb.NewMemoryDatabase(), nil))
	addrs := make([]common.Address, n)
	for i := range addrs {
		addrs[i] = common.BigToAddress(big.NewInt(int64(1000 + i)))
		acct, _ := rlp.EncodeToBytes(&types.StateAccount{Nonce: uint64(i), Balance: uint256.NewInt(uint64(500 + i)), Root: types.EmptyRootHash, CodeHash: types.EmptyCodeHash.Bytes()})
		if err := tr.Update(crypto.Keccak256(addrs[i].Bytes()), acct); err != nil {
			b.Fatal(err)
		}
	}
	h := &types.Header{Number: big.NewInt(16), Root: tr.Hash(), Difficulty: big.NewInt(0)}
	answers := map[common.Address]json.RawMessage{}
	for i, a := range addrs {
		nodes := memorydb.New()
		if err := tr.Prove(crypto.Keccak256(a.Bytes()), nodes); err != nil {
			b.Fatal(err)
		}
		var proof []string
		it := nodes.NewIterator(nil, nil)
		for it.Next() {
			proof = append(proof, hexutil.Encode(it.Value()))
		}
		it.Release()
		answers[a], _ = json.Marshal(map[string]any{"address": a, "accountProof": proof, "balance": hexutil.EncodeUint64(uint64(500 + i)),
			"nonce": hexutil.EncodeUint64(uint64(i)), "codeHash": types.EmptyCodeHash, "storageHash": types.EmptyRootHash, "storageProof": []any{}})
	}
	return h, addrs, answers
}

// proofAsker answers eth_getProof from canned answers, with no network.
type proofAsker struct {
	askFunc
	answers map[common.Address]json.RawMessage
}

func (p proofAsker) Ask(_ context.Context, req Request, _ map[string]bool) Answer {
	var ps []json.RawMessage
	var a common.Address
	if json.Unmarshal(req.Params, &ps) != nil || json.Unmarshal(ps[0], &a) != nil {
		return Answer{Err: errors.New("bad params")}
	}
	return Answer{Provider: "p", Operator: "op", Value: p.answers[a]}
}

func (p proofAsker) AskBatch(ctx context.Context, reqs []Request, out []Answer) {
	for i, r := range reqs {
		out[i] = p.Ask(ctx, r, nil)
	}
}

// BenchmarkProvenReads is the stage's own CPU per proven eth_getBalance
// (the answer decoded, the proof checked against a trusted header), with
// canned answers: one call at a time (a wave of one), and waves of
// ten, per call.
func BenchmarkProvenReads(b *testing.B) {
	h, addrs, answers := provenState(b, 64)
	asker := proofAsker{answers: answers}
	v := New(batchNext{asker}, Options{Asker: asker, Trust: verify.NewStaticTrust(h)})
	call := func(i int) *pipeline.Call {
		return newCall("eth_getBalance", verify.Params(addrs[i%len(addrs)], "0x10"))
	}
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		defer cpuPerCall(b, 1)()
		i := 0
		for b.Loop() {
			if _, err := pipeline.Do(ctx, v, call(i)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("wave of 10, per call", func(b *testing.B) {
		calls := make([]*pipeline.Call, 10)
		defer cpuPerCall(b, 10)()
		i := 0
		for b.Loop() {
			for k := range calls {
				calls[k] = call(i + k)
			}
			v.Handle(ctx, calls)
			for _, c := range calls {
				if c.Err != nil {
					b.Fatal(c.Err)
				}
			}
			i += 10
		}
	})
}

// cpuPerCall reports the process's CPU time (user and system) per call
// when the returned func runs, calls calls an op: on a shared machine,
// wall time per op measures the neighbours as much as the code.
func cpuPerCall(b *testing.B, calls int) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N*calls), "cpu-ns/call")
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
