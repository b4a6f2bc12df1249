package verification

import (
	"context"
	"encoding/json"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// switchable is a TrustSource and an Asker whose trusted chain and node a
// test switches, as a reorg switches the agreed chain.
type switchable struct {
	mu    sync.Mutex
	trust verify.TrustSource
	node  oneNode
}

func (s *switchable) set(trust verify.TrustSource, node oneNode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trust, s.node = trust, node
}

func (s *switchable) current() (verify.TrustSource, oneNode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trust, s.node
}

func (s *switchable) HeaderByNumber(ctx context.Context, n uint64) (*types.Header, error) {
	t, _ := s.current()
	return t.HeaderByNumber(ctx, n)
}

func (s *switchable) HeaderByHash(ctx context.Context, hash common.Hash) (*types.Header, error) {
	t, _ := s.current()
	return t.HeaderByHash(ctx, hash)
}

func (s *switchable) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	_, n := s.current()
	return n.Ask(ctx, req, avoid)
}

func (s *switchable) AskProvider(ctx context.Context, name string, req Request) Answer {
	_, n := s.current()
	return n.AskProvider(ctx, name, req)
}

func (s *switchable) AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer {
	_, n := s.current()
	return n.AskDistinct(ctx, req, k, skip)
}

func (s *switchable) Penalise(string, string) {}

// forkedNodes starts two go-ethereum nodes on two chains from one genesis
// that both include one transaction in block 2, in different blocks (other
// coinbases, so other hashes), and returns their URLs, blocks and the
// transaction.
func forkedNodes(t *testing.T) (urls [2]string, forks [2][]*types.Block, tx common.Hash) {
	t.Helper()
	cfg := params.AllEthashProtocolChanges
	key, _ := crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	from := crypto.PubkeyToAddress(key.PublicKey)
	genesis := &core.Genesis{Config: cfg, GasLimit: 30_000_000, Difficulty: big.NewInt(131072), BaseFee: big.NewInt(params.InitialBaseFee),
		Alloc: types.GenesisAlloc{from: {Balance: big.NewInt(params.Ether)}}}
	to := common.Address{0xb0, 0xb}
	signed, err := types.SignNewTx(key, types.LatestSigner(cfg), &types.DynamicFeeTx{ChainID: cfg.ChainID, Nonce: 0,
		GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(1)})
	if err != nil {
		t.Fatal(err)
	}
	for i, coinbase := range []byte{0xaa, 0xbb} {
		_, blocks, _ := core.GenerateChainWithGenesis(genesis, beacon.New(ethash.NewFaker()), 3, func(n int, g *core.BlockGen) {
			g.SetCoinbase(common.Address{coinbase})
			if n == 1 {
				g.AddTx(signed)
			}
		})
		forks[i] = blocks
		urls[i] = serveChain(t, genesis, blocks)
	}
	if forks[0][1].Hash() == forks[1][1].Hash() {
		t.Fatal("the forks' blocks 2 are the same block")
	}
	return urls, forks, signed.Hash()
}

// TestReorgNeverAnsweredFromKept: blocks and receipts are kept by block
// hash, and looked up from the trusted header at the height. After a reorg
// (another block 2 holds the transaction) the new block's answers are
// given, fetched anew, never the kept old block's; a provider still on the
// old branch is not believed because the old block is kept.
func TestReorgNeverAnsweredFromKept(t *testing.T) {
	if testing.Short() {
		t.Skip("starts go-ethereum nodes")
	}
	urls, forks, tx := forkedNodes(t)
	ctx := testwait.Context(t, time.Minute)
	var nodes [2]oneNode
	var trusts [2]verify.TrustSource
	for i := range nodes {
		nodes[i] = oneNode{dialCaller(t, urls[i])}
		hs := make([]*types.Header, len(forks[i]))
		for j, b := range forks[i] {
			hs[j] = b.Header()
		}
		trusts[i] = verify.NewStaticTrust(hs...)
	}
	sw := &switchable{}
	counter := newMethodCounter(sw)
	o := Options{Asker: counter, Trust: sw, ChainConfig: params.AllEthashProtocolChanges, Latest: func() (uint64, bool) { return 3, true }}
	fullBlockCacheOptions(&o, 128, 256<<20)
	v := New(nil, o)
	num := hexutil.EncodeUint64(2)
	reqs := []request{
		{"eth_getTransactionReceipt", verify.Params(tx)},
		{"eth_getTransactionByHash", verify.Params(tx)},
		{"eth_getBlockByNumber", verify.Params(num, true)},
		{"eth_getBlockReceipts", verify.Params(num)},
	}
	answers := func(node oneNode) []json.RawMessage {
		out := make([]json.RawMessage, len(reqs))
		for i, r := range reqs {
			var err error
			if out[i], err = node.c.call(ctx, r.method, r.params); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	fork := [2][]json.RawMessage{answers(nodes[0]), answers(nodes[1])}

	for step, s := range []struct {
		name        string
		trust, node int
		full        int // full blocks fetched upstream by the end of the step
	}{
		{"before the reorg", 0, 0, 1},
		{"again: kept", 0, 0, 1},
		{"after the reorg", 1, 1, 2},
		{"after the reorg, a provider on the old branch", 1, 0, 2},
	} {
		sw.set(trusts[s.trust], nodes[s.node])
		for i, r := range reqs {
			got, err := handle(ctx, v, newCall(r.method, r.params))
			if string(got) == string(fork[1-s.trust][i]) {
				t.Errorf("step %d (%s): %s answered from the other branch: %.200s", step, s.name, r.method, got)
			}
			if s.trust == s.node && (err != nil || string(got) != string(fork[s.trust][i])) {
				t.Errorf("step %d (%s): %s: %.200s %v, want %.200s", step, s.name, r.method, got, err, fork[s.trust][i])
			}
		}
		if got := counter.get("eth_getBlockByHash/full"); got != s.full {
			t.Errorf("step %d (%s): %d full blocks fetched upstream in all, want %d", step, s.name, got, s.full)
		}
	}
}
