package verification

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/params"

	"github.com/rpcmesh/rpcmesh/internal/testwait"
	"github.com/rpcmesh/rpcmesh/internal/verify"
)

// preMergeNode starts a go-ethereum node serving a proof-of-work chain
// whose blocks have uncles and transactions, and returns its URL and blocks.
func preMergeNode(t *testing.T) (string, []*types.Block) {
	t.Helper()
	cfg := params.AllEthashProtocolChanges // proof of work, the merge never reached
	key, _ := crypto.HexToECDSA("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	from := crypto.PubkeyToAddress(key.PublicKey)
	genesis := &core.Genesis{Config: cfg, GasLimit: 30_000_000, Difficulty: big.NewInt(131072), BaseFee: big.NewInt(params.InitialBaseFee),
		Alloc: types.GenesisAlloc{from: {Balance: big.NewInt(params.Ether)}}}
	engine := beacon.New(ethash.NewFaker())
	// An uncle: a sibling of block 2 (a child of block 1), mined by another.
	sibling := func(parent *types.Block, coinbase byte) *types.Header {
		return &types.Header{ParentHash: parent.Hash(), Number: new(big.Int).Add(parent.Number(), common.Big1), Coinbase: common.Address{coinbase},
			Root: parent.Root(), UncleHash: types.EmptyUncleHash, TxHash: types.EmptyTxsHash, ReceiptHash: types.EmptyReceiptsHash, Extra: []byte("uncle")}
	}
	signer := types.LatestSigner(cfg)
	to := common.Address{0xb0, 0xb}
	_, blocks, _ := core.GenerateChainWithGenesis(genesis, engine, 4, func(i int, g *core.BlockGen) {
		g.SetCoinbase(common.Address{0xfe, 0xe1})
		tx, err := types.SignNewTx(key, signer, &types.DynamicFeeTx{ChainID: cfg.ChainID, Nonce: g.TxNonce(from),
			GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(100 * params.GWei), Gas: 21_000, To: &to, Value: big.NewInt(1)})
		if err != nil {
			t.Fatal(err)
		}
		g.AddTx(tx)
		if i == 2 { // block 3: two uncles
			g.AddUncle(sibling(g.PrevBlock(0), 0x11))
			g.AddUncle(sibling(g.PrevBlock(0), 0x22))
		}
	})
	return serveChain(t, genesis, blocks), blocks
}

// serveChain starts a go-ethereum node with genesis that imported blocks,
// and returns its URL.
func serveChain(t *testing.T, genesis *core.Genesis, blocks []*types.Block) string {
	t.Helper()
	stack, err := node.New(&node.Config{HTTPHost: "127.0.0.1", HTTPModules: []string{"eth"}, HTTPVirtualHosts: []string{"*"},
		P2P: p2p.Config{ListenAddr: "127.0.0.1:0", NoDiscovery: true, MaxPeers: 0}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stack.Close() })
	ecfg := ethconfig.Defaults
	ecfg.Genesis, ecfg.NetworkId, ecfg.SyncMode = genesis, genesis.Config.ChainID.Uint64(), ethconfig.FullSync
	backend, err := eth.New(stack, &ecfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := stack.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.BlockChain().InsertChain(blocks); err != nil {
		t.Fatalf("import: %v", err)
	}
	return stack.HTTPEndpoint()
}

// oneNode is an Asker over one node.
type oneNode struct{ c *rpcCaller }

func (o oneNode) answer(ctx context.Context, req Request) Answer {
	v, err := o.c.call(ctx, req.Method, req.Params)
	return Answer{Provider: "node", Operator: "op", Value: v, Err: err}
}

func (o oneNode) Ask(ctx context.Context, req Request, avoid map[string]bool) Answer {
	if avoid["node"] {
		return Answer{Err: ErrNoProvider}
	}
	return o.answer(ctx, req)
}

func (o oneNode) AskProvider(ctx context.Context, _ string, req Request) Answer {
	return o.answer(ctx, req)
}

func (o oneNode) AskDistinct(ctx context.Context, req Request, k int, skip Skip) []Answer {
	if k < 1 || skip.Providers["node"] || skip.Operators["op"] {
		return nil
	}
	return []Answer{o.answer(ctx, req)}
}

func (oneNode) Penalise(string, string) {}

// TestPreMergeUncles: blocks with uncles are verified (the uncle headers
// fetched, each checked by its hash, together against sha3Uncles) and
// answered byte for byte as go-ethereum answers them.
func TestPreMergeUncles(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a go-ethereum node")
	}
	url, blocks := preMergeNode(t)
	ctx := testwait.Context(t, time.Minute)
	direct := dialCaller(t, url)
	headers := make([]*types.Header, len(blocks))
	for i, b := range blocks {
		headers[i] = b.Header()
	}
	top := blocks[len(blocks)-1].NumberU64()
	v := New(nil, Options{Asker: oneNode{direct}, Trust: verify.NewStaticTrust(headers...), ChainConfig: params.AllEthashProtocolChanges,
		Latest: func() (uint64, bool) { return top, true }})
	withUncles := 0
	for _, b := range blocks {
		if len(b.Uncles()) > 0 {
			withUncles++
		}
		num := hexutil.EncodeUint64(b.NumberU64())
		for _, r := range []request{
			{"eth_getBlockByNumber", verify.Params(num, false)},
			{"eth_getBlockByNumber", verify.Params(num, true)},
			{"eth_getBlockByHash", verify.Params(b.Hash(), false)},
			{"eth_getBlockReceipts", verify.Params(num)},
		} {
			got, err := handle(ctx, v, newCall(r.method, r.params))
			want, werr := direct.call(ctx, r.method, r.params)
			if err != nil || werr != nil || string(got) != string(want) {
				t.Errorf("%s %s (%d uncles):\n got  %.300s %v\n node %.300s %v", r.method, r.params, len(b.Uncles()), got, err, want, werr)
			}
		}
	}
	if withUncles == 0 {
		t.Fatal("the chain has no uncles: nothing was tested")
	}
}
